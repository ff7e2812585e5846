/* ipc.c: SEQPACKET message channels with fd passing. Traps: a packet bigger than our receive
 * buffer is truncated by the kernel (MSG_TRUNC tells us: treat as malformed), a received fd
 * must be closed if the message is dropped, and MSG_CTRUNC means an fd was lost: at the fd
 * limit the kernel drops the passed fd, so one spare fd is closed around every recvmsg to
 * keep a slot for it, and a message that lost its fd anyway is delivered without it (the
 * receiver fails that one request; the channel stays). */
#include "ipc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/fdutil.h"
#include "lib/log.h"
#include "lib/xmalloc.h"

struct ipc_queued {
	struct ipc_queued *next;
	int fd;
	size_t len;
	unsigned char data[];
};

struct ipc_chan {
	struct loop *loop;
	int fd;
	struct loop_io *io;
	ipc_msg_cb *msg_cb;
	ipc_closed_cb *closed_cb;
	void *ctx;
	struct ipc_queued *queue, *queue_tail;
	bool closed, destroyed;
};

static unsigned char ipc_scratch[IPC_MSG_MAX + 1];

/* The spare fd: -2 never opened, -1 could not be reopened (at the limit). */
static int ipc_spare_fd = -2;

static void ipc_spare_release(void)
{
	if (ipc_spare_fd >= 0)
		close(ipc_spare_fd);
}

static void ipc_spare_restore(void)
{
	/* "/" exists in a chroot too; O_PATH costs nothing but the slot */
	ipc_spare_fd = open("/", O_PATH | O_CLOEXEC);
}

bool ipc_fds_exhausted(void)
{
	return ipc_spare_fd == -1;
}

uint32_t ipc_get_u32(struct ipc_reader *r)
{
	if (r->bad || r->left < 4) {
		r->bad = true;
		return 0;
	}
	uint32_t v;
	memcpy(&v, r->p, 4);
	r->p += 4;
	r->left -= 4;
	return v;
}

uint64_t ipc_get_u64(struct ipc_reader *r)
{
	if (r->bad || r->left < 8) {
		r->bad = true;
		return 0;
	}
	uint64_t v;
	memcpy(&v, r->p, 8);
	r->p += 8;
	r->left -= 8;
	return v;
}

const unsigned char *ipc_get_bytes(struct ipc_reader *r, size_t *len_r)
{
	uint32_t len = ipc_get_u32(r);
	if (r->bad || r->left < len) {
		r->bad = true;
		*len_r = 0;
		return NULL;
	}
	const unsigned char *p = r->p;
	r->p += len;
	r->left -= len;
	*len_r = len;
	return p;
}

const char *ipc_get_str(struct ipc_reader *r)
{
	size_t len;
	const unsigned char *p = ipc_get_bytes(r, &len);
	if (p == NULL || len == 0 || p[len - 1] != '\0' || memchr(p, '\0', len - 1) != NULL) {
		r->bad = true;
		return NULL;
	}
	return (const char *)p;
}

bool ipc_reader_done(const struct ipc_reader *r)
{
	return !r->bad && r->left == 0;
}

void ipc_msg_init(struct buf *msg, uint32_t type)
{
	buf_init(msg, IPC_MSG_MAX);
	buf_append(msg, &type, 4);
}

int ipc_put_u32(struct buf *msg, uint32_t v)
{
	return buf_append(msg, &v, 4);
}

int ipc_put_u64(struct buf *msg, uint64_t v)
{
	return buf_append(msg, &v, 8);
}

int ipc_put_bytes(struct buf *msg, const void *p, size_t len)
{
	if (len > IPC_MSG_MAX || buf_reserve(msg, len + 4) < 0)
		return -1;
	uint32_t l = (uint32_t)len;
	buf_append(msg, &l, 4);
	return buf_append(msg, p, len);
}

int ipc_put_str(struct buf *msg, const char *s)
{
	return ipc_put_bytes(msg, s, strlen(s) + 1);
}

/* 1 sent, 0 would block, -1 error */
static int ipc_sendmsg(int sock, const void *data, size_t len, int fd)
{
	struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	if (fd >= 0) {
		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = sizeof(u.buf);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	for (;;) {
		ssize_t n = sendmsg(sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n >= 0)
			return 1;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == ENOBUFS)
			return 0;
		return -1;
	}
}

int ipc_send_blocking(int sock, const struct buf *msg, int pass_fd)
{
	for (;;) {
		int ret = ipc_sendmsg(sock, msg->data, msg->len, pass_fd);
		if (ret != 0)
			return ret > 0 ? 0 : -1;
		usleep(1000);
	}
}

static void ipc_chan_closed(struct ipc_chan *chan)
{
	if (chan->closed)
		return;
	chan->closed = true;
	if (chan->io != NULL)
		loop_io_remove(&chan->io);
	chan->closed_cb(chan->ctx, chan);
}

static void ipc_update_events(struct ipc_chan *chan)
{
	if (chan->io != NULL)
		loop_io_set(chan->io, LOOP_READ | (chan->queue != NULL ? LOOP_WRITE : 0));
}

