/* op-table.c: which hooks run each op. Plain data, like kura's command table. */
#include "client-private.h"

const struct op_hooks *op_hooks_get(enum op_id op)
{
	switch (op) {
	case OP_CONNECT: return &op_connect_hooks;
	case OP_LOGIN: return &op_login_hooks;
	case OP_CREATE: return &op_create_hooks;
	case OP_FILL: return &op_fill_hooks;
	case OP_SELECT: return &op_select_hooks;
	case OP_SYNC: return &op_sync_hooks;
	case OP_FETCH_FLAGS:
	case OP_FETCH_ENV:
	case OP_FETCH_HEADERS:
	case OP_FETCH_BODY:
	case OP_FETCH_PARTS: return &op_fetch_hooks;
	case OP_STORE: return &op_store_hooks;
	case OP_APPEND: return &op_append_hooks;
	case OP_SEARCH: return &op_search_hooks;
	case OP_EXPUNGE: return &op_expunge_hooks;
	case OP_COPY: return &op_copy_hooks;
	case OP_MOVE: return &op_move_hooks;
	case OP_IDLE: return &op_idle_hooks;
	case OP_LIST: return &op_list_hooks;
	case OP_STATUS: return &op_status_hooks;
	case OP_NOOP: return &op_noop_hooks;
	case OP_LOGOUT: return &op_logout_hooks;
	case OP_LHLO: return &op_lhlo_hooks;
	case OP_DELIVER: return &op_deliver_hooks;
	case OP_QUIT: return &op_quit_hooks;
	case OP_COUNT: break;
	}
	return &op_noop_hooks;
}
