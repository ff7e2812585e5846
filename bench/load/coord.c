/* coord.c: the coordinating process of kura-load: forks the workers, runs the phases, merges
 * and reports. Traps: the file limit is per process (20,000 here), so clients per worker must
 * stay below it; workers' seconds are not aligned with ours, so a per-second figure is what
 * arrived during our second; a worker that dies is reported, never waited for forever. */
#include "coord.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "lib/xmalloc.h"
#include "mbox.h"
#include "procmem.h"
#include "stats.h"
#include "worker.h"

#define COORD_STOP_WAIT_S 60

enum coord_state { COORD_SETUP, COORD_SETTLE, COORD_RUN, COORD_STOPPING, COORD_DONE };

struct coord_worker {
	pid_t pid;
	int fd;
	bool ready, done, gone;
	unsigned first, count;
	uint32_t clients_ready, clients_dead, conns;
};

struct coord_second {
	double t;
	unsigned conns;
	uint64_t count[OP_COUNT], errors[OP_COUNT];
	float p50[OP_COUNT], p99[OP_COUNT];
	uint64_t total, total_errors;
	float total_p50, total_p99;
	uint64_t deliveries;   /* lmtp */
};

struct coord {
	const struct load_opts *o;
	struct coord_worker w[LOAD_MAX_PROCS];
	unsigned nw;
	enum coord_state state;
	struct stats phase[LOAD_PHASE_COUNT];
	struct stats interval;
	unsigned caps;
	bool caps_seen;
	double t_start, t_ready, t_run, t_stop, t_end, t_last_print, t_settle_end;
	bool setup_timed_out;
	struct procmem mem_before, mem_after;
	bool mem_before_ok, mem_after_ok;
	struct coord_second *series;
	size_t n_series, series_alloc;
	bool worker_failed;
	double cpu_user, cpu_sys;     /* of the workers, from getrusage(RUSAGE_CHILDREN) */
	/* CPU of the server's tree (--server-pid) and of kura-load's own, read at GO and at
	 * STOP: what each used during the measured phase */
	struct proccpu srv_cpu[2], own_cpu[2];
	bool srv_cpu_ok[2], own_cpu_ok[2];
};

static volatile sig_atomic_t coord_interrupted;

static void coord_on_signal(int sig)
{
	(void)sig;
	coord_interrupted++;
}

static double coord_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned coord_conns(const struct coord *co)
{
	unsigned n = 0;
	for (unsigned i = 0; i < co->nw; i++)
		n += co->w[i].gone ? 0 : co->w[i].conns;
	return n;
}

static unsigned coord_ready_clients(const struct coord *co)
{
	unsigned n = 0;
	for (unsigned i = 0; i < co->nw; i++)
		n += co->w[i].clients_ready;
	return n;
}

static unsigned coord_dead_clients(const struct coord *co)
{
	unsigned n = 0;
	for (unsigned i = 0; i < co->nw; i++)
		n += co->w[i].clients_dead;
	return n;
}

static void coord_send(struct coord *co, enum load_msg_type type)
{
	struct load_msg msg;
	memset(&msg, 0, offsetof(struct load_msg, stats));
	msg.type = type;
	for (unsigned i = 0; i < co->nw; i++) {
		if (!co->w[i].gone)
			(void)send(co->w[i].fd, &msg, offsetof(struct load_msg, stats), MSG_NOSIGNAL);
	}
}

static int coord_fds(struct coord *co)
{
	struct rlimit rl;
	const struct load_opts *o = co->o;
	unsigned per_proc = (o->clients + o->procs - 1) / o->procs;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 0;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	if ((rlim_t)per_proc + 64 > rl.rlim_cur) {
		unsigned need = (unsigned)((o->clients + (rl.rlim_cur - 64) - 1) / (rl.rlim_cur - 64));
		fprintf(stderr,
			"kura-load: %u clients in %u process(es) need %u open files each, but the limit "
			"is %llu per process: use --procs %u or more\n",
			o->clients, o->procs, per_proc + 64, (unsigned long long)rl.rlim_cur, need);
		return -1;
	}
	return 0;
}

