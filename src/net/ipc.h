/* ipc.h: the typed message channel between kura's processes.
 *
 * A channel is an AF_UNIX SOCK_SEQPACKET socket: one packet is one message, so framing is the
 * kernel's. A message is a 32-bit type followed by fields written with ipc_put_*() and read in
 * the same order with ipc_get_*(); it may carry one file descriptor (SCM_RIGHTS). Sending never
 * blocks: what the socket does not take is queued and sent when it drains.
 *
 * A malformed message (short field, string without its NUL, unknown type) is the sender's bug or
 * a compromised peer: the receiver calls ipc_chan_destroy() on that channel and goes on; it
 * never crashes the receiver. Messages are at most IPC_MSG_MAX bytes. */
#ifndef KURA_NET_IPC_H
#define KURA_NET_IPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "net/loop.h"

#define IPC_MSG_MAX (256 * 1024)

struct ipc_chan;

/* Reading a received message. Any underrun sets bad; later gets return zero/NULL. */
struct ipc_reader {
	const unsigned char *p;
	size_t left;
	bool bad;
};

uint32_t ipc_get_u32(struct ipc_reader *r);
uint64_t ipc_get_u64(struct ipc_reader *r);
/* Bytes: pointer into the message (valid during the callback) and length. */
const unsigned char *ipc_get_bytes(struct ipc_reader *r, size_t *len_r);
/* A string sent with ipc_put_str: NUL-terminated, no inner NUL; NULL (and bad) otherwise. */
const char *ipc_get_str(struct ipc_reader *r);
/* True if the whole message was read without error. */
bool ipc_reader_done(const struct ipc_reader *r);

/* Building a message body. Return 0, or -1 if IPC_MSG_MAX would be exceeded. */
void ipc_msg_init(struct buf *msg, uint32_t type);
int ipc_put_u32(struct buf *msg, uint32_t v);
int ipc_put_u64(struct buf *msg, uint64_t v);
int ipc_put_bytes(struct buf *msg, const void *p, size_t len);
int ipc_put_str(struct buf *msg, const char *s);

/* Called for each message; fd is -1 or a received descriptor the callee now owns. */
typedef void ipc_msg_cb(void *ctx, struct ipc_chan *chan, uint32_t type, struct ipc_reader *r,
			int fd);
/* Called once when the peer went away (EOF or error); the owner then destroys the channel. */
typedef void ipc_closed_cb(void *ctx, struct ipc_chan *chan);

struct ipc_chan *ipc_chan_create(struct loop *loop, int fd, ipc_msg_cb *msg_cb,
				 ipc_closed_cb *closed_cb, void *ctx);
/* Close the socket and free the channel at a safe point (callable from its callbacks). */
void ipc_chan_destroy(struct ipc_chan **chan);

/* Send msg (built with ipc_msg_init/ipc_put_*), with fd (or -1). The channel takes ownership
 * of fd and closes it once sent. 0, or -1 if the channel is gone (fd closed anyway). */
int ipc_chan_send(struct ipc_chan *chan, const struct buf *msg, int fd);

/* True when the last receive left this process without a free fd (it holds one spare fd,
 * released around every receive so that a passed fd always finds a slot): the receiver
 * should refuse work that needs more fds. */
bool ipc_fds_exhausted(void);

/* Blocking helpers for simple one-shot exchanges outside an event loop (the master's start-up).*/
int ipc_send_blocking(int fd, const struct buf *msg, int pass_fd);

#endif