static void ipc_flush_queue(struct ipc_chan *chan)
{
	while (chan->queue != NULL) {
		struct ipc_queued *q = chan->queue;
		int ret = ipc_sendmsg(chan->fd, q->data, q->len, q->fd);
		if (ret == 0)
			break;
		if (ret < 0) {
			ipc_chan_closed(chan);
			return;
		}
		chan->queue = q->next;
		if (chan->queue == NULL)
			chan->queue_tail = NULL;
		if (q->fd >= 0)
			close(q->fd);
		free(q);
	}
	ipc_update_events(chan);
}

static void ipc_receive(struct ipc_chan *chan)
{
	for (int round = 0; round < 64 && !chan->closed && !chan->destroyed; round++) {
		union {
			char buf[CMSG_SPACE(sizeof(int) * 4)];
			struct cmsghdr align;
		} u;
		struct iovec iov = {.iov_base = ipc_scratch, .iov_len = sizeof(ipc_scratch)};
		struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
				    .msg_controllen = sizeof(u.buf)};
		ipc_spare_release();
		ssize_t n = recvmsg(chan->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		ipc_spare_restore();
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return;
			ipc_chan_closed(chan);
			return;
		}
		if (n == 0) {
			ipc_chan_closed(chan);
			return;
		}
		int fd = -1;
		bool bad = (mh.msg_flags & MSG_TRUNC) != 0 || n < 4;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
				continue;
			size_t nfds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (size_t i = 0; i < nfds; i++) {
				int got;
				memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
				if (fd < 0 && i == 0) {
					fd = got;
				} else {
					close(got);
					bad = true;
				}
			}
		}
		if (bad) {
			if (fd >= 0)
				close(fd);
			log_error("malformed IPC message (%zd bytes): dropping the channel", n);
			ipc_chan_closed(chan);
			return;
		}
		if ((mh.msg_flags & MSG_CTRUNC) != 0 && fd < 0)
			log_error("an IPC message lost its file descriptor (out of file descriptors?)");
		uint32_t type;
		memcpy(&type, ipc_scratch, 4);
		struct ipc_reader r = {.p = ipc_scratch + 4, .left = (size_t)n - 4};
		chan->msg_cb(chan->ctx, chan, type, &r, fd);
	}
}

static void ipc_io(void *ctx, unsigned events)
{
	struct ipc_chan *chan = ctx;
	if (events & LOOP_WRITE)
		ipc_flush_queue(chan);
	if ((events & (LOOP_READ | LOOP_ERROR)) && !chan->closed && !chan->destroyed)
		ipc_receive(chan);
}

struct ipc_chan *ipc_chan_create(struct loop *loop, int fd, ipc_msg_cb *msg_cb,
				 ipc_closed_cb *closed_cb, void *ctx)
{
	struct ipc_chan *chan = xcalloc(1, sizeof(*chan));
	chan->loop = loop;
	chan->fd = fd;
	chan->msg_cb = msg_cb;
	chan->closed_cb = closed_cb;
	chan->ctx = ctx;
	fd_set_nonblock(fd);
	fd_set_cloexec(fd);
	int sz = IPC_MSG_MAX * 4;
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	chan->io = loop_io_add(loop, fd, LOOP_READ, false, ipc_io, chan);
	if (chan->io == NULL)
		xabort("cannot watch IPC fd");
	return chan;
}

static void ipc_chan_free(void *ctx)
{
	struct ipc_chan *chan = ctx;
	while (chan->queue != NULL) {
		struct ipc_queued *q = chan->queue;
		chan->queue = q->next;
		if (q->fd >= 0)
			close(q->fd);
		free(q);
	}
	free(chan);
}

void ipc_chan_destroy(struct ipc_chan **chanp)
{
	struct ipc_chan *chan = *chanp;
	if (chan == NULL)
		return;
	*chanp = NULL;
	if (chan->destroyed)
		return;
	chan->destroyed = true;
	chan->closed = true;
	if (chan->io != NULL)
		loop_io_remove(&chan->io);
	close(chan->fd);
	loop_defer(chan->loop, ipc_chan_free, chan);
}

int ipc_chan_send(struct ipc_chan *chan, const struct buf *msg, int fd)
{
	if (chan == NULL || chan->closed || chan->destroyed) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (chan->queue == NULL) {
		int ret = ipc_sendmsg(chan->fd, msg->data, msg->len, fd);
		if (ret > 0) {
			if (fd >= 0)
				close(fd);
			return 0;
		}
		if (ret < 0) {
			if (fd >= 0)
				close(fd);
			ipc_chan_closed(chan);
			return -1;
		}
	}
	struct ipc_queued *q = xmalloc(sizeof(*q) + msg->len);
	q->next = NULL;
	q->fd = fd;
	q->len = msg->len;
	memcpy(q->data, msg->data, msg->len);
	if (chan->queue_tail != NULL)
		chan->queue_tail->next = q;
	else
		chan->queue = q;
	chan->queue_tail = q;
	ipc_update_events(chan);
	return 0;
}