static int coord_fork(struct coord *co, const struct mbox *mbox)
{
	const struct load_opts *o = co->o;
	co->nw = o->procs;
	fflush(stdout);
	fflush(stderr);
	for (unsigned i = 0; i < co->nw; i++) {
		int sv[2];
		struct coord_worker *w = &co->w[i];
		w->first = (unsigned)((uint64_t)o->clients * i / co->nw);
		w->count = (unsigned)((uint64_t)o->clients * (i + 1) / co->nw) - w->first;
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
			perror("kura-load: socketpair");
			return -1;
		}
		int big = 4 * 1024 * 1024;
		(void)setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
		(void)setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
		pid_t pid = fork();
		if (pid < 0) {
			perror("kura-load: fork");
			return -1;
		}
		if (pid == 0) {
			for (unsigned k = 0; k < i; k++)
				close(co->w[k].fd);
			close(sv[0]);
			/* exit(), not _exit(): stdio was flushed before the fork, and the
			 * sanitizer build's leak check runs at exit */
			exit(worker_run(o, mbox, i, w->first, w->count, sv[1]));
		}
		close(sv[1]);
		w->pid = pid;
		w->fd = sv[0];
	}
	return 0;
}

static void coord_series_add(struct coord *co, double t, double secs)
{
	if (co->n_series == co->series_alloc) {
		co->series_alloc = co->series_alloc ? co->series_alloc * 2 : 64;
		co->series = xrealloc(co->series, co->series_alloc * sizeof(*co->series));
	}
	struct coord_second *s = &co->series[co->n_series++];
	memset(s, 0, sizeof(*s));
	s->t = t;
	s->conns = coord_conns(co);
	for (int op = 0; op < OP_COUNT; op++) {
		const struct stats_op *so = &co->interval.op[op];
		s->count[op] = stats_op_count(so);
		s->errors[op] = stats_op_errors(so);
		s->p50[op] = (float)(stats_op_quantile_us(so, 0.5) / 1000);
		s->p99[op] = (float)(stats_op_quantile_us(so, 0.99) / 1000);
	}
	struct stats_op total;
	stats_total(&co->interval, &total);
	s->total = stats_op_count(&total);
	s->deliveries = co->interval.op[OP_DELIVER].items;
	s->total_errors = stats_errors(&co->interval);
	s->total_p50 = (float)(stats_op_quantile_us(&total, 0.5) / 1000);
	s->total_p99 = (float)(stats_op_quantile_us(&total, 0.99) / 1000);
	(void)secs;
}

static void coord_print_second(struct coord *co, double now)
{
	double secs = now - co->t_last_print;
	co->t_last_print = now;
	if (co->state == COORD_SETUP || co->state == COORD_SETTLE) {
		printf("[setup %3.0fs] %u/%u clients ready, %u connections, %llu errors\n",
		       now - co->t_start, coord_ready_clients(co), co->o->clients, coord_conns(co),
		       (unsigned long long)stats_errors(&co->phase[LOAD_PHASE_SETUP]));
	} else if (co->state == COORD_RUN) {
		stats_print_interval(stdout, &co->interval, secs, now - co->t_run, coord_conns(co),
				     co->o->brief);
		coord_series_add(co, now - co->t_run, secs);
	}
	memset(&co->interval, 0, sizeof(co->interval));
	fflush(stdout);
}

static void coord_receive(struct coord *co, struct coord_worker *w)
{
	struct load_msg *msg = xmalloc(sizeof(*msg));
	ssize_t n = recv(w->fd, msg, sizeof(*msg), MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
		free(msg);
		return;
	}
	if (n != (ssize_t)sizeof(*msg)) {
		if (!w->done) {
			fprintf(stderr, "kura-load: worker %u ended without finishing\n",
				(unsigned)(w - co->w));
			co->worker_failed = true;
		}
		w->gone = true;
		w->done = true;
		w->ready = true;
		free(msg);
		return;
	}
	enum load_phase ph = msg->phase < LOAD_PHASE_COUNT ? msg->phase : LOAD_PHASE_TEARDOWN;
	stats_merge(&co->phase[ph], &msg->stats);
	if (ph == LOAD_PHASE_RUN)
		stats_merge(&co->interval, &msg->stats);
	w->clients_ready = msg->clients_ready;
	w->clients_dead = msg->clients_dead;
	w->conns = msg->conns_open;
	if (msg->caps_seen) {
		co->caps |= msg->caps;
		co->caps_seen = true;
	}
	if (msg->type == LOAD_MSG_READY)
		w->ready = true;
	if (msg->type == LOAD_MSG_DONE) {
		w->done = true;
		w->ready = true;
		w->conns = 0;
	}
	free(msg);
}

