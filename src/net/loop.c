/* loop.c: epoll event loop with a timer heap and deferred calls. Traps: an io removed during a
 * batch may still have events later in that batch (we mark it dead and free it after), and a
 * deferred callback may defer again (we run until the list is empty, new entries included). */
#include "loop.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/xmalloc.h"

struct loop_io {
	struct loop *loop;
	int fd;
	unsigned events;
	bool dead;
	loop_io_cb *cb;
	void *ctx;
	struct loop_io *next_dead;
};

struct loop_timer {
	struct loop *loop;
	uint64_t when;
	uint64_t seq;
	size_t heap_idx;
	loop_cb *cb;
	void *ctx;
};

struct loop_deferred {
	struct loop_deferred *next;
	loop_cb *cb;
	void *ctx;
};

struct loop_signal {
	int signo;
	loop_cb *cb;
	void *ctx;
};

struct loop {
	int epfd;
	bool stop;
	uint64_t now;
	uint64_t timer_seq;
	struct loop_timer **heap;
	size_t heap_len, heap_alloc;
	struct loop_io *dead;
	struct loop_deferred *deferred, *deferred_tail;
	int sigfd;
	struct loop_io *sig_io;
	struct loop_signal signals[8];
	size_t signal_count;
	sigset_t sigmask;
};

static uint64_t monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct loop *loop_create(void)
{
	struct loop *loop = xcalloc(1, sizeof(*loop));
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0)
		xabort("epoll_create1 failed");
	loop->sigfd = -1;
	sigemptyset(&loop->sigmask);
	loop->now = monotonic_ms();
	return loop;
}

static void loop_free_dead(struct loop *loop)
{
	while (loop->dead != NULL) {
		struct loop_io *io = loop->dead;
		loop->dead = io->next_dead;
		free(io);
	}
}

void loop_destroy(struct loop **loopp)
{
	struct loop *loop = *loopp;
	if (loop == NULL)
		return;
	if (loop->sig_io != NULL)
		loop_io_remove(&loop->sig_io);
	if (loop->sigfd >= 0)
		close(loop->sigfd);
	loop_free_dead(loop);
	for (size_t i = 0; i < loop->heap_len; i++)
		free(loop->heap[i]);
	free(loop->heap);
	while (loop->deferred != NULL) {
		struct loop_deferred *d = loop->deferred;
		loop->deferred = d->next;
		free(d);
	}
	close(loop->epfd);
	free(loop);
	*loopp = NULL;
}

static uint32_t epoll_events(unsigned events)
{
	uint32_t e = 0;
	if (events & LOOP_READ)
		e |= EPOLLIN | EPOLLRDHUP;
	if (events & LOOP_WRITE)
		e |= EPOLLOUT;
	return e;
}

struct loop_io *loop_io_add(struct loop *loop, int fd, unsigned events, bool exclusive,
			    loop_io_cb *cb, void *ctx)
{
	struct loop_io *io = xcalloc(1, sizeof(*io));
	io->loop = loop;
	io->fd = fd;
	io->events = events;
	io->cb = cb;
	io->ctx = ctx;
	struct epoll_event ev = {.events = epoll_events(events), .data.ptr = io};
	if (exclusive) /* EPOLLEXCLUSIVE allows only EPOLLIN/EPOLLOUT beside it */
		ev.events = (ev.events & ~(uint32_t)EPOLLRDHUP) | EPOLLEXCLUSIVE;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int e = errno;
		free(io);
		errno = e;
		return NULL;
	}
	return io;
}

void loop_io_set(struct loop_io *io, unsigned events)
{
	if (io->events == events || io->dead)
		return;
	io->events = events;
	struct epoll_event ev = {.events = epoll_events(events), .data.ptr = io};
	if (epoll_ctl(io->loop->epfd, EPOLL_CTL_MOD, io->fd, &ev) < 0)
		log_error("epoll_ctl(MOD, %d) failed: %s", io->fd, strerror(errno));
}

void loop_io_remove(struct loop_io **iop)
{
	struct loop_io *io = *iop;
	if (io == NULL)
		return;
	*iop = NULL;
	/* the fd may already be closed by the caller; ignore errors */
	(void)epoll_ctl(io->loop->epfd, EPOLL_CTL_DEL, io->fd, NULL);
	io->dead = true;
	io->next_dead = io->loop->dead;
	io->loop->dead = io;
}

/* --- timers: a binary min-heap ordered by (when, seq) --- */

static bool timer_less(const struct loop_timer *a, const struct loop_timer *b)
{
	return a->when < b->when || (a->when == b->when && a->seq < b->seq);
}

static void heap_swap(struct loop *loop, size_t i, size_t j)
{
	struct loop_timer *t = loop->heap[i];
	loop->heap[i] = loop->heap[j];
	loop->heap[j] = t;
	loop->heap[i]->heap_idx = i;
	loop->heap[j]->heap_idx = j;
}

static void heap_up(struct loop *loop, size_t i)
{
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (!timer_less(loop->heap[i], loop->heap[parent]))
			break;
		heap_swap(loop, i, parent);
		i = parent;
	}
}

static void heap_down(struct loop *loop, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < loop->heap_len && timer_less(loop->heap[l], loop->heap[m]))
			m = l;
		if (r < loop->heap_len && timer_less(loop->heap[r], loop->heap[m]))
			m = r;
		if (m == i)
			break;
		heap_swap(loop, i, m);
		i = m;
	}
}

