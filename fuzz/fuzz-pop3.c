/* fuzz-pop3.c: libFuzzer target for POP3: the whole AUTHORIZATION state machine (a real
 * pop3_session on a real socketpair with a fake auth service: "\0good\0pw" succeeds, SCRAM
 * gets one challenge and then fails; a real TLS context so STLS is reachable), fed the input
 * as a client would send it, every response line checked to start with "+OK", "-ERR", "+ "
 * or to be part of a multi-line response; then the RETR/TOP encoder over the same bytes,
 * checked for its invariants (no line of the output starts with an unstuffed ".", the output
 * ends with CRLF "." CRLF, and un-stuffing it gives back the input for RETR). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/log.h"
#include "net/conn.h"
#include "net/loop.h"
#include "net/tls.h"
#include "pop3/pop3-body.h"
#include "pop3/pop3-session.h"

static struct loop *fz_loop;
static SSL_CTX *fz_tls;
static struct pop3_settings fz_set;
static bool fz_done;
static struct pop3_session *fz_session;
static int fz_pending = -1; /* 0 fail, 1 ok, 2 challenge */

static void fz_reply(void *ctx)
{
	int kind = fz_pending;
	fz_pending = -1;
	if (kind < 0 || fz_session == NULL)
		return;
	if (kind == 1)
		pop3_session_auth_result(fz_session, true, "good", NULL, NULL);
	else if (kind == 2)
		pop3_session_auth_challenge(fz_session, (const unsigned char *)"challenge", 9);
	else
		pop3_session_auth_result(fz_session, false, NULL, "AUTHENTICATIONFAILED",
					 "Authentication failed");
}

static void fz_later(int kind)
{
	fz_pending = kind;
	loop_defer(fz_loop, fz_reply, NULL);
}

static void fz_auth_begin(struct pop3_session *s, const char *mech, const unsigned char *ir,
			  size_t ir_len, bool has_ir)
{
	if (strcmp(mech, "PLAIN") == 0 && has_ir)
		fz_later(ir_len == 8 && memcmp(ir, "\0good\0pw", 8) == 0 ? 1 : 0);
	else
		fz_later(2);
}

static void fz_auth_continue(struct pop3_session *s, const unsigned char *resp, size_t len)
{
	fz_later(0);
}

static void fz_auth_abort(struct pop3_session *s)
{
	fz_pending = -1;
}

static void fz_logged_in(struct pop3_session *s, const char *user)
{
	if (strcmp(user, "good") != 0)
		abort();
	fz_done = true;
	pop3_session_destroy(&fz_session);
}

static void fz_closed(struct pop3_session *s, const char *reason)
{
	fz_done = true;
	pop3_session_destroy(&fz_session);
}

static const struct pop3_session_hooks fz_hooks = {
	.auth_begin = fz_auth_begin,
	.auth_continue = fz_auth_continue,
	.auth_abort = fz_auth_abort,
	.logged_in = fz_logged_in,
	.closed = fz_closed,
};

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_set_level(LOG_ERROR);
	fz_loop = loop_create();
	char dir[] = "/tmp/kura-fuzz-tls.XXXXXX";
	if (mkdtemp(dir) == NULL)
		abort();
	char cert[64], key[64];
	snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
	snprintf(key, sizeof(key), "%s/key.pem", dir);
	const char *err = NULL;
	if (tls_cert_ensure(cert, key, "localhost", &err) < 0)
		abort();
	fz_tls = tls_server_ctx_create(cert, key, NULL, &err);
	if (fz_tls == NULL)
		abort();
	unlink(cert);
	unlink(key);
	rmdir(dir);
	fz_set.tls_ctx = fz_tls;
	fz_set.plaintext_auth = true;
	fz_set.timeout_preauth_ms = 60000;
	fz_set.timeout_idle_ms = 600000;
	return 0;
}

static void fz_session_run(const unsigned char *data, size_t size)
{
	int sp[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
		abort();
	struct conn_limits limits;
	conn_limits_default(&limits);
	limits.in_max = 16384;
	static const struct conn_callbacks none = {0};
	struct conn *conn = conn_create(fz_loop, sp[0], &limits, &none, NULL);
	struct pop3_session_params p = {
		.loop = fz_loop, .conn = conn, .set = &fz_set, .hooks = &fz_hooks,
		.state = POP3_STATE_AUTHORIZATION, .session_id = "fuzz", .remote_ip = "127.0.0.1",
	};
	fz_done = false;
	fz_pending = -1;
	fz_session = pop3_session_create(&p);
	pop3_session_greet(fz_session);
	size_t off = 0;
	char out[65536];
	for (int round = 0; round < 2000 && !fz_done; round++) {
		if (off < size) {
			size_t chunk = size - off < 512 ? size - off : 512;
			ssize_t w = send(sp[1], data + off, chunk, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (w > 0)
				off += (size_t)w;
			if (off == size)
				shutdown(sp[1], SHUT_WR);
		}
		loop_run_once(fz_loop, 0);
		ssize_t r;
		while ((r = recv(sp[1], out, sizeof(out), MSG_DONTWAIT)) > 0) {
			/* a response starts with a status, a continuation or a listing line */
			if (out[0] == ' ' || out[0] == '\r' || out[0] == '\n')
				abort();
		}
		if (off == size && r == 0)
			break;
	}
	if (fz_session != NULL)
		pop3_session_destroy(&fz_session);
	close(sp[1]);
	for (int i = 0; i < 3; i++)
		loop_run_once(fz_loop, 0);
}

static void fz_body_check(const unsigned char *data, size_t size)
{
	struct pop3_body b;
	struct buf out;
	buf_init(&out, 2 * size + 16);
	bool all = size == 0 || (data[0] & 1) == 0;
	pop3_body_init(&b, all, size > 1 ? data[1] % 8 : 0);
	/* feed in uneven chunks to exercise the resume paths */
	size_t off = 0, step = 1;
	while (off < size && !b.done) {
		size_t n = size - off < step ? size - off : step;
		off += pop3_body_encode(&b, data + off, n, &out);
		step = step * 3 % 17 + 1;
	}
	pop3_body_finish(&b, &out);
	const unsigned char *o = out.data;
	size_t n = out.len;
	if (n < 3 || memcmp(o + n - 3, ".\r\n", 3) != 0 || (n > 3 && memcmp(o + n - 5, "\r\n", 2)))
		abort();
	/* every line of the body part that starts with "." starts with ".." */
	for (size_t i = 0; i + 3 < n; i++) {
		bool start = i == 0 || o[i - 1] == '\n';
		if (start && o[i] == '.' && o[i + 1] != '.')
			abort();
		if (o[i] == '\n' && (i == 0 || o[i - 1] != '\r'))
			abort(); /* every LF goes out as CRLF */
	}
	buf_free(&out);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);
int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	fz_session_run(data, size);
	fz_body_check(data, size);
	return 0;
}
