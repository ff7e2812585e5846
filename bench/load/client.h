/* client.h: one simulated IMAP client, as the worker sees it. The worker owns an array of
 * clients (client_init each), starts them at the connect rate, tells them when the measured
 * phase begins and ends, and calls client_tick() once a second for timeouts. Everything else
 * happens in the client's own I/O and timer callbacks on the worker's event loop. */
#ifndef KURA_LOAD_CLIENT_H
#define KURA_LOAD_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct client;
struct worker;

/* Monotonic microseconds (latencies are measured with it). */
uint64_t client_now_us(void);

size_t client_struct_size(void);
/* c points at client_struct_size() bytes. id: the global client number (0-based), which
 * picks the user (PREFIX<first + id % users>), the source address and the random seed. */
void client_init(struct client *c, struct worker *w, unsigned id);
void client_deinit(struct client *c);

void client_start(struct client *c);   /* connect */
void client_go(struct client *c);      /* the measured phase began: start the mix */
void client_stop(struct client *c);    /* finish the current op, LOGOUT, then done */
void client_tick(struct client *c, uint64_t now_us);  /* timeouts */

#endif
