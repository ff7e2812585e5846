/* fuzz-preauth.c: libFuzzer target for the whole not-authenticated state machine: a real
 * imap_session on a real socketpair, fed the input as a client would send it, with a fake auth
 * service (the credentials "\0good\0pw" succeed, SCRAM/LOGIN get one challenge and then fail)
 * and a real TLS context so STARTTLS is reachable. Output is drained and checked for
 * well-formed lines. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "imap/imap-session.h"
#include "lib/log.h"
#include "net/conn.h"
#include "net/loop.h"
#include "net/tls.h"

static struct loop *fz_loop;
static SSL_CTX *fz_tls;
static struct imap_settings fz_set;
static bool fz_done;
static struct imap_session *fz_session;

struct fz_pending {
	int kind; /* 0 fail, 1 ok, 2 challenge */
};
static struct fz_pending fz_pending;
static bool fz_has_pending;

static void fz_reply(void *ctx)
{
	if (!fz_has_pending || fz_session == NULL)
		return;
	fz_has_pending = false;
	if (fz_pending.kind == 1)
		imap_session_auth_result(fz_session, true, "good", NULL, NULL);
	else if (fz_pending.kind == 2)
		imap_session_auth_challenge(fz_session, (const unsigned char *)"challenge", 9);
	else
		imap_session_auth_result(fz_session, false, NULL, "AUTHENTICATIONFAILED",
					 "Authentication failed");
}

static void fz_later(int kind)
{
	fz_pending.kind = kind;
	fz_has_pending = true;
	loop_defer(fz_loop, fz_reply, NULL);
}

static void fz_auth_begin(struct imap_session *s, const char *mech, const unsigned char *ir,
			  size_t ir_len, bool has_ir)
{
	if (strcmp(mech, "PLAIN") == 0 && has_ir)
		fz_later(ir_len == 8 && memcmp(ir, "\0good\0pw", 8) == 0 ? 1 : 0);
	else
		fz_later(2);
}

static void fz_auth_continue(struct imap_session *s, const unsigned char *resp, size_t len)
{
	fz_later(0);
}

static void fz_auth_abort(struct imap_session *s)
{
	fz_has_pending = false;
}

static void fz_logged_in(struct imap_session *s, const char *user, const char *tag)
{
	if (strcmp(user, "good") != 0 || tag == NULL)
		abort();
	fz_done = true;
	imap_session_destroy(&fz_session);
}

static void fz_closed(struct imap_session *s, const char *reason)
{
	fz_done = true;
	imap_session_destroy(&fz_session);
}

static const struct imap_session_hooks fz_hooks = {
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
	fz_set.timeout_idle_ms = 1800000;
	fz_set.max_line = 1024;
	fz_set.preauth_literal_max = 256;
	fz_set.literal_max = 1024;
	fz_set.append_limit = 4096;
	return 0;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);
int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	int sp[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
		abort();
	struct conn_limits limits;
	conn_limits_default(&limits);
	limits.in_max = 2048;
	static const struct conn_callbacks none = {0};
	struct conn *conn = conn_create(fz_loop, sp[0], &limits, &none, NULL);
	struct imap_session_params p = {
		.loop = fz_loop, .conn = conn, .set = &fz_set, .hooks = &fz_hooks,
		.state = IMAP_STATE_NOT_AUTH, .session_id = "fuzz", .remote_ip = "127.0.0.1",
	};
	fz_done = false;
	fz_has_pending = false;
	fz_session = imap_session_create(&p);
	imap_session_greet(fz_session);

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
			/* every response line starts with a tag, "*" or "+" */
			if (out[0] == ' ' || out[0] == '\r')
				abort();
		}
		if (off == size && r == 0)
			break;
	}
	if (fz_session != NULL)
		imap_session_destroy(&fz_session);
	close(sp[1]);
	for (int i = 0; i < 3; i++)
		loop_run_once(fz_loop, 0);
	return 0;
}