static bool coord_all(const struct coord *co, bool done)
{
	for (unsigned i = 0; i < co->nw; i++) {
		if (!(done ? co->w[i].done : co->w[i].ready))
			return false;
	}
	return true;
}

static void coord_print_caps(struct coord *co)
{
	const struct load_opts *o = co->o;
	if (!co->caps_seen) {
		printf("server capabilities: unknown (no client logged in)\n");
		return;
	}
	if (o->mode == LOAD_MODE_LMTP) {
		printf("LMTP extensions:");
		for (unsigned bit = CAP_LMTP_FIRST; bit <= CAP_LMTP_LAST; bit <<= 1)
			printf(" %s%s", (co->caps & bit) ? "" : "no-", op_cap_name(bit));
		printf("\n");
		if (!(co->caps & CAP_LMTP_PIPELINING) || !o->lmtp_pipelining)
			printf("NOTE: no pipelining: one command per round trip\n");
		return;
	}
	printf("server capabilities:");
	for (unsigned bit = 1; bit <= CAP_CONDSTORE; bit <<= 1) {
		if (bit == CAP_STARTTLS || bit == CAP_LOGINDISABLED)
			continue;
		printf(" %s%s", (co->caps & bit) ? "" : "no-", op_cap_name(bit));
	}
	printf("\n");
	if (o->mode == LOAD_MODE_IDLE && !(co->caps & CAP_IDLE))
		printf("NOTE: the server does not offer IDLE: the connections are held SELECTed "
		       "without IDLE instead\n");
	for (int op = 0; op < OP_COUNT; op++) {
		unsigned need = op_required_caps((enum op_id)op);
		if (o->mode == LOAD_MODE_MIX && o->weights[op] > 0 && (need & co->caps) != need)
			printf("NOTE: %s (weight %u) is skipped: the server does not offer %s\n",
			       op_name((enum op_id)op), o->weights[op], op_cap_name(need));
	}
}

static void coord_measure(struct coord *co, struct procmem *m, bool *ok, const char *when)
{
	*ok = procmem_tree(co->o->server_pid, m) == 0;
	if (!*ok)
		fprintf(stderr, "kura-load: cannot read the memory of process %d and its children\n",
			co->o->server_pid);
	else
		printf("server memory %s: %u processes, RSS %.1f MiB, PSS %.1f MiB\n", when, m->procs,
		       (double)m->rss / 1048576, (double)m->pss / 1048576);
}

/* which: 0 at GO, 1 at STOP */
static void coord_cpu(struct coord *co, int which)
{
	if (co->o->server_pid > 0)
		co->srv_cpu_ok[which] = proccpu_tree(co->o->server_pid, &co->srv_cpu[which]) == 0;
	co->own_cpu_ok[which] = proccpu_tree((int)getpid(), &co->own_cpu[which]) == 0;
}

static void coord_go(struct coord *co, double now)
{
	coord_cpu(co, 0);
	co->state = COORD_RUN;
	co->t_run = now;
	co->t_last_print = now;
	coord_send(co, LOAD_MSG_GO);
}

