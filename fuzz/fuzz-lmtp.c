/* fuzz-lmtp.c: libFuzzer target for the LMTP server side. The first input byte picks the mode:
 *  - 0..127: a whole lmtp_session on a real socketpair, fed the rest of the input as a client
 *    would send it (in chunks whose sizes the first byte also varies), with fake hooks: a
 *    recipient whose name contains "fail" is a temporary lookup failure, one containing
 *    "user" exists, others do not; lookups are answered now or on the next loop turn; the
 *    delivery hook maps the spool with a prefix and checks its size. Every output line must be
 *    "DDD " or "DDD-" followed by text and CRLF.
 *  - 128..191: the command-line parsers on each line of the input (verbs, MAIL/RCPT paths and
 *    parameters, recipient name candidates, LHLO sanitising), checking that what they return
 *    holds no CR, LF or NUL and stays within the documented limits.
 *  - 192..255: the DATA decoder, whole against 1-byte chunks with a 2-byte output buffer: the
 *    same output and the same end position. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/pool.h"
#include "lmtp/lmtp-data.h"
#include "lmtp/lmtp-parser.h"
#include "lmtp/lmtp-session.h"
#include "lib/spool.h"
#include "net/conn.h"
#include "net/loop.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static struct loop *fz_loop;
static struct lmtp_settings fz_set;
static char fz_spool_dir[64];
static struct lmtp_session *fz_session;
static bool fz_done, fz_defer_lookups;
static int fz_lookup_answer;
static unsigned fz_deliveries;

/* --- mode 1: a session --- */

static void fz_lookup_reply(void *ctx)
{
	if (fz_session != NULL && fz_lookup_answer != -2)
		lmtp_session_lookup_done(fz_session, fz_lookup_answer,
					 fz_lookup_answer > 0 ? "user" : NULL, 0);
	fz_lookup_answer = -2;
}

static void fz_lookup(struct lmtp_session *s, const char *const *names, unsigned count)
{
	if (count == 0 || count > LMTP_NAMES_MAX)
		abort();
	int answer = 0;
	for (unsigned i = 0; i < count; i++) {
		if (names[i][0] == '\0' || strpbrk(names[i], "\r\n") != NULL)
			abort();
		if (strstr(names[i], "fail") != NULL)
			answer = -1;
		else if (answer == 0 && strstr(names[i], "user") != NULL)
			answer = 1;
	}
	fz_lookup_answer = answer;
	if (fz_defer_lookups)
		loop_defer(fz_loop, fz_lookup_reply, NULL);
	else
		fz_lookup_reply(NULL);
}

static enum lmtp_delivery_status fz_deliver_one(const struct lmtp_txn *txn, size_t i)
{
	if (i >= txn->rcpt_count || txn->spool == NULL || txn->mail_from == NULL)
		abort();
	static const char prefix[] = "Return-Path: <x>\r\n";
	const unsigned char *data;
	size_t len;
	const char *err;
	if (spool_view(txn->spool, prefix, sizeof(prefix) - 1, &data, &len, &err) < 0)
		return LMTP_DELIVERY_TEMPFAIL;
	if (len != sizeof(prefix) - 1 + spool_size(txn->spool) ||
	    memcmp(data, prefix, sizeof(prefix) - 1) != 0)
		abort();
	if (fz_set.max_size > 0 && spool_size(txn->spool) > fz_set.max_size)
		abort(); /* the session must have refused it already */
	fz_deliveries++;
	return (enum lmtp_delivery_status)(fz_deliveries % 4);
}

/* answered at once, or (every other transaction) on the next loop turn */
struct fz_answer {
	size_t i;
	enum lmtp_delivery_status st;
};

static void fz_deliver_later(void *ctx)
{
	struct fz_answer *a = ctx;
	if (fz_session != NULL)
		lmtp_session_delivered(fz_session, a->i, a->st);
	free(a);
}

static void fz_deliver(struct lmtp_session *s, const struct lmtp_txn *txn, size_t i)
{
	enum lmtp_delivery_status st = fz_deliver_one(txn, i);
	if (fz_deliveries % 2 == 0) {
		lmtp_session_delivered(s, i, st);
		return;
	}
	struct fz_answer *a = malloc(sizeof(*a));
	if (a == NULL)
		abort();
	a->i = i;
	a->st = st;
	loop_defer(fz_loop, fz_deliver_later, a);
}

static void fz_closed(struct lmtp_session *s, const char *reason)
{
	fz_done = true;
	lmtp_session_destroy(&fz_session);
}

