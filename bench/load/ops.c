/* ops.c: the table of operations (names, mix membership, needed capabilities, preset
 * weights). Plain data; the code of each op is in op-*.c and its hooks in op-table.c. */
#include "ops.h"

#include <stddef.h>
#include <string.h>

struct op_info {
	const char *name;
	bool in_mix;
	unsigned caps;
	unsigned weight_default;
	unsigned weight_basic;
};

/* Weights add up to 100 in each preset. APPEND (6) balances EXPUNGE (4) + MOVE (2), which
 * remove one message each, so mailboxes keep their size on average. */
static const struct op_info op_infos[OP_COUNT] = {
	[OP_CONNECT] = {"connect", false, 0, 0, 0},
	[OP_LOGIN] = {"login", false, 0, 0, 0},
	[OP_CREATE] = {"create", false, 0, 0, 0},
	[OP_FILL] = {"fill", false, 0, 0, 0},
	[OP_SELECT] = {"select", true, 0, 4, 4},
	[OP_SYNC] = {"sync", false, 0, 0, 0},
	[OP_FETCH_FLAGS] = {"fetch-flags", true, 0, 16, 18},
	[OP_FETCH_ENV] = {"fetch-env", true, 0, 10, 11},
	[OP_FETCH_HEADERS] = {"fetch-headers", true, 0, 8, 9},
	[OP_FETCH_BODY] = {"fetch-body", true, 0, 14, 15},
	[OP_FETCH_PARTS] = {"fetch-parts", true, 0, 8, 9},
	[OP_STORE] = {"store", true, 0, 12, 13},
	[OP_APPEND] = {"append", true, 0, 6, 6},
	[OP_SEARCH] = {"search", true, 0, 6, 0},
	[OP_EXPUNGE] = {"expunge", true, 0, 4, 4},
	[OP_COPY] = {"copy", true, 0, 2, 2},
	[OP_MOVE] = {"move", true, CAP_MOVE, 2, 2},
	[OP_IDLE] = {"idle", true, CAP_IDLE, 2, 0},
	[OP_LIST] = {"list", true, 0, 1, 1},
	[OP_STATUS] = {"status", true, 0, 3, 3},
	[OP_NOOP] = {"noop", true, 0, 1, 2},
	[OP_LOGOUT] = {"logout", true, 0, 1, 1},
	[OP_LHLO] = {"lhlo", false, 0, 0, 0},
	[OP_DELIVER] = {"deliver", false, 0, 0, 0},
	[OP_QUIT] = {"quit", false, 0, 0, 0},
};

const char *op_name(enum op_id op)
{
	return (unsigned)op < OP_COUNT ? op_infos[op].name : "?";
}

int op_lookup(const char *name)
{
	for (int op = 0; op < OP_COUNT; op++) {
		if (strcmp(op_infos[op].name, name) == 0)
			return op;
	}
	return -1;
}

bool op_in_mix(enum op_id op)
{
	return (unsigned)op < OP_COUNT && op_infos[op].in_mix;
}

unsigned op_required_caps(enum op_id op)
{
	return (unsigned)op < OP_COUNT ? op_infos[op].caps : 0;
}

unsigned op_preset_weight(enum op_mix_preset preset, enum op_id op)
{
	if ((unsigned)op >= OP_COUNT)
		return 0;
	return preset == OP_MIX_BASIC ? op_infos[op].weight_basic : op_infos[op].weight_default;
}

const char *op_cap_name(unsigned cap_bit)
{
	switch (cap_bit) {
	case CAP_IMAP4REV2: return "IMAP4rev2";
	case CAP_IDLE: return "IDLE";
	case CAP_MOVE: return "MOVE";
	case CAP_UIDPLUS: return "UIDPLUS";
	case CAP_LITERALPLUS: return "LITERAL+";
	case CAP_MULTIAPPEND: return "MULTIAPPEND";
	case CAP_STARTTLS: return "STARTTLS";
	case CAP_LOGINDISABLED: return "LOGINDISABLED";
	case CAP_ESEARCH: return "ESEARCH";
	case CAP_CONDSTORE: return "CONDSTORE";
	case CAP_LMTP_PIPELINING: return "PIPELINING";
	case CAP_LMTP_8BITMIME: return "8BITMIME";
	case CAP_LMTP_ENHANCEDSTATUSCODES: return "ENHANCEDSTATUSCODES";
	case CAP_LMTP_SIZE: return "SIZE";
	case CAP_LMTP_CHUNKING: return "CHUNKING";
	default: return "?";
	}
}
