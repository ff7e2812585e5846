/* client-private.h: a simulated client's state, shared by client.c (connection, command
 * bookkeeping, generic response handling) and the op-*.c files (what each operation sends
 * and checks). Nothing outside bench/load's client and ops includes it.
 *
 * How an operation runs: client_op_begin() resets the per-op state and calls the op's start
 * hook, which sends one or more commands (pipelined in one write). Untagged responses first
 * go through the client's generic handling (EXISTS/EXPUNGE/FETCH keep the model, CAPABILITY,
 * UIDVALIDITY, BYE), which then hands them to the op's hooks; tagged responses go to the op's
 * tagged hook, which says whether a NO/BAD was expected. When the last command of the op is
 * answered the finish hook runs; it may send further commands (a second step), otherwise the
 * op ends: its latency and outcome are recorded and the client picks what to do next.
 *
 * Failures inside an op (client_fail) are logged and mark the op failed; a failed op counts
 * once, with the kind of its first failure. A check failure makes the next op a full resync
 * (SELECT + UID FETCH 1:*), so one server mistake is not counted again for every later op.
 *
 * In lmtp mode the same machinery speaks LMTP: replies are framed by smtp-resp.c, the greeting
 * (220) ends the connect op and every later reply goes to the op's smtp hook (op-lmtp.c),
 * which calls client_op_complete() when its transaction is over; no tags, no model. */
#ifndef KURA_LOAD_CLIENT_PRIVATE_H
#define KURA_LOAD_CLIENT_PRIVATE_H

#include <stdbool.h>
#include <stdint.h>

#include "client.h"
#include "imap-resp.h"
#include "model.h"
#include "ops.h"
#include "outq.h"
#include "smtp-resp.h"
#include "stats.h"
#include "transport.h"

struct loop_io;
struct loop_timer;

#define CLIENT_MAX_CMDS 8
#define CLIENT_OP_UIDS 128

struct client_cmd {
	bool active;
	bool want_cont;                  /* waiting for a "+" continuation */
	uint8_t kind;                    /* op-defined */
	uint32_t tag;                    /* sent as "k<tag>" */
	uint32_t count;                  /* op-defined (messages in an APPEND batch) */
	uint64_t start_us;
	const unsigned char *cont_data;  /* synchronizing literal to send on "+" */
	size_t cont_len;
};

/* The FETCH data items of one untagged FETCH response that the ops look at. */
struct fetch_attrs {
	bool has_uid, has_flags, has_size;
	uint32_t uid;
	uint8_t flags;
	uint32_t size;
	const struct imap_val *envelope, *bodystructure, *internaldate;
	/* BODY[...] / BINARY[...] items: the name as the server wrote it, and the value */
	unsigned n_sections;
	struct {
		const char *name;
		const struct imap_val *val;
	} sections[4];
};

enum client_conn {
	CONN_NONE,        /* not connected (maybe waiting to reconnect) */
	CONN_CONNECTING,  /* TCP connect in progress */
	CONN_TLS,         /* TLS handshake in progress */
	CONN_GREETING,    /* waiting for the greeting */
	CONN_ONLINE,
};

/* Per-op scratch state, cleared when an op begins. */
union op_state {
	struct {
		bool full;        /* rebuild the model from UID FETCH 1:* */
		bool no_fetch;    /* only SELECT (idle mode) */
		bool in_select;   /* before SELECT's tagged reply: EXISTS is absolute */
		bool sync_only;   /* OP_SYNC: just the UID FETCH */
	} select;
	struct {
		size_t n;
		uint32_t uids[CLIENT_OP_UIDS];
		uint8_t seen[CLIENT_OP_UIDS];
		unsigned variant;
		unsigned step;
		uint32_t part_size;
		char part[48];
	} fetch;
	struct {
		size_t n;
		uint32_t uids[CLIENT_OP_UIDS];
		uint8_t flag;
		bool add, silent;
	} store;
	struct {
		size_t n;
		uint32_t uids[CLIENT_OP_UIDS];
		uint32_t got[CLIENT_OP_UIDS];   /* COPYUID source set */
		size_t n_got;
		bool copyuid;
	} copy;
	struct {
		uint32_t src;     /* mbox index + 1 */
		size_t len;
		bool seen;
	} append;
	struct {
		uint32_t have, target, sent, acked;
		bool status_done;
		uint32_t next_src;
	} fill;
	struct {
		unsigned variant;
		uint32_t results, expected;
		bool exact;
	} search;
	struct {
		uint64_t cont_us, done_us;
		bool in_idle, done_sent, hold;
	} idle;
	struct {
		bool inbox, archive;
		bool status_seen;
	} list;
	struct {
		bool bye;
	} logout;
	struct {
		unsigned step;
	} login;
	struct {
		uint32_t first;      /* user index (0-based, before user_first) of the 1st rcpt */
		uint32_t src;        /* mbox message */
		unsigned sent;       /* of the k + 2 commands MAIL, RCPT x k, DATA */
		unsigned answered;
		unsigned accepted;   /* RCPTs answered 250 */
		unsigned finals;     /* replies after the final "." */
		bool data_sent, rset;
	} lmtp;
};

struct client {
	struct worker *w;
	unsigned id;                     /* global client number, 0-based */
	char user[64];
	uint64_t rng;