static void coord_setup_done(struct coord *co, double now)
{
	const struct load_opts *o = co->o;
	co->t_ready = now;
	unsigned dead = coord_dead_clients(co);
	printf("setup: %u/%u clients ready in %.1f s%s", coord_ready_clients(co) - dead, o->clients,
	       now - co->t_start, co->setup_timed_out ? " (setup timeout)" : "");
	if (dead > 0)
		printf(", %u gave up (login refused)", dead);
	printf(", %llu errors\n", (unsigned long long)stats_errors(&co->phase[LOAD_PHASE_SETUP]));
	coord_print_caps(co);
	fflush(stdout);
	if (o->mode == LOAD_MODE_IDLE && o->server_pid > 0) {
		co->state = COORD_SETTLE;
		co->t_settle_end = now + o->settle_s;
		return;
	}
	coord_go(co, now);
}

static void coord_step(struct coord *co, double now)
{
	const struct load_opts *o = co->o;
	switch (co->state) {
	case COORD_SETUP:
		if (coord_all(co, false)) {
			coord_setup_done(co, now);
		} else if (now - co->t_start > o->setup_timeout_s) {
			co->setup_timed_out = true;
			coord_setup_done(co, now);
		}
		break;
	case COORD_SETTLE:
		if (now >= co->t_settle_end) {
			coord_measure(co, &co->mem_after, &co->mem_after_ok, "with the connections idle");
			coord_go(co, coord_now());
		}
		break;
	case COORD_RUN:
		if ((o->duration > 0 && now - co->t_run >= o->duration) || coord_all(co, true)) {
			if (o->server_pid > 0 && o->mode != LOAD_MODE_IDLE)
				coord_measure(co, &co->mem_after, &co->mem_after_ok,
					      "at the end of the run");
			/* the clients run until they get STOP: the CPU readings and t_stop are
			 * taken right before it, after the (slow) memory reading */
			coord_cpu(co, 1);
			co->t_stop = coord_now();
			co->state = COORD_STOPPING;
			coord_send(co, LOAD_MSG_STOP);
		}
		break;
	case COORD_STOPPING:
		if (coord_all(co, true)) {
			co->state = COORD_DONE;
		} else if (now - co->t_stop > COORD_STOP_WAIT_S) {
			fprintf(stderr, "kura-load: workers did not finish within %d s after STOP; "
					"killing them\n",
				COORD_STOP_WAIT_S);
			for (unsigned i = 0; i < co->nw; i++) {
				if (!co->w[i].done)
					kill(co->w[i].pid, SIGKILL);
			}
			co->worker_failed = true;
			co->state = COORD_DONE;
		}
		break;
	case COORD_DONE:
		break;
	}
}

static void coord_loop(struct coord *co)
{
	struct pollfd pfd[LOAD_MAX_PROCS];
	int handled_interrupts = 0;
	co->t_last_print = co->t_start;
	while (co->state != COORD_DONE) {
		double now = coord_now();
		if (coord_interrupted > handled_interrupts) {
			handled_interrupts = coord_interrupted;
			if (handled_interrupts == 1) {
				fprintf(stderr, "kura-load: interrupted, stopping the clients\n");
				if (co->state == COORD_SETUP || co->state == COORD_SETTLE) {
					co->t_ready = co->t_run = now;
				}
				if (co->state != COORD_STOPPING) {
					co->t_stop = now;
					co->state = COORD_STOPPING;
					coord_send(co, LOAD_MSG_STOP);
				}
			} else {
				for (unsigned i = 0; i < co->nw; i++)
					kill(co->w[i].pid, SIGKILL);
				co->worker_failed = true;
				break;
			}
		}
		int timeout = (int)((co->t_last_print + 1.0 - now) * 1000);
		if (timeout < 0)
			timeout = 0;
		if (timeout > 200)
			timeout = 200;
		for (unsigned i = 0; i < co->nw; i++) {
			pfd[i].fd = co->w[i].gone ? -1 : co->w[i].fd;
			pfd[i].events = POLLIN;
			pfd[i].revents = 0;
		}
		int n = poll(pfd, co->nw, timeout);
		if (n < 0 && errno != EINTR) {
			perror("kura-load: poll");
			break;
		}
		for (unsigned i = 0; n > 0 && i < co->nw; i++) {
			if (pfd[i].revents != 0)
				coord_receive(co, &co->w[i]);
		}
		now = coord_now();
		if (now - co->t_last_print >= 1.0 && co->state != COORD_STOPPING)
			coord_print_second(co, now);
		coord_step(co, now);
	}
	co->t_end = coord_now();
	if (co->t_stop == 0)
		co->t_stop = co->t_end;
}

