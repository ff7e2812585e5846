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
	const char *tag;
	const char *name;
	const struct imap_arg *args;
	size_t count;
};

/* 1: done (the tagged reply was written); 0: the command continues asynchronously and calls
 * imap_cmd_done() when its tagged reply is written. */
typedef int imap_cmd_func(struct imap_cmd *cmd);

#define IMAP_CMD_FLAG_USES_SEQS 0x1 /* uses sequence numbers: no EXPUNGE while it runs */

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

/* Handlers, one per file. */
imap_cmd_func cmd_capability, cmd_noop, cmd_logout, cmd_starttls, cmd_login, cmd_authenticate,
	cmd_id, cmd_enable, cmd_not_available;

#endif