	enum client_conn conn;
	uint32_t conn_gen;               /* bumped on every close: stale callbacks notice */
	struct transport tr;
	struct loop_io *io;
	struct imap_resp_reader rd;
	struct smtp_resp_reader srd;     /* lmtp mode */
	uint32_t lmtp_next_user;         /* lmtp: first recipient of the next transaction */
	struct outq out;
	struct loop_timer *timer;        /* reconnect, think time, IDLE hold */
	unsigned caps;
	bool caps_known;
	uint32_t tag_seq;
	struct client_cmd cmds[CLIENT_MAX_CMDS];

	/* progress through setup */
	bool logged_in, archive_ok, prefilled, selected;
	bool need_full_sync, need_sync;
	bool ready, done, dead, stopping;
	unsigned login_failures;
	unsigned connect_failures;
	unsigned op_failures;             /* failed ops in a row */

	/* the op in progress */
	enum op_id op;
	bool op_active;
	bool op_failed;
	enum stats_err op_err;
	unsigned op_pending;              /* commands of the op not yet answered */
	uint64_t op_start_us;
	uint64_t op_items;
	union op_state st;
	uint32_t expunged[CLIENT_OP_UIDS];  /* UIDs expunged during the op */
	size_t n_expunged;
	bool expunged_overflow;

	/* the selected mailbox */
	struct model box;
	uint32_t uidvalidity, uidnext;
	uint32_t exists;                 /* messages the server has announced */
};

struct op_hooks {
	void (*start)(struct client *c);
	/* an untagged FETCH, after the generic checks, before the model takes its FLAGS */
	void (*fetch)(struct client *c, uint32_t seq, const struct fetch_attrs *a);
	/* any other untagged response, after the generic handling */
	void (*untagged)(struct client *c, const struct imap_resp *r);
	/* a tagged reply (OK too). Return true when a NO/BAD was expected, so it is no error. */
	bool (*tagged)(struct client *c, struct client_cmd *cmd, const struct imap_resp *r);
	/* a continuation for a command that waits for one and has no cont_data */
	void (*cont)(struct client *c, struct client_cmd *cmd, const struct imap_resp *r);
	/* all commands answered; may send more (the op then goes on) */
	void (*finish)(struct client *c);
	/* the worker is stopping (IDLE ends early) */
	void (*stop)(struct client *c);
	/* lmtp mode: a reply (after the greeting); the op calls client_op_complete when done */
	void (*smtp)(struct client *c, const struct smtp_resp *r);
	bool self_recorded;  /* the op records its own samples (fill: one per batch) */
};

const struct op_hooks *op_hooks_get(enum op_id op);

/* --- client.c services for the ops --- */
const struct load_opts *client_opts(const struct client *c);
const struct mbox *client_mbox(const struct client *c);

/* Start a command: writes "k<tag> " and registers it with the op. Then write the rest with
 * client_out*(), and end the line with client_cmd_end() (not for a synchronizing literal:
 * set want_cont/cont_data instead and the CRLF follows the data). */
struct client_cmd *client_cmd_begin(struct client *c, uint8_t kind);
void client_out(struct client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void client_out_ref(struct client *c, const unsigned char *p, size_t n);
void client_cmd_end(struct client *c);
/* begin + formatted text + end */
struct client_cmd *client_cmd(struct client *c, uint8_t kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void client_flush(struct client *c);

/* Record a failure of the current op and log it (up to --errors lines per worker). */
void client_fail(struct client *c, enum stats_err kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Only log a problem (the caller records it itself). */
void client_log_error(struct client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Record one sample for an op outside the generic begin/end (fill batches). */
void client_record(struct client *c, enum op_id op, uint64_t start_us, uint64_t items, bool ok,
		   enum stats_err err);
/* lmtp mode: the op in progress is over (recorded, then the next op starts). */
void client_op_complete(struct client *c);
/* Drop the connection after an error; reconnect later unless stopping. */
void client_drop(struct client *c);
/* Close after a successful LOGOUT. */
void client_logout_done(struct client *c);
/* Wait ms inside the current op; then the op's stop hook is called. */
void client_hold(struct client *c, uint64_t ms);
/* The client reached its steady state (mix: selected and synced; idle: in IDLE). */
void client_set_ready(struct client *c);
/* Messages announced by the server whose UIDs the model knows: the ops pick from these. */
size_t client_visible(const struct client *c);
/* Choose up to max distinct visible messages: a random run of consecutive ones when
 * consecutive, else random ones; ascending. Returns the count (0 when the box is empty). */
size_t client_pick_uids(struct client *c, size_t max, bool consecutive, uint32_t *uids);
/* Format a sorted UID list as a set. */
const char *client_uidset(const uint32_t *uids, size_t n);
/* The op's expunged list holds uid. */
bool client_was_expunged(const struct client *c, uint32_t uid);
/* Quote s as an IMAP quoted string (into a static buffer). */
const char *client_quote(const char *s);

/* op-*.c entry points, one hooks table per op, gathered in op-table.c */
extern const struct op_hooks op_connect_hooks, op_login_hooks, op_logout_hooks, op_noop_hooks;
extern const struct op_hooks op_select_hooks, op_sync_hooks;
extern const struct op_hooks op_fetch_hooks;
extern const struct op_hooks op_store_hooks;
extern const struct op_hooks op_append_hooks, op_fill_hooks;
extern const struct op_hooks op_search_hooks;
extern const struct op_hooks op_expunge_hooks;
extern const struct op_hooks op_copy_hooks, op_move_hooks;
extern const struct op_hooks op_idle_hooks;
extern const struct op_hooks op_list_hooks, op_status_hooks, op_create_hooks;
extern const struct op_hooks op_lhlo_hooks, op_deliver_hooks, op_quit_hooks;

#endif
