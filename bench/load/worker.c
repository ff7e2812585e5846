/* worker.c: a load process: its event loop, the paced start of its clients, the once-a-second
 * tick (timeouts, stats to the coordinator) and the GO/STOP control messages. Trap: stats
 * deltas carry the phase they were collected in, so the delta is flushed before every phase
 * change. */
#include "worker.h"

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client.h"
#include "lib/pool.h"
#include "lib/xmalloc.h"
#include "net/loop.h"
#include "rng.h"
#include "transport.h"

#define WORKER_START_TICK_MS 10

struct client *worker_client(struct worker *w, unsigned i)
{
	return (struct client *)(w->clients + (size_t)i * client_struct_size());
}

static void worker_send(struct worker *w, enum load_msg_type type)
{
	struct load_msg *msg = xcalloc(1, sizeof(*msg));
	msg->type = type;
	msg->worker = w->index;
	msg->phase = w->phase;
	msg->caps = w->caps;
	msg->caps_seen = w->caps_seen;
	msg->clients_ready = w->ready_count;
	msg->clients_dead = w->dead_count;
	msg->conns_open = w->conns_open;
	msg->stats = w->delta;
	memset(&w->delta, 0, sizeof(w->delta));
	for (;;) {
		ssize_t n = send(w->ctl_fd, msg, sizeof(*msg), MSG_NOSIGNAL);
		if (n >= 0 || errno != EINTR)
			break;
	}
	free(msg);
}

static void worker_set_phase(struct worker *w, enum load_phase phase)
{
	worker_send(w, LOAD_MSG_STATS);
	w->phase = phase;
}

static void worker_check_done(struct worker *w)
{
	if (w->done_sent || w->done_count < w->nclients)
		return;
	w->done_sent = true;
	worker_send(w, LOAD_MSG_DONE);
	loop_stop(w->loop);
}

void worker_client_ready(struct worker *w)
{
	w->ready_count++;
	if (!w->ready_sent && w->ready_count == w->nclients) {
		w->ready_sent = true;
		worker_send(w, LOAD_MSG_READY);
	}
}

void worker_client_done(struct worker *w)
{
	w->done_count++;
	worker_check_done(w);
}

void worker_client_dead(struct worker *w)
{
	w->dead_count++;
}

void worker_caps_seen(struct worker *w, unsigned caps)
{
	w->caps |= caps;
	w->caps_seen = true;
}

bool worker_error_line(struct worker *w)
{
	if (w->error_lines >= w->o->max_error_lines)
		return false;
	w->error_lines++;
	if (w->error_lines == w->o->max_error_lines)
		fprintf(stderr, "kura-load[w%u]: (further error lines of this worker are not printed; "
				"the counts are complete)\n",
			w->index);
	return true;
}

enum op_id worker_pick_op(struct worker *w, unsigned caps, uint64_t *rng)
{
	if (!w->mix_valid || w->mix_caps != caps) {
		w->mix_total = 0;
		for (int op = 0; op < OP_COUNT; op++) {
			unsigned need = op_required_caps((enum op_id)op);
			if (op_in_mix((enum op_id)op) && (need & caps) == need)
				w->mix_total += w->o->weights[op];
			w->mix_cum[op] = w->mix_total;
		}
		w->mix_caps = caps;
		w->mix_valid = true;
	}
	if (w->mix_total == 0)
		return OP_COUNT;
	uint32_t r = rng_below(rng, w->mix_total);
	for (int op = 0; op < OP_COUNT; op++) {
		if (r < w->mix_cum[op])
			return (enum op_id)op;
	}
	return OP_COUNT;
}

static void worker_starter_cb(void *ctx)
{
	struct worker *w = ctx;
	const struct load_opts *o = w->o;
	w->starter = NULL;
	if (w->stopping)
		return;
	unsigned per_tick = o->connect_rate / o->procs / (1000 / WORKER_START_TICK_MS);
	if (per_tick == 0)
		per_tick = 1;
	for (unsigned k = 0; k < per_tick && w->started < w->nclients; k++)
		client_start(worker_client(w, w->started++));
	if (w->started < w->nclients) {
		unsigned wait = WORKER_START_TICK_MS;
		unsigned rate = o->connect_rate / o->procs;
		if (rate < 1000 / WORKER_START_TICK_MS && rate > 0)
			wait = 1000 / rate;
		w->starter = loop_timer_add(w->loop, wait, worker_starter_cb, w);
	}
}

