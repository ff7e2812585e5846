/* test-conn.c: unit tests for net/conn's reading: how much one readiness event reads (a
 * consuming owner gets more than one input buffer's worth, up to the per-event budget; an
 * owner that consumes nothing stops the reading at in_max), input arriving byte by byte, the
 * end of the stream after the last bytes, and the receive buffer raised for a big literal. A
 * socketpair and one loop, no network. */
#include "net/conn.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/fdutil.h"
#include "lib/test.h"

struct owner {
	struct conn *conn;
	bool consume;
	size_t received, calls;
	unsigned char last;
	bool order_ok, closed;
};

static void owner_input(void *ctx)
{
	struct owner *o = ctx;
	struct buf *in = conn_input(o->conn);
	o->calls++;
	if (!o->consume)
		return;
	for (size_t i = 0; i < in->len; i++) {
		if (in->data[i] != (unsigned char)(o->last + 1))
			o->order_ok = false;
		o->last = in->data[i];
	}
	o->received += in->len;
	buf_consume(in, in->len);
}

static void owner_closed(void *ctx, const char *reason)
{
	struct owner *o = ctx;
	(void)reason;
	o->closed = true;
}

static const struct conn_callbacks owner_cb = {
	.input = owner_input,
	.closed = owner_closed,
};

