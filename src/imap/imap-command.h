/* imap-command.h: what a command handler sees, and the command table (plain data: name,
 * handler, the states it is valid in, flags). One handler per file, cmd-<name>.c. */
#ifndef KURA_IMAP_COMMAND_H
#define KURA_IMAP_COMMAND_H

#include <stdbool.h>
#include <stddef.h>

#include "imap/imap-parser.h"
#include "imap/imap-session.h"
#include "lib/pool.h"

struct imap_cmd {
	struct imap_session *session;
	struct pool *pool; /* cleared after the tagged reply */
	const struct imap_command_def *def;
	const char *tag;
	const char *name;
	const struct imap_arg *args;
	size_t count;
	bool uid;          /* UID FETCH / UID STORE / ...: numbers are UIDs */
	/* A long command (FETCH of many messages or big bodies) writes while the output is below
	 * the high-water mark, stores its position in state and returns 0 with resume set: the
	 * session calls resume again each time the output drains, until it returns 1. */
	int (*resume)(struct imap_cmd *cmd);
	void *state;
	/* Called once when the command ends, however it ends (finished, or dropped because the
	 * session closed while it waited for output): frees what state holds outside the pool
	 * (an open body file). */
	void (*cleanup)(struct imap_cmd *cmd);
};

/* 1: done (the tagged reply was written); 0: the command continues asynchronously and calls
 * imap_cmd_done() when its tagged reply is written. */
typedef int imap_cmd_func(struct imap_cmd *cmd);

#define IMAP_CMD_FLAG_USES_SEQS 0x1 /* uses sequence numbers: no EXPUNGE while it runs */
#define IMAP_CMD_FLAG_UID_OK 0x2    /* may follow "UID" */

struct imap_command_def {
	const char *name;
	imap_cmd_func *func;
	unsigned states; /* enum imap_state bits */
	unsigned flags;
};

/* NULL if the name is not a command kura knows (case-insensitive). */
const struct imap_command_def *imap_command_find(const char *name);

/* Write "tag RESP [CODE] text". code may be NULL. */
void imap_cmd_reply(struct imap_cmd *cmd, const char *resp, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Write "* text". */
void imap_session_untagged(struct imap_session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Finish an asynchronous command (its tagged reply already written) and go on with input. */
void imap_cmd_done(struct imap_session *s);
/* A command that works in slices (SEARCH) returns 0 with resume set after calling this: the
 * session calls resume again at the next turn of the loop, after other connections' events,
 * whether or not its output drained. */
void imap_cmd_yield(struct imap_cmd *cmd);
/* True while the output is small enough to add more (a resumable command checks it before
 * each message). */
bool imap_cmd_output_room(struct imap_cmd *cmd);
/* The connection's output, for commands that stream (FETCH). */
struct conn *imap_cmd_conn(struct imap_cmd *cmd);

/* Handlers, one per file. */
imap_cmd_func cmd_capability, cmd_noop, cmd_logout, cmd_starttls, cmd_login, cmd_authenticate,
	cmd_id, cmd_enable, cmd_select, cmd_create, cmd_delete, cmd_rename, cmd_subscribe,
	cmd_list, cmd_namespace, cmd_status, cmd_append, cmd_check, cmd_close, cmd_expunge,
	cmd_fetch, cmd_store, cmd_copy, cmd_move, cmd_idle, cmd_search, cmd_sort, cmd_thread;

#endif