static void worker_tick_cb(void *ctx)
{
	struct worker *w = ctx;
	uint64_t now = client_now_us();
	for (unsigned i = 0; i < w->started; i++)
		client_tick(worker_client(w, i), now);
	worker_send(w, LOAD_MSG_STATS);
	w->tick = loop_timer_add(w->loop, 1000, worker_tick_cb, w);
}

static void worker_go(struct worker *w)
{
	if (w->go)
		return;
	worker_set_phase(w, LOAD_PHASE_RUN);
	w->go = true;
	for (unsigned i = 0; i < w->started; i++)
		client_go(worker_client(w, i));
}

static void worker_stop(struct worker *w)
{
	if (w->stopping)
		return;
	worker_set_phase(w, LOAD_PHASE_TEARDOWN);
	w->stopping = true;
	if (w->starter != NULL)
		loop_timer_remove(&w->starter);
	for (unsigned i = 0; i < w->nclients; i++)
		client_stop(worker_client(w, i));
	worker_check_done(w);
}

static void worker_ctl_cb(void *ctx, unsigned events)
{
	struct worker *w = ctx;
	struct load_msg msg;
	ssize_t n = recv(w->ctl_fd, &msg, sizeof(msg), MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < (ssize_t)sizeof(msg.type)) {
		/* the coordinator is gone: stop at once */
		loop_io_remove(&w->ctl_io);
		w->done_sent = true;
		loop_stop(w->loop);
		return;
	}
	if (msg.type == LOAD_MSG_GO)
		worker_go(w);
	else if (msg.type == LOAD_MSG_STOP)
		worker_stop(w);
}

int worker_run(const struct load_opts *o, const struct mbox *mbox, unsigned index,
	       unsigned first_client, unsigned nclients, int ctl_fd)
{
	struct worker w;
	const char *err;

	memset(&w, 0, sizeof(w));
	w.o = o;
	w.mbox = mbox;
	w.index = index;
	w.first_client = first_client;
	w.nclients = nclients;
	w.ctl_fd = ctl_fd;
	/* the coordinator turns SIGINT/SIGTERM into STOP; if it dies, the control socket closes */
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	w.loop = loop_create();
	if (o->tls || o->starttls) {
		w.tls = transport_tls_ctx_create(&err);
		if (w.tls == NULL) {
			fprintf(stderr, "kura-load[w%u]: %s\n", index, err);
			return 2;
		}
	}
	w.resp_pool = pool_create(16384);
	w.scratch = xmalloc(WORKER_SCRATCH);
	w.clients = xcalloc(nclients, client_struct_size());
	for (unsigned i = 0; i < nclients; i++)
		client_init(worker_client(&w, i), &w, first_client + i);
	w.ctl_io = loop_io_add(w.loop, ctl_fd, LOOP_READ, false, worker_ctl_cb, &w);
	if (w.ctl_io == NULL)
		xabort("kura-load: cannot watch the control socket");
	w.tick = loop_timer_add(w.loop, 1000, worker_tick_cb, &w);
	w.starter = loop_timer_add(w.loop, 0, worker_starter_cb, &w);

	loop_run(w.loop);

	for (unsigned i = 0; i < nclients; i++)
		client_deinit(worker_client(&w, i));
	if (w.tick != NULL)
		loop_timer_remove(&w.tick);
	if (w.starter != NULL)
		loop_timer_remove(&w.starter);
	if (w.ctl_io != NULL)
		loop_io_remove(&w.ctl_io);
	free(w.clients);
	free(w.scratch);
	pool_destroy(&w.resp_pool);
	if (w.tls != NULL)
		SSL_CTX_free(w.tls);
	loop_destroy(&w.loop);
	return 0;
}
