/* loop.h: the per-process event loop (epoll), timers and deferred calls.
 *
 * One loop per process, single-threaded. An fd is registered with a callback that receives the
 * ready events. Removal is safe from inside any callback: the entry is unhooked at once and
 * freed after the current batch of events, so a callback never sees a freed entry. Timers are
 * one-shot, kept in a binary heap; a deferred call runs after the current batch (the "safe
 * point" where connections are torn down). loop_run() returns when loop_stop() was called. */
#ifndef KURA_NET_LOOP_H
#define KURA_NET_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#define LOOP_READ 0x1u
#define LOOP_WRITE 0x2u
#define LOOP_ERROR 0x4u /* reported only: hang-up or error on the fd */

struct loop;
struct loop_io;
struct loop_timer;

typedef void loop_io_cb(void *ctx, unsigned events);
typedef void loop_cb(void *ctx);

struct loop *loop_create(void);
void loop_destroy(struct loop **loop);

/* Watch fd for events (LOOP_READ/LOOP_WRITE). exclusive: EPOLLEXCLUSIVE (listeners shared by
 * several processes). Returns NULL with errno set on failure. */
struct loop_io *loop_io_add(struct loop *loop, int fd, unsigned events, bool exclusive,
			    loop_io_cb *cb, void *ctx);
/* Change the watched events; a no-op when they are unchanged. */
void loop_io_set(struct loop_io *io, unsigned events);
void loop_io_remove(struct loop_io **io);

/* Call cb once after msecs. */
struct loop_timer *loop_timer_add(struct loop *loop, uint64_t msecs, loop_cb *cb, void *ctx);
void loop_timer_remove(struct loop_timer **timer);

/* Run cb(ctx) after the current batch of events. The call cannot be cancelled, so ctx must stay
 * valid until then (it is how objects are freed at a safe point). */
void loop_defer(struct loop *loop, loop_cb *cb, void *ctx);

/* Deliver a signal through the loop (signalfd): the signal is blocked for normal delivery. */
int loop_signal_add(struct loop *loop, int signo, loop_cb *cb, void *ctx);

/* Monotonic milliseconds, updated once per loop iteration. */
uint64_t loop_now(struct loop *loop);

int loop_run(struct loop *loop);
/* One iteration: wait up to max_wait_ms (-1: until something happens), dispatch, run timers
 * and deferred calls. Returns the number of fd events, or -1. For tests and fuzzers. */
int loop_run_once(struct loop *loop, int max_wait_ms);
void loop_stop(struct loop *loop);

#endif
