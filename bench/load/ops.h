/* ops.h: the operations a simulated client performs, as plain data: their names (used by
 * --mix and in every report), whether they belong to the weighted mix, the capabilities they
 * need and their weights in the two preset mixes.
 *
 * "default" is modelled on what desktop and mobile clients send while a user reads mail:
 * mostly flag and header synchronisation and body/part downloads, some flag changes, a few
 * appends (saving to Sent), deletions, copies/moves, searches, IDLE and the occasional
 * reconnect. "basic" is the same without SEARCH and IDLE, for servers that lack them.
 * Internal operations (connect, login, create, select's initial sync, fill) are not in the mix
 * but are measured like the others. */
#ifndef KURA_LOAD_OPS_H
#define KURA_LOAD_OPS_H

#include <stdbool.h>

enum op_id {
	OP_CONNECT,      /* TCP connect (+ TLS handshake, STARTTLS) until the greeting */
	OP_LOGIN,        /* LOGIN (+ CAPABILITY when the OK carried none) */
	OP_CREATE,       /* CREATE of the COPY/MOVE target (an existing one is fine) */
	OP_FILL,         /* APPEND batches that fill a mailbox (MULTIAPPEND when offered) */
	OP_SELECT,       /* SELECT INBOX, pipelined with the UID FETCH that syncs the model */
	OP_SYNC,         /* UID FETCH of messages announced by EXISTS but not yet known */
	OP_FETCH_FLAGS,
	OP_FETCH_ENV,
	OP_FETCH_HEADERS,
	OP_FETCH_BODY,
	OP_FETCH_PARTS,
	OP_STORE,
	OP_APPEND,
	OP_SEARCH,
	OP_EXPUNGE,
	OP_COPY,
	OP_MOVE,
	OP_IDLE,
	OP_LIST,
	OP_STATUS,
	OP_NOOP,
	OP_LOGOUT,
	OP_LHLO,         /* lmtp mode: LHLO after the greeting (learns PIPELINING etc.) */
	OP_DELIVER,      /* lmtp mode: one transaction: MAIL, RCPT x --rcpts, DATA, message, a
			  * reply per accepted recipient; items = recipients answered 250 */
	OP_QUIT,         /* lmtp mode: QUIT, 221 */
	OP_COUNT
};

/* Server capabilities the generator cares about (bits). */
#define CAP_IMAP4REV2 0x0001u
#define CAP_IDLE 0x0002u
#define CAP_MOVE 0x0004u
#define CAP_UIDPLUS 0x0008u
#define CAP_LITERALPLUS 0x0010u
#define CAP_MULTIAPPEND 0x0020u
#define CAP_STARTTLS 0x0040u
#define CAP_LOGINDISABLED 0x0080u
#define CAP_ESEARCH 0x0100u
#define CAP_CONDSTORE 0x0200u
/* LMTP service extensions from the LHLO reply (lmtp mode) */
#define CAP_LMTP_PIPELINING 0x1000u
#define CAP_LMTP_8BITMIME 0x2000u
#define CAP_LMTP_ENHANCEDSTATUSCODES 0x4000u
#define CAP_LMTP_SIZE 0x8000u
#define CAP_LMTP_CHUNKING 0x10000u
#define CAP_LMTP_FIRST CAP_LMTP_PIPELINING
#define CAP_LMTP_LAST CAP_LMTP_CHUNKING

enum op_mix_preset { OP_MIX_DEFAULT, OP_MIX_BASIC };

const char *op_name(enum op_id op);
/* The op called name, or -1. */
int op_lookup(const char *name);
bool op_in_mix(enum op_id op);
/* Capabilities the op needs (CAP_* bits); without them it is skipped and reported. */
unsigned op_required_caps(enum op_id op);
unsigned op_preset_weight(enum op_mix_preset preset, enum op_id op);
/* Names of the capability bits, for reports: "IDLE" etc. */
const char *op_cap_name(unsigned cap_bit);

#endif
