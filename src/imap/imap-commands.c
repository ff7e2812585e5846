/* imap-commands.c: the command table. Plain data: which handler runs a command, in which states
 * it is valid. Commands of later stages are listed so they get an honest NO, not "unknown". */
#include <strings.h>

#include "imap-command.h"

#define ANY (IMAP_STATE_NOT_AUTH | IMAP_STATE_AUTH | IMAP_STATE_SELECTED)
#define AUTHED (IMAP_STATE_AUTH | IMAP_STATE_SELECTED)
#define SELECTED IMAP_STATE_SELECTED

static const struct imap_command_def imap_commands[] = {
	{"CAPABILITY", cmd_capability, ANY, 0},
	{"NOOP", cmd_noop, ANY, 0},
	{"LOGOUT", cmd_logout, ANY, 0},
	{"ID", cmd_id, ANY, 0},
	{"STARTTLS", cmd_starttls, IMAP_STATE_NOT_AUTH, 0},
	{"LOGIN", cmd_login, IMAP_STATE_NOT_AUTH, 0},
	{"AUTHENTICATE", cmd_authenticate, IMAP_STATE_NOT_AUTH, 0},
	{"ENABLE", cmd_enable, AUTHED, 0},
	{"SELECT", cmd_select, AUTHED, 0},
	{"EXAMINE", cmd_select, AUTHED, 0},
	{"CREATE", cmd_create, AUTHED, 0},
	{"DELETE", cmd_delete, AUTHED, 0},
	{"RENAME", cmd_rename, AUTHED, 0},
	{"SUBSCRIBE", cmd_subscribe, AUTHED, 0},
	{"UNSUBSCRIBE", cmd_subscribe, AUTHED, 0},
	{"LIST", cmd_list, AUTHED, 0},
	{"LSUB", cmd_list, AUTHED, 0},
	{"NAMESPACE", cmd_namespace, AUTHED, 0},
	{"STATUS", cmd_status, AUTHED, 0},
	{"APPEND", cmd_append, AUTHED, 0},
	{"IDLE", cmd_idle, AUTHED, 0},
	{"CHECK", cmd_check, SELECTED, 0},
	{"CLOSE", cmd_close, SELECTED, 0},
	{"UNSELECT", cmd_close, SELECTED, 0},
	{"EXPUNGE", cmd_expunge, SELECTED, IMAP_CMD_FLAG_UID_OK},
	{"FETCH", cmd_fetch, SELECTED, IMAP_CMD_FLAG_USES_SEQS | IMAP_CMD_FLAG_UID_OK},
	{"STORE", cmd_store, SELECTED, IMAP_CMD_FLAG_USES_SEQS | IMAP_CMD_FLAG_UID_OK},
	{"COPY", cmd_copy, SELECTED, IMAP_CMD_FLAG_USES_SEQS | IMAP_CMD_FLAG_UID_OK},
	{"MOVE", cmd_move, SELECTED, IMAP_CMD_FLAG_USES_SEQS | IMAP_CMD_FLAG_UID_OK},
	{"SEARCH", cmd_search, SELECTED, IMAP_CMD_FLAG_USES_SEQS | IMAP_CMD_FLAG_UID_OK},
	{"SORT", cmd_sort, SELECTED, IMAP_CMD_FLAG_USES_SEQS | IMAP_CMD_FLAG_UID_OK},
	{"THREAD", cmd_thread, SELECTED, IMAP_CMD_FLAG_USES_SEQS | IMAP_CMD_FLAG_UID_OK},
	/* UID's real handler is the command after it (imap-session.c) */
	{"UID", NULL, SELECTED, 0},
};

const struct imap_command_def *imap_command_find(const char *name)
{
	for (size_t i = 0; i < sizeof(imap_commands) / sizeof(imap_commands[0]); i++) {
		if (strcasecmp(imap_commands[i].name, name) == 0)
			return &imap_commands[i];
	}
	return NULL;
}
