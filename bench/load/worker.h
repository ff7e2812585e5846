/* worker.h: one load process. It runs `nclients` clients on one event loop (epoll, non-
 * blocking sockets, no threads) and talks to the coordinator over a SOCK_SEQPACKET socket:
 * it sends READY once all its clients are set up (logged in, prepared, selected; failed ones
 * count too), a STATS delta every second, and DONE with the last delta when its clients have
 * logged out after STOP. The coordinator sends GO (the measured phase begins) and STOP.
 *
 * Clients reach the worker through the fields below (the struct is shared with client.c and
 * the ops; everything else treats it as opaque). */
#ifndef KURA_LOAD_WORKER_H
#define KURA_LOAD_WORKER_H

#include <stdbool.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "load-opts.h"
#include "stats.h"

struct client;
struct loop;
struct loop_io;
struct loop_timer;
struct mbox;
struct pool;

enum load_phase { LOAD_PHASE_SETUP, LOAD_PHASE_RUN, LOAD_PHASE_TEARDOWN, LOAD_PHASE_COUNT };

enum load_msg_type {
	LOAD_MSG_READY = 1,  /* worker -> coordinator */
	LOAD_MSG_STATS,
	LOAD_MSG_DONE,
	LOAD_MSG_GO,         /* coordinator -> worker */
	LOAD_MSG_STOP,
};

/* The one message format in both directions (the coordinator only fills type). */
struct load_msg {
	uint32_t type;
	uint32_t worker;
	uint32_t phase;          /* of stats */
	uint32_t caps;           /* capabilities seen after LOGIN (all clients OR-ed) */
	uint32_t caps_seen;      /* 1 once any client logged in */
	uint32_t clients_ready;
	uint32_t clients_dead;   /* gave up (login refused repeatedly) */
	uint32_t conns_open;
	struct stats stats;      /* delta since the previous message */
};

#define WORKER_SCRATCH (64 * 1024)

struct worker {
	const struct load_opts *o;
	const struct mbox *mbox;
	unsigned index;
	unsigned first_client, nclients;
	struct loop *loop;
	SSL_CTX *tls;
	struct pool *resp_pool;          /* cleared after each response */
	unsigned char *scratch;          /* WORKER_SCRATCH bytes for reads */

	unsigned char *clients;          /* nclients * client_struct_size() */
	unsigned started;
	unsigned ready_count, done_count, dead_count;
	unsigned conns_open;
	unsigned caps;
	bool caps_seen;
	bool go, stopping, ready_sent, done_sent;
	unsigned error_lines;

	enum load_phase phase;
	struct stats delta;              /* since the last message */

	/* the mix, filtered by the capabilities a client has (cached for one caps value) */
	unsigned mix_caps;
	bool mix_valid;
	uint32_t mix_cum[OP_COUNT];
	uint32_t mix_total;

	int ctl_fd;
	struct loop_io *ctl_io;
	struct loop_timer *tick, *starter;
	uint64_t last_tick_us;
};

/* Run a worker in this (forked) process; returns the exit status. */
int worker_run(const struct load_opts *o, const struct mbox *mbox, unsigned index,
	       unsigned first_client, unsigned nclients, int ctl_fd);

struct client *worker_client(struct worker *w, unsigned i);
void worker_client_ready(struct worker *w);
void worker_client_done(struct worker *w);
void worker_client_dead(struct worker *w);
void worker_caps_seen(struct worker *w, unsigned caps);
/* May one more error line be printed? (counts it) */
bool worker_error_line(struct worker *w);
/* Pick a mix op for a client with these capabilities. OP_COUNT when none is allowed. */
enum op_id worker_pick_op(struct worker *w, unsigned caps, uint64_t *rng);

#endif