/* Fill the peer's side until the socket takes no more; bytes count up from 1 (mod 256). */
static size_t fill_socket(int fd, size_t max)
{
	unsigned char chunk[4096];
	size_t sent = 0;
	fd_set_nonblock(fd);
	while (sent < max) {
		size_t len = max - sent < sizeof(chunk) ? max - sent : sizeof(chunk);
		for (size_t i = 0; i < len; i++)
			chunk[i] = (unsigned char)(sent + i + 1);
		ssize_t n = write(fd, chunk, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		sent += (size_t)n;
	}
	return sent;
}

static int make_pair(int sv[2])
{
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return -1;
	int size = 4 * 1024 * 1024;
	/* as much as the kernel allows (SO_*BUFFORCE as root): more than in_max in flight */
	if (setsockopt(sv[1], SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)) < 0)
		(void)setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	if (setsockopt(sv[0], SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
		(void)setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	return 0;
}

/* A consuming owner (a literal going to a spool file) gets everything the socket holds in one
 * event, not just one input buffer (in_max), as long as it is within the budget (1 MiB). */
static void test_consumer_reads_past_in_max(void)
{
	struct loop *loop = loop_create();
	int sv[2];
	CHECK(make_pair(sv) == 0);
	struct conn_limits limits;
	conn_limits_default(&limits);
	struct owner o = {.consume = true, .order_ok = true};
	o.conn = conn_create(loop, sv[0], &limits, &owner_cb, &o);
	size_t sent = fill_socket(sv[1], 3 * 1024 * 1024);
	CHECK(sent > limits.in_max);
	CHECK(loop_run_once(loop, 1000) >= 0);
	size_t want = sent < 1024 * 1024 ? sent : 1024 * 1024;
	CHECK(o.received >= want);
	CHECK(o.received <= 1024 * 1024 + limits.in_max);
	CHECK(o.calls >= 2);
	/* the rest comes with the next events, in order */
	for (int i = 0; i < 100 && o.received < sent; i++)
		CHECK(loop_run_once(loop, 1000) >= 0);
	CHECK(o.received == sent);
	CHECK(o.order_ok);
	CHECK(!o.closed);
	conn_destroy(&o.conn);
	close(sv[1]);
	loop_run_once(loop, 0);
	loop_destroy(&loop);
}

/* An owner that consumes nothing (a line not complete yet) stops the reading at in_max: the
 * buffer never grows past it, and the event does not spin. */
static void test_nonconsumer_stops_at_in_max(void)
{
	struct loop *loop = loop_create();
	int sv[2];
	CHECK(make_pair(sv) == 0);
	struct conn_limits limits;
	conn_limits_default(&limits);
	struct owner o = {.consume = false, .order_ok = true};
	o.conn = conn_create(loop, sv[0], &limits, &owner_cb, &o);
	size_t sent = fill_socket(sv[1], 1024 * 1024);
	CHECK(sent > limits.in_max);
	CHECK(loop_run_once(loop, 1000) >= 0);
	CHECK(conn_input(o.conn)->len == limits.in_max);
	size_t calls = o.calls;
	CHECK(calls >= 1);
	CHECK(loop_run_once(loop, 50) >= 0);   /* not readable for us any more: nothing new */
	CHECK(conn_input(o.conn)->len == limits.in_max);
	CHECK(o.calls == calls);
	conn_destroy(&o.conn);
	close(sv[1]);
	loop_run_once(loop, 0);
	loop_destroy(&loop);
}

/* Bytes arriving one at a time reach the owner one event each, then the end of the stream is
 * reported after the last byte was delivered. */
static void test_byte_by_byte_then_eof(void)
{
	struct loop *loop = loop_create();
	int sv[2];
	CHECK(make_pair(sv) == 0);
	struct conn_limits limits;
	conn_limits_default(&limits);
	struct owner o = {.consume = true, .order_ok = true};
	o.conn = conn_create(loop, sv[0], &limits, &owner_cb, &o);
	for (unsigned i = 1; i <= 20; i++) {
		unsigned char c = (unsigned char)i;
		CHECK(write(sv[1], &c, 1) == 1);
		CHECK(loop_run_once(loop, 1000) >= 0);
		CHECK(o.received == i);
	}
	unsigned char tail[3] = {21, 22, 23};
	CHECK(write(sv[1], tail, sizeof(tail)) == 3);
	close(sv[1]);
	CHECK(loop_run_once(loop, 1000) >= 0);
	CHECK(o.received == 23);
	CHECK(o.order_ok);
	/* a short read ends the event; the EOF shows at the next one */
	for (int i = 0; i < 3 && !o.closed; i++)
		CHECK(loop_run_once(loop, 1000) >= 0);
	CHECK(o.closed);
	conn_destroy(&o.conn);
	loop_run_once(loop, 0);
	loop_destroy(&loop);
}

static int rcvbuf_of(int fd)
{
	int v = 0;
	socklen_t len = sizeof(v);
	return getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, &len) == 0 ? v : -1;
}

/* conn_expect_input raises the receive buffer for a big literal (once, at most 2 MiB; the
 * kernel reports twice the value set, and caps it at net.core.rmem_max), and leaves it alone
 * for small ones. */
static void test_expect_input_rcvbuf(void)
{
	struct loop *loop = loop_create();
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	int small = 64 * 1024;
	CHECK(setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)) == 0);
	struct conn_limits limits;
	conn_limits_default(&limits);
	struct owner o = {.consume = true, .order_ok = true};
	o.conn = conn_create(loop, sv[0], &limits, &owner_cb, &o);
	int before = rcvbuf_of(sv[0]);
	conn_expect_input(o.conn, 100 * 1024);   /* below 256 KiB: no change */
	CHECK(rcvbuf_of(sv[0]) == before);
	conn_expect_input(o.conn, 4 * 1024 * 1024);
	int after = rcvbuf_of(sv[0]);
	int rmem_max = 0;
	FILE *f = fopen("/proc/sys/net/core/rmem_max", "r");
	if (f != NULL) {
		if (fscanf(f, "%d", &rmem_max) != 1)
			rmem_max = 0;
		fclose(f);
	}
	int want = 2 * 1024 * 1024;
	if (rmem_max > 0 && rmem_max < want)
		want = rmem_max;
	CHECK(after >= 2 * want);
	/* once per connection */
	CHECK(setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)) == 0);
	conn_expect_input(o.conn, 4 * 1024 * 1024);
	CHECK(rcvbuf_of(sv[0]) == before);
	conn_destroy(&o.conn);
	close(sv[1]);
	loop_run_once(loop, 0);
	loop_destroy(&loop);
}

int main(void)
{
	TEST_RUN(test_consumer_reads_past_in_max);
	TEST_RUN(test_nonconsumer_stops_at_in_max);
	TEST_RUN(test_byte_by_byte_then_eof);
	TEST_RUN(test_expect_input_rcvbuf);
	return test_finish();
}