static const struct lmtp_session_hooks fz_hooks = {
	.lookup = fz_lookup,
	.deliver = fz_deliver,
	.closed = fz_closed,
};

/* Each reply line: three digits, ' ' or '-', text, CRLF (checked across reads). */
struct fz_out {
	size_t col;
	unsigned char head[4];
	unsigned char prev;
};

static void fz_check_output(struct fz_out *o, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = p[i];
		if (o->prev == '\r' && c != '\n')
			abort(); /* no bare CR */
		o->prev = c;
		if (c == '\n') {
			if (o->col < 5)
				abort(); /* no bare LF, no line shorter than "DDD " CR */
			o->col = 0;
			continue;
		}
		if (o->col < 4)
			o->head[o->col] = c;
		if (o->col == 3 && !(o->head[0] >= '2' && o->head[0] <= '5' && o->head[1] >= '0' &&
				     o->head[1] <= '9' && o->head[2] >= '0' && o->head[2] <= '9' &&
				     (c == ' ' || c == '-')))
			abort();
		o->col++;
	}
}

static void fz_session_run(const unsigned char *data, size_t size, unsigned char mode)
{
	int sp[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
		abort();
	struct conn_limits limits;
	conn_limits_default(&limits);
	static const struct conn_callbacks none = {0};
	struct conn *conn = conn_create(fz_loop, sp[0], &limits, &none, NULL);
	fz_set.max_size = (mode & 1) ? 300 : 0;
	fz_set.max_recipients = (mode & 2) ? 3 : 100;
	fz_defer_lookups = (mode & 4) != 0;
	size_t chunk_size = (mode >> 3) % 8 == 0 ? 4096 : (mode >> 3) % 8;
	struct lmtp_session_params p = {
		.loop = fz_loop, .conn = conn, .set = &fz_set, .hooks = &fz_hooks,
		.session_id = "fuzz", .remote_ip = (mode & 64) ? NULL : "127.0.0.1",
	};
	fz_done = false;
	fz_lookup_answer = -2;
	fz_session = lmtp_session_create(&p);
	lmtp_session_greet(fz_session);
	struct fz_out out_state = {0};
	size_t off = 0;
	unsigned char out[65536];
	for (int round = 0; round < 20000 && !fz_done; round++) {
		if (off < size) {
			size_t chunk = size - off < chunk_size ? size - off : chunk_size;
			ssize_t w = send(sp[1], data + off, chunk, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (w > 0)
				off += (size_t)w;
			if (off == size)
				shutdown(sp[1], SHUT_WR);
		}
		loop_run_once(fz_loop, 0);
		ssize_t r;
		while ((r = recv(sp[1], out, sizeof(out), MSG_DONTWAIT)) > 0)
			fz_check_output(&out_state, out, (size_t)r);
		if (off == size && r == 0)
			break;
	}
	if (fz_session != NULL)
		lmtp_session_destroy(&fz_session);
	close(sp[1]);
	for (int i = 0; i < 3; i++)
		loop_run_once(fz_loop, 0);
}

/* --- mode 2: the parsers --- */

static void fz_check_str(const char *s, size_t max)
{
	if (s == NULL)
		return;
	if (strlen(s) > max || strpbrk(s, "\r\n") != NULL)
		abort();
}

static void fz_parsers(const unsigned char *data, size_t size)
{
	struct pool *pool = pool_create(4096);
	size_t pos = 0;
	while (pos < size) {
		size_t len, consumed;
		int r = lmtp_line_next(data + pos, size - pos, LMTP_LINE_MAX, &len, &consumed);
		if (r == 0) {
			len = size - pos;
			consumed = len;
		} else if (r < 0) {
			const unsigned char *lf = memchr(data + pos, '\n', size - pos);
			pos = lf == NULL ? size : (size_t)(lf - data) + 1;
			continue;
		}
		if (len > LMTP_LINE_MAX)
			abort();
		char *line = pool_memdup(pool, data + pos, len);
		pos += consumed;
		struct lmtp_cmd cmd;
		struct lmtp_error err;
		if (lmtp_cmd_parse(line, len, &cmd, &err) < 0) {
			if (err.code < 500 || err.enh == NULL)
				abort();
			continue;
		}
		struct lmtp_path path;
		if (cmd.verb == LMTP_CMD_MAIL || cmd.verb == LMTP_CMD_UNKNOWN) {
			struct lmtp_mail_params params;
			if (lmtp_parse_mail(pool, cmd.args, &path, &params, &err) == 0) {
				fz_check_str(path.addr, LMTP_PATH_MAX);
				fz_check_str(path.local, LMTP_PATH_MAX);
				fz_check_str(path.domain, LMTP_PATH_MAX);
				if (params.body > LMTP_BODY_8BITMIME)
					abort();
			} else if (err.code < 500 || err.text == NULL) {
				abort();
			}
		}
		if (cmd.verb == LMTP_CMD_RCPT || cmd.verb == LMTP_CMD_UNKNOWN) {
			if (lmtp_parse_rcpt(pool, cmd.args, &path, &err) == 0) {
				fz_check_str(path.addr, LMTP_PATH_MAX);
				if (path.utf8 && !lmtp_utf8_valid((const unsigned char *)path.addr,
								  strlen(path.addr)))
					abort();
				struct lmtp_rcpt_names names;
				lmtp_rcpt_names(pool, &path, "+-", &names);
				if (names.count == 0 || names.count > LMTP_NAMES_MAX ||
				    names.detail_from > names.count)
					abort();
				for (unsigned i = 0; i < names.count; i++)
					fz_check_str(names.names[i], 2 * LMTP_PATH_MAX);
				fz_check_str(names.detail, LMTP_PATH_MAX);
			} else if (err.code < 500 || err.text == NULL) {
				abort();
			}
		}
		const char *helo = lmtp_helo_sanitize(pool, cmd.args);
		fz_check_str(helo, LMTP_HELO_MAX);
		for (const char *h = helo; *h != '\0'; h++)
			if ((unsigned char)*h <= ' ' || (unsigned char)*h >= 0x7f)
				abort();
		pool_clear(pool);
	}
	pool_destroy(&pool);
}

/* --- mode 3: the DATA decoder --- */

static void fz_decoder(const unsigned char *data, size_t size, bool raw)
{
	size_t cap = 2 * size + 2;
	unsigned char *whole = malloc(cap), *bytewise = malloc(cap);
	struct lmtp_data d;
	lmtp_data_init(&d, raw);
	size_t used, n1 = 0, n2 = 0, end1 = size, end2 = size;
	int r = lmtp_data_decode(&d, data, size, &used, whole, cap, &n1);
	if (r == 1)
		end1 = used;
	else if (used != size)
		abort();
	if (raw)
		n1 += lmtp_data_finish(&d, whole + n1);
	lmtp_data_init(&d, raw);
	for (size_t i = 0; i < size; i++) {
		size_t u = 0, o = 0;
		unsigned char tmp[2];
		r = lmtp_data_decode(&d, data + i, 1, &u, tmp, sizeof(tmp), &o);
		if (u != 1)
			abort();
		memcpy(bytewise + n2, tmp, o);
		n2 += o;
		if (r == 1) {
			end2 = i + 1;
			break;
		}
	}
	if (raw)
		n2 += lmtp_data_finish(&d, bytewise + n2);
	if (end1 != end2 || n1 != n2 || memcmp(whole, bytewise, n1) != 0)
		abort();
	/* only CRLF line ends come out: every LF follows a CR */
	for (size_t i = 0; i < n1; i++)
		if (whole[i] == '\n' && (i == 0 || whole[i - 1] != '\r'))
			abort();
	free(whole);
	free(bytewise);
}

static void fz_cleanup(void)
{
	rmdir(fz_spool_dir); /* spool files are unlinked (O_TMPFILE): the folder is empty */
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_set_level(LOG_ERROR);
	fz_loop = loop_create();
	snprintf(fz_spool_dir, sizeof(fz_spool_dir), "/tmp/kura-fuzz-lmtp.XXXXXX");
	if (mkdtemp(fz_spool_dir) == NULL)
		abort();
	atexit(fz_cleanup);
	fz_set = (struct lmtp_settings){
		.hostname = "fuzz.example",
		.max_size = 0,
		.max_recipients = 100,
		.timeout_ms = 60000,
		.spool_dir = fz_spool_dir,
		.delimiters = "+",
		.detail_mailbox = true,
	};
	return 0;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	if (size == 0)
		return 0;
	unsigned char mode = data[0];
	if (mode < 128)
		fz_session_run(data + 1, size - 1, mode);
	else if (mode < 192)
		fz_parsers(data + 1, size - 1);
	else
		fz_decoder(data + 1, size - 1, (mode & 1) != 0);
	return 0;
}