static void coord_report(struct coord *co)
{
	const struct load_opts *o = co->o;
	double run = co->t_stop - co->t_run;
	if (run <= 0)
		run = 1e-9;
	printf("\n== setup (%.1f s) ==\n", co->t_ready - co->t_start);
	stats_print_table(stdout, &co->phase[LOAD_PHASE_SETUP], co->t_ready - co->t_start, false);
	printf("\n== run: %s, %u clients, %.1f s ==\n", load_mode_name(o->mode), o->clients, run);
	stats_print_table(stdout, &co->phase[LOAD_PHASE_RUN], run, o->mode != LOAD_MODE_LMTP);
	const struct stats *r = &co->phase[LOAD_PHASE_RUN];
	printf("  traffic: %.1f MiB in, %.1f MiB out\n", (double)r->bytes_in / 1048576,
	       (double)r->bytes_out / 1048576);
	printf("  kura-load's own CPU: %.1f s user + %.1f s system over %.1f s (all phases)\n",
	       co->cpu_user, co->cpu_sys, co->t_end - co->t_start);
	if (co->own_cpu_ok[0] && co->own_cpu_ok[1])
		printf("  kura-load's own CPU during the run: %.1f s user + %.1f s system\n",
		       co->own_cpu[1].user - co->own_cpu[0].user,
		       co->own_cpu[1].system - co->own_cpu[0].system);
	if (co->srv_cpu_ok[0] && co->srv_cpu_ok[1]) {
		struct stats_op total;
		stats_total(r, &total);
		double u = co->srv_cpu[1].user - co->srv_cpu[0].user;
		double sy = co->srv_cpu[1].system - co->srv_cpu[0].system;
		printf("  server CPU during the run: %.1f s user + %.1f s system (%u processes at the "
		       "end, with the reaped ones' times): %.0f ops per server CPU-second\n",
		       u, sy, co->srv_cpu[1].procs,
		       u + sy > 0 ? (double)stats_op_count(&total) / (u + sy) : 0.0);
	}
	uint64_t teardown_errors = stats_errors(&co->phase[LOAD_PHASE_TEARDOWN]);
	if (teardown_errors > 0) {
		printf("\n== teardown ==\n");
		stats_print_table(stdout, &co->phase[LOAD_PHASE_TEARDOWN], co->t_end - co->t_stop,
				  false);
	}
	for (int op = 0; op < OP_COUNT; op++) {
		const struct stats_op *so = &r->op[op];
		if (so->err[STATS_ERR_BAD] > 0 && so->err[STATS_ERR_BAD] == stats_op_count(so))
			printf("NOTE: every %s was answered BAD: the server may not implement it "
			       "(--mix basic leaves out SEARCH and IDLE)\n",
			       op_name((enum op_id)op));
	}
	if (o->mode == LOAD_MODE_LMTP) {
		const struct stats_op *d = &r->op[OP_DELIVER];
		printf("lmtp: %llu deliveries (recipient-messages answered 250) in %.1f s: %.1f "
		       "deliveries/s; %llu transactions of %u recipient(s): %.1f/s, %llu failed\n",
		       (unsigned long long)d->items, run, (double)d->items / run,
		       (unsigned long long)stats_op_count(d), o->rcpts,
		       (double)stats_op_count(d) / run, (unsigned long long)stats_op_errors(d));
	}
	if (o->mode == LOAD_MODE_FILL) {
		const struct stats_op *f = &r->op[OP_FILL];
		printf("fill: %llu messages in %.1f s: %.0f messages/s\n",
		       (unsigned long long)f->items, run, (double)f->items / run);
	}
	if (co->mem_before_ok && co->mem_after_ok && o->mode == LOAD_MODE_IDLE) {
		unsigned conns = o->clients - coord_dead_clients(co);
		double d_pss = (double)co->mem_after.pss - (double)co->mem_before.pss;
		double d_rss = (double)co->mem_after.rss - (double)co->mem_before.rss;
		printf("memory: %u connections: PSS %+.1f MiB (%.1f KiB per connection), RSS %+.1f MiB "
		       "(%.1f KiB per connection), processes %u -> %u\n",
		       conns, d_pss / 1048576, conns ? d_pss / conns / 1024 : 0.0, d_rss / 1048576,
		       conns ? d_rss / conns / 1024 : 0.0, co->mem_before.procs, co->mem_after.procs);
	}
	uint64_t errors = stats_errors(&co->phase[LOAD_PHASE_SETUP]) + stats_errors(r) +
			  teardown_errors;
	printf("result: %llu errors%s\n", (unsigned long long)errors,
	       co->worker_failed ? " (and a worker failed)" : "");
}

