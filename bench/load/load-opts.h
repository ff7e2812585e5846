/* load-opts.h: kura-load's command line. All options are parsed and checked before anything
 * starts; the result is plain data shared (copied by fork) by the workers. */
#ifndef KURA_LOAD_LOAD_OPTS_H
#define KURA_LOAD_LOAD_OPTS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "ops.h"

enum load_mode {
	LOAD_MODE_MIX,   /* N clients run the weighted mix for --duration */
	LOAD_MODE_IDLE,  /* N clients SELECT and sit in IDLE; server memory before/after */
	LOAD_MODE_FILL,  /* each client fills its INBOX to --fill messages */
	/* N LMTP sessions (RFC 2033), each LHLO once, then transactions back to back: MAIL FROM,
	 * --rcpts RCPT TO of bench users, DATA, an mbox message, one reply per accepted
	 * recipient; every reply is checked (anything but the expected code is an error). */
	LOAD_MODE_LMTP,
};

#define LOAD_MAX_SOURCES 256
#define LOAD_MAX_PROCS 64

struct load_opts {
	enum load_mode mode;
	const char *host;
	unsigned port;
	struct sockaddr_storage addr;
	socklen_t addr_len;
	bool tls, starttls;

	unsigned clients, procs;
	unsigned users, user_first;
	const char *user_prefix, *password;
	bool shared;                     /* several clients per user: checks that need an
					  * exclusive mailbox are relaxed */
	struct sockaddr_storage src[LOAD_MAX_SOURCES];
	socklen_t src_len[LOAD_MAX_SOURCES];
	unsigned src_count;

	double duration;                 /* seconds of the measured phase; 0 = until done (fill) */
	unsigned think_ms;               /* pause between a client's operations */
	unsigned timeout_s;              /* a command without answer for this long is an error */
	unsigned setup_timeout_s;
	unsigned idle_ms;                /* how long the idle op stays in IDLE */
	unsigned connect_rate;           /* new connections per second, all workers together */

	unsigned weights[OP_COUNT];
	const char *mix_spec;

	unsigned prefill;                /* mix: fill each INBOX to this many messages first */
	unsigned fill;                   /* fill mode: messages per INBOX */
	unsigned fill_batch, fill_window;
	const char *mailbox, *archive;

	unsigned rcpts;                  /* lmtp: recipients per transaction */
	const char *rcpt_domain;         /* lmtp: RCPT TO:<PREFIXn@rcpt_domain> ("": no domain) */
	const char *sender;              /* lmtp: MAIL FROM */
	bool lmtp_pipelining;            /* lmtp: pipeline when PIPELINING is offered */

	const char *mbox_path;
	uint64_t seed;

	int server_pid;                  /* memory of this process tree is reported */
	unsigned settle_s;

	const char *json_path;
	bool brief;                      /* per-second: one line instead of one per op */
	unsigned max_error_lines;        /* per worker */
};

/* Parse argv into o (defaults first). 1 ok, 0 help was printed (exit 0), -1 error printed. */
int load_opts_parse(struct load_opts *o, int argc, char **argv);
const char *load_mode_name(enum load_mode mode);
void load_opts_usage(FILE *f);

#endif