struct loop_timer *loop_timer_add(struct loop *loop, uint64_t msecs, loop_cb *cb, void *ctx)
{
	struct loop_timer *t = xcalloc(1, sizeof(*t));
	t->loop = loop;
	t->when = monotonic_ms() + msecs;
	t->seq = loop->timer_seq++;
	t->cb = cb;
	t->ctx = ctx;
	if (loop->heap_len == loop->heap_alloc) {
		loop->heap_alloc = loop->heap_alloc ? loop->heap_alloc * 2 : 64;
		loop->heap = xrealloc(loop->heap, loop->heap_alloc * sizeof(*loop->heap));
	}
	t->heap_idx = loop->heap_len;
	loop->heap[loop->heap_len++] = t;
	heap_up(loop, t->heap_idx);
	return t;
}

static void heap_remove_at(struct loop *loop, size_t i)
{
	size_t last = --loop->heap_len;
	if (i != last) {
		heap_swap(loop, i, last);
		heap_down(loop, i);
		heap_up(loop, i);
	}
}

void loop_timer_remove(struct loop_timer **timerp)
{
	struct loop_timer *t = *timerp;
	if (t == NULL)
		return;
	*timerp = NULL;
	struct loop *loop = t->loop;
	if (t->heap_idx < loop->heap_len && loop->heap[t->heap_idx] == t)
		heap_remove_at(loop, t->heap_idx);
	free(t);
}

void loop_defer(struct loop *loop, loop_cb *cb, void *ctx)
{
	struct loop_deferred *d = xcalloc(1, sizeof(*d));
	d->cb = cb;
	d->ctx = ctx;
	if (loop->deferred_tail != NULL)
		loop->deferred_tail->next = d;
	else
		loop->deferred = d;
	loop->deferred_tail = d;
}

static void loop_run_deferred(struct loop *loop)
{
	while (loop->deferred != NULL) {
		struct loop_deferred *d = loop->deferred;
		loop->deferred = d->next;
		if (loop->deferred == NULL)
			loop->deferred_tail = NULL;
		d->cb(d->ctx);
		free(d);
	}
}

static void loop_signal_read(void *ctx, unsigned events)
{
	struct loop *loop = ctx;
	struct signalfd_siginfo si;
	while (read(loop->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		for (size_t i = 0; i < loop->signal_count; i++) {
			if (loop->signals[i].signo == (int)si.ssi_signo)
				loop->signals[i].cb(loop->signals[i].ctx);
		}
	}
}

int loop_signal_add(struct loop *loop, int signo, loop_cb *cb, void *ctx)
{
	if (loop->signal_count == sizeof(loop->signals) / sizeof(loop->signals[0]))
		return -1;
	loop->signals[loop->signal_count++] = (struct loop_signal){signo, cb, ctx};
	sigaddset(&loop->sigmask, signo);
	if (sigprocmask(SIG_BLOCK, &loop->sigmask, NULL) < 0)
		return -1;
	int fd = signalfd(loop->sigfd, &loop->sigmask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return -1;
	if (loop->sigfd < 0) {
		loop->sigfd = fd;
		loop->sig_io = loop_io_add(loop, fd, LOOP_READ, false, loop_signal_read, loop);
		if (loop->sig_io == NULL)
			return -1;
	}
	return 0;
}

uint64_t loop_now(struct loop *loop)
{
	return loop->now;
}

void loop_stop(struct loop *loop)
{
	loop->stop = true;
}

static void loop_run_timers(struct loop *loop)
{
	loop->now = monotonic_ms();
	while (loop->heap_len > 0 && loop->heap[0]->when <= loop->now) {
		struct loop_timer *t = loop->heap[0];
		heap_remove_at(loop, 0);
		t->heap_idx = (size_t)-1;
		loop_cb *cb = t->cb;
		void *ctx = t->ctx;
		free(t);
		/* a one-shot timer is gone when it fires; owners must forget their pointer in cb */
		cb(ctx);
	}
}

int loop_run_once(struct loop *loop, int max_wait_ms)
{
	struct epoll_event events[256];
	int timeout = max_wait_ms;
	loop->now = monotonic_ms();
	if (loop->deferred != NULL) {
		timeout = 0;
	} else if (loop->heap_len > 0) {
		uint64_t when = loop->heap[0]->when;
		uint64_t until = when <= loop->now ? 0 : when - loop->now;
		if (timeout < 0 || until < (uint64_t)timeout)
			timeout = (int)(until > 60000 ? 60000 : until);
	}
	int n = epoll_wait(loop->epfd, events, 256, timeout);
	if (n < 0) {
		if (errno == EINTR)
			return 0;
		log_error("epoll_wait failed: %s", strerror(errno));
		return -1;
	}
	loop->now = monotonic_ms();
	for (int i = 0; i < n; i++) {
		struct loop_io *io = events[i].data.ptr;
		if (io->dead)
			continue;
		unsigned ev = 0;
		if (events[i].events & (EPOLLIN | EPOLLRDHUP))
			ev |= LOOP_READ;
		if (events[i].events & EPOLLOUT)
			ev |= LOOP_WRITE;
		if (events[i].events & (EPOLLERR | EPOLLHUP))
			ev |= LOOP_ERROR | LOOP_READ;
		io->cb(io->ctx, ev);
	}
	loop_run_timers(loop);
	loop_run_deferred(loop);
	loop_free_dead(loop);
	return n;
}

int loop_run(struct loop *loop)
{
	loop->stop = false;
	while (!loop->stop) {
		if (loop_run_once(loop, -1) < 0)
			return -1;
	}
	return 0;
}