static void coord_json_mem(FILE *f, const char *name, const struct procmem *m)
{
	fprintf(f, "\"%s\": {\"procs\": %u, \"rss\": %llu, \"pss\": %llu}", name, m->procs,
		(unsigned long long)m->rss, (unsigned long long)m->pss);
}

static void coord_json(struct coord *co)
{
	const struct load_opts *o = co->o;
	FILE *f = strcmp(o->json_path, "-") == 0 ? stdout : fopen(o->json_path, "w");
	if (f == NULL) {
		fprintf(stderr, "kura-load: cannot write %s: %s\n", o->json_path, strerror(errno));
		return;
	}
	double run = co->t_stop - co->t_run;
	fprintf(f, "{\n  \"tool\": \"kura-load\",\n  \"version\": 1,\n  \"mode\": \"%s\",\n",
		load_mode_name(o->mode));
	fprintf(f, "  \"target\": {\"host\": ");
	stats_json_string(f, o->host);
	fprintf(f, ", \"port\": %u, \"tls\": \"%s\"},\n", o->port,
		o->tls ? "implicit" : o->starttls ? "starttls" : "none");
	fprintf(f, "  \"clients\": %u,\n  \"procs\": %u,\n  \"users\": %u,\n  \"shared\": %s,\n",
		o->clients, o->procs, o->users, o->shared ? "true" : "false");
	fprintf(f, "  \"duration\": %.3f,\n  \"think_ms\": %u,\n  \"prefill\": %u,\n  \"fill\": %u,\n",
		o->duration, o->think_ms, o->prefill, o->fill);
	fprintf(f, "  \"mix\": {\"spec\": ");
	stats_json_string(f, o->mode == LOAD_MODE_MIX ? o->mix_spec : "");
	fprintf(f, ", \"weights\": {");
	bool first = true;
	for (int op = 0; op < OP_COUNT; op++) {
		if (o->weights[op] == 0)
			continue;
		fprintf(f, "%s\"%s\": %u", first ? "" : ", ", op_name((enum op_id)op), o->weights[op]);
		first = false;
	}
	fprintf(f, "}},\n  \"capabilities\": [");
	first = true;
	for (unsigned bit = 1; bit <= CAP_CONDSTORE; bit <<= 1) {
		if (co->caps & bit) {
			fprintf(f, "%s\"%s\"", first ? "" : ", ", op_cap_name(bit));
			first = false;
		}
	}
	fprintf(f, "],\n  \"skipped_ops\": [");
	first = true;
	for (int op = 0; op < OP_COUNT && co->caps_seen; op++) {
		unsigned need = op_required_caps((enum op_id)op);
		if (o->mode == LOAD_MODE_MIX && o->weights[op] > 0 && (need & co->caps) != need) {
			fprintf(f, "%s\"%s\"", first ? "" : ", ", op_name((enum op_id)op));
			first = false;
		}
	}
	fprintf(f, "],\n");
	if (o->mode == LOAD_MODE_LMTP) {
		const struct stats_op *d = &co->phase[LOAD_PHASE_RUN].op[OP_DELIVER];
		fprintf(f, "  \"lmtp\": {\"rcpts\": %u, \"pipelining\": %s, \"sender\": ", o->rcpts,
			o->lmtp_pipelining && (co->caps & CAP_LMTP_PIPELINING) ? "true" : "false");
		stats_json_string(f, o->sender);
		fprintf(f, ", \"rcpt_domain\": ");
		stats_json_string(f, o->rcpt_domain);
		fprintf(f, ", \"extensions\": [");
		first = true;
		for (unsigned bit = CAP_LMTP_FIRST; bit <= CAP_LMTP_LAST; bit <<= 1) {
			if (co->caps & bit) {
				fprintf(f, "%s\"%s\"", first ? "" : ", ", op_cap_name(bit));
				first = false;
			}
		}
		fprintf(f, "], \"transactions\": %llu, \"failed\": %llu, \"deliveries\": %llu, "
			   "\"deliveries_per_s\": %.2f},\n",
			(unsigned long long)stats_op_count(d), (unsigned long long)stats_op_errors(d),
			(unsigned long long)d->items, run > 0 ? (double)d->items / run : 0.0);
	}
	fprintf(f, "  \"clients_ready\": %u,\n  \"clients_gave_up\": %u,\n",
		coord_ready_clients(co) - coord_dead_clients(co), coord_dead_clients(co));
	fprintf(f, "  \"setup\": ");
	stats_print_json(f, &co->phase[LOAD_PHASE_SETUP], co->t_ready - co->t_start, 2);
	fprintf(f, ",\n  \"run\": ");
	stats_print_json(f, &co->phase[LOAD_PHASE_RUN], run, 2);
	fprintf(f, ",\n  \"teardown\": ");
	stats_print_json(f, &co->phase[LOAD_PHASE_TEARDOWN], co->t_end - co->t_stop, 2);
	if (co->mem_before_ok) {
		fprintf(f, ",\n  \"memory\": {");
		coord_json_mem(f, "before", &co->mem_before);
		if (co->mem_after_ok) {
			unsigned conns = o->clients - coord_dead_clients(co);
			fprintf(f, ", ");
			coord_json_mem(f, "after", &co->mem_after);
			fprintf(f, ", \"connections\": %u, \"pss_per_connection\": %.0f, "
				   "\"rss_per_connection\": %.0f",
				conns,
				conns ? ((double)co->mem_after.pss - (double)co->mem_before.pss) / conns : 0.0,
				conns ? ((double)co->mem_after.rss - (double)co->mem_before.rss) / conns : 0.0);
		}
		fprintf(f, "}");
	}
	fprintf(f, ",\n  \"series\": [");
	for (size_t i = 0; i < co->n_series; i++) {
		const struct coord_second *s = &co->series[i];
		fprintf(f, "%s\n    {\"t\": %.1f, \"conns\": %u, \"ops\": %llu, \"errors\": %llu, "
			   "\"p50_ms\": %.3f, \"p99_ms\": %.3f, ",
			i ? "," : "", s->t, s->conns, (unsigned long long)s->total,
			(unsigned long long)s->total_errors, s->total_p50, s->total_p99);
		if (o->mode == LOAD_MODE_LMTP)
			fprintf(f, "\"deliveries\": %llu, ", (unsigned long long)s->deliveries);
		fprintf(f, "\"by_op\": {");
		first = true;
		for (int op = 0; op < OP_COUNT; op++) {
			if (s->count[op] == 0)
				continue;
			fprintf(f, "%s\"%s\": [%llu, %llu, %.3f, %.3f]", first ? "" : ", ",
				op_name((enum op_id)op), (unsigned long long)s->count[op],
				(unsigned long long)s->errors[op], s->p50[op], s->p99[op]);
			first = false;
		}
		fprintf(f, "}}");
	}
	uint64_t errors = stats_errors(&co->phase[LOAD_PHASE_SETUP]) +
			  stats_errors(&co->phase[LOAD_PHASE_RUN]) +
			  stats_errors(&co->phase[LOAD_PHASE_TEARDOWN]);
	fprintf(f, "\n  ],\n  \"load_cpu\": {\"user\": %.2f, \"system\": %.2f, \"wall\": %.2f},",
		co->cpu_user, co->cpu_sys, co->t_end - co->t_start);
	for (int k = 0; k < 2; k++) {
		const struct proccpu *c = k == 0 ? co->srv_cpu : co->own_cpu;
		const bool *ok = k == 0 ? co->srv_cpu_ok : co->own_cpu_ok;
		if (!ok[0] || !ok[1])
			continue;
		fprintf(f, "\n  \"%s\": {\"user\": %.2f, \"system\": %.2f, \"seconds\": %.3f, "
			   "\"procs_start\": %u, \"procs_end\": %u},",
			k == 0 ? "server_cpu_run" : "load_cpu_run", c[1].user - c[0].user,
			c[1].system - c[0].system, run, c[0].procs, c[1].procs);
	}
	fprintf(f, "\n  \"series_format\": \"by_op: [count, errors, p50_ms, p99_ms]\",\n");
	fprintf(f, "  \"errors\": %llu,\n  \"worker_failed\": %s\n}\n", (unsigned long long)errors,
		co->worker_failed ? "true" : "false");
	if (f != stdout)
		fclose(f);
}

int coord_run(const struct load_opts *o, const struct mbox *mbox)
{
	struct coord *co = xcalloc(1, sizeof(*co));
	co->o = o;
	if (coord_fds(co) < 0) {
		free(co);
		return 2;
	}
	printf("kura-load: mode %s, %u clients in %u process(es) -> %s:%u%s, users %s%u..%s%u%s\n",
	       load_mode_name(o->mode), o->clients, o->procs, o->host, o->port,
	       o->tls ? " (TLS)" : o->starttls ? " (STARTTLS)" : " (plain)", o->user_prefix,
	       o->user_first, o->user_prefix, o->user_first + o->users - 1,
	       o->shared ? " (shared: relaxed checks)" : "");
	if (o->mode == LOAD_MODE_MIX)
		printf("mix: %s; duration %.0f s; think %u ms; prefill %u; %zu mbox messages\n",
		       o->mix_spec, o->duration, o->think_ms, o->prefill, mbox->count);
	if (o->mode == LOAD_MODE_LMTP)
		printf("lmtp: %u recipient(s) per transaction (%s%s%s), duration %.0f s, %zu mbox "
		       "messages\n",
		       o->rcpts, o->user_prefix, o->rcpt_domain[0] ? "N@" : "N", o->rcpt_domain,
		       o->duration, mbox->count);
	if (o->server_pid > 0)
		coord_measure(co, &co->mem_before, &co->mem_before_ok, "before");
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = coord_on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	co->t_start = coord_now();
	if (coord_fork(co, mbox) < 0) {
		for (unsigned i = 0; i < co->nw; i++) {
			if (co->w[i].pid > 0)
				kill(co->w[i].pid, SIGKILL);
		}
		free(co);
		return 2;
	}
	coord_loop(co);
	for (unsigned i = 0; i < co->nw; i++) {
		int status;
		close(co->w[i].fd);
		if (waitpid(co->w[i].pid, &status, 0) > 0 &&
		    (!WIFEXITED(status) || WEXITSTATUS(status) != 0)) {
			fprintf(stderr, "kura-load: worker %u exited abnormally (status 0x%x)\n", i,
				(unsigned)status);
			co->worker_failed = true;
		}
	}
	struct rusage ru;
	if (getrusage(RUSAGE_CHILDREN, &ru) == 0) {
		co->cpu_user = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
		co->cpu_sys = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	}
	coord_report(co);
	if (o->json_path != NULL)
		coord_json(co);
	uint64_t errors = stats_errors(&co->phase[LOAD_PHASE_SETUP]) +
			  stats_errors(&co->phase[LOAD_PHASE_RUN]) +
			  stats_errors(&co->phase[LOAD_PHASE_TEARDOWN]);
	bool failed = co->worker_failed || coord_ready_clients(co) == coord_dead_clients(co);
	free(co->series);
	free(co);
	return failed ? 2 : errors > 0 ? 1 : 0;
}
