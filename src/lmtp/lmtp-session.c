/* lmtp-session.c: the LMTP state machine: commands in order, replies with enhanced status codes
 * (RFC 2034: every 2xx/4xx/5xx reply except the greeting and the LHLO answer), DATA into the
 * spool, then one reply per accepted recipient. Traps: the lookup may be answered from inside
 * the hook call, so input processing guards against re-entry; deliveries start from a timer
 * (not from inside input processing), their answers may come from inside the hook or later (the
 * owner's group commit), in any order, and may find the session closed meanwhile; after a QUIT
 * or a 421 nothing more is read. */
#include "lmtp/lmtp-session.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/pool.h"
#include "lib/xmalloc.h"
#include "lmtp/lmtp-data.h"

#define LMTP_MAX_ERRORS 20

enum lmtp_state {
	LMTP_STATE_COMMAND, /* reading commands */
	LMTP_STATE_LOOKUP,  /* a RCPT waits for the owner's lookup */
	LMTP_STATE_DATA,    /* reading message data */
	LMTP_STATE_DELIVER, /* replying per recipient */
	LMTP_STATE_CLOSING,
};

/* what the end of the data found */
enum lmtp_data_outcome { DATA_OK, DATA_TOOBIG, DATA_WRITE_FAILED };

struct lmtp_session {
	struct loop *loop;
	struct conn *conn;
	const struct lmtp_settings *set;
	const struct lmtp_session_hooks *hooks;
	void *owner;
	char *session_id;
	char *remote_ip;
	enum lmtp_state state;
	bool in_input;
	bool skipping;      /* discarding an overlong command line */
	bool destroyed;
	bool bye_pending;
	unsigned errors;

	struct pool *cmd_pool; /* one command */
	struct pool *txn_pool; /* LHLO argument and the transaction */
	const char *helo;      /* NULL before LHLO */

	/* the transaction */
	bool have_mail;
	const char *mail_from;
	bool smtputf8;
	struct lmtp_rcpt *rcpts;
	size_t rcpt_count, rcpt_alloc;
	/* the RCPT whose lookup is pending */
	const char *pending_addr;
	const char *pending_detail;
	unsigned pending_detail_from;
	/* DATA */
	struct lmtp_data data;
	struct spool *spool;
	uint64_t data_size;
	enum lmtp_data_outcome outcome;
	/* delivery */
	struct lmtp_txn txn;      /* what the deliver hook sees, valid until answered */
	size_t deliver_next;      /* the next recipient to reply to */
	int *results;             /* per recipient: an lmtp_delivery_status, -1 not yet */
	size_t *dup_of;           /* per recipient: the first one with its destination */
	bool in_deliver_hook;
	struct loop_timer *deliver_timer;
};

static void session_input(struct lmtp_session *s);

/* Decoded message data passes through here on its way to the spool file. */
static unsigned char lmtp_scratch[64 * 1024];

static void session_reply(struct lmtp_session *s, unsigned code, const char *enh,
			  const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void session_reply(struct lmtp_session *s, unsigned code, const char *enh,
			  const char *fmt, ...)
{
	char text[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (enh != NULL)
		conn_printf(s->conn, "%u %s %s\r\n", code, enh, text);
	else
		conn_printf(s->conn, "%u %s\r\n", code, text);
	if (code >= 500 && code != 552 && code != 550 && code != 553)
		s->errors++;
}

static void session_close(struct lmtp_session *s, const char *reason)
{
	if (s->state == LMTP_STATE_CLOSING)
		return;
	s->state = LMTP_STATE_CLOSING;
	loop_timer_remove(&s->deliver_timer);
	conn_close_after_flush(s->conn, reason);
}

/* --- transaction --- */

static void session_txn_reset(struct lmtp_session *s)
{
	s->have_mail = false;
	s->mail_from = NULL;
	s->smtputf8 = false;
	s->rcpt_count = 0;
	s->pending_addr = s->pending_detail = NULL;
	spool_destroy(&s->spool);
	free(s->results);
	s->results = NULL;
	free(s->dup_of);
	s->dup_of = NULL;
	/* keep the LHLO argument: it lives at the front of the pool, so copy it across */
	char *helo = s->helo != NULL ? xstrdup(s->helo) : NULL;
	pool_clear(s->txn_pool);
	s->helo = helo != NULL ? pool_strdup(s->txn_pool, helo) : NULL;
	free(helo);
}

static void session_rcpt_add(struct lmtp_session *s, const char *user)
{
	if (s->rcpt_count == s->rcpt_alloc) {
		size_t n = s->rcpt_alloc == 0 ? 8 : s->rcpt_alloc * 2, bytes;
		if (size_mul(n, sizeof(*s->rcpts), &bytes) < 0)
			xabort("recipient array overflow");
		s->rcpts = xrealloc(s->rcpts, bytes);
		s->rcpt_alloc = n;
	}
	struct lmtp_rcpt *r = &s->rcpts[s->rcpt_count++];
	r->addr = s->pending_addr;
	r->user = pool_strdup(s->txn_pool, user);
	r->detail = s->pending_detail;
}

/* --- commands --- */

static void cmd_lhlo(struct lmtp_session *s, const char *args)
{
	if (args[0] == '\0') {
		session_reply(s, 501, "5.5.4", "Syntax: LHLO hostname");
		return;
	}
	/* RFC 5321 4.1.4: EHLO (here LHLO) resets the transaction */
	s->helo = NULL;
	session_txn_reset(s);
	s->helo = lmtp_helo_sanitize(s->txn_pool, args);
	/* RFC 2034 4: no enhanced status codes in the EHLO/LHLO response */
	conn_printf(s->conn,
		    "250-%s\r\n"
		    "250-PIPELINING\r\n"
		    "250-ENHANCEDSTATUSCODES\r\n"
		    "250-8BITMIME\r\n"
		    "250-SMTPUTF8\r\n"
		    "250 SIZE %llu\r\n",
		    s->set->hostname, (unsigned long long)s->set->max_size);
}

static void cmd_mail(struct lmtp_session *s, const char *args)
{
	if (s->helo == NULL) {
		session_reply(s, 503, "5.5.1", "Send LHLO first");
		return;
	}
	if (s->have_mail) {
		session_reply(s, 503, "5.5.1", "Nested MAIL command");
		return;
	}
	struct lmtp_path path;
	struct lmtp_mail_params params;
	struct lmtp_error err;
	if (lmtp_parse_mail(s->txn_pool, args, &path, &params, &err) < 0) {
		session_reply(s, err.code, err.enh, "%s", err.text);
		return;
	}
	if (path.utf8 && !params.smtputf8) {
		/* RFC 6531 3.5 */
		session_reply(s, 550, "5.6.7", "Non-ASCII sender address needs SMTPUTF8");
		return;
	}
	if (params.has_size && s->set->max_size > 0 && params.size > s->set->max_size) {
		/* RFC 1870 6 */
		session_reply(s, 552, "5.3.4", "Message size exceeds fixed maximum message size");
		return;
	}
	s->have_mail = true;
	s->mail_from = path.addr;
	s->smtputf8 = params.smtputf8;
	session_reply(s, 250, "2.1.0", "Ok");
}

static void cmd_rcpt(struct lmtp_session *s, const char *args)
{
	if (!s->have_mail) {
		session_reply(s, 503, "5.5.1", "MAIL needed first");
		return;
	}
	struct lmtp_path path;
	struct lmtp_error err;
	if (lmtp_parse_rcpt(s->txn_pool, args, &path, &err) < 0) {
		session_reply(s, err.code, err.enh, "%s", err.text);
		return;
	}
	if (path.utf8 && !s->smtputf8) {
		session_reply(s, 553, "5.6.7", "<%s> Non-ASCII address needs SMTPUTF8", path.addr);
		return;
	}
	if (s->rcpt_count >= s->set->max_recipients) {
		session_reply(s, 452, "4.5.3", "Too many recipients");
		return;
	}
	struct lmtp_rcpt_names names;
	lmtp_rcpt_names(s->txn_pool, &path, s->set->delimiters, &names);
	s->pending_addr = path.addr;
	s->pending_detail = names.detail;
	s->pending_detail_from = names.detail_from;
	s->state = LMTP_STATE_LOOKUP;
	s->hooks->lookup(s, names.names, names.count);
}

void lmtp_session_lookup_done(struct lmtp_session *s, int found, const char *user,
			      unsigned index)
{
	if (s->state != LMTP_STATE_LOOKUP)
		return;
	s->state = LMTP_STATE_COMMAND;
	if (found > 0) {
		if (index < s->pending_detail_from || !s->set->detail_mailbox)
			s->pending_detail = NULL;
		session_rcpt_add(s, user);
		session_reply(s, 250, "2.1.5", "<%s> Ok", s->pending_addr);
	} else if (found == 0) {
		session_reply(s, 550, "5.1.1", "<%s> User doesn't exist", s->pending_addr);
	} else {
		session_reply(s, 451, "4.3.0", "<%s> Temporary failure, try again later",
			      s->pending_addr);
	}
	s->pending_addr = NULL;
	if (s->bye_pending) {
		lmtp_session_bye(s);
		return;
	}
	if (!s->in_input) {
		conn_pause_input(s->conn, false);
		session_input(s);
	}
}

static void cmd_data(struct lmtp_session *s, const char *args)
{
	if (!s->have_mail) {
		session_reply(s, 503, "5.5.1", "MAIL needed first");
		return;
	}
	if (s->rcpt_count == 0) {
		/* RFC 2033 4.2 */
		session_reply(s, 503, "5.5.1", "No valid recipients");
		return;
	}
	if (args[0] != '\0') {
		session_reply(s, 501, "5.5.4", "Syntax: DATA");
		return;
	}
	const char *err;
	if (spool_create(s->set->spool_dir, &s->spool, &err) < 0) {
		log_error("lmtp session %s: %s", s->session_id, err);
		session_reply(s, 451, "4.3.0", "Temporary failure, try again later");
		return;
	}
	lmtp_data_init(&s->data, false);
	s->data_size = 0;
	s->outcome = DATA_OK;
	s->state = LMTP_STATE_DATA;
	session_reply(s, 354, NULL, "Start mail input; end with <CRLF>.<CRLF>");
}

static void session_command(struct lmtp_session *s, const char *line, size_t len)
{
	struct lmtp_cmd cmd;
	struct lmtp_error err;
	if (lmtp_cmd_parse(line, len, &cmd, &err) < 0) {
		session_reply(s, err.code, err.enh, "%s", err.text);
		return;
	}
	switch (cmd.verb) {
	case LMTP_CMD_LHLO:
		cmd_lhlo(s, cmd.args);
		break;
	case LMTP_CMD_HELO:
	case LMTP_CMD_EHLO:
		/* RFC 2033 4.1: MUST NOT succeed; 500 recommended */
		session_reply(s, 500, "5.5.1", "This is LMTP: use LHLO");
		break;
	case LMTP_CMD_MAIL:
		cmd_mail(s, cmd.args);
		break;
	case LMTP_CMD_RCPT:
		cmd_rcpt(s, cmd.args);
		break;
	case LMTP_CMD_DATA:
		cmd_data(s, cmd.args);
		break;
	case LMTP_CMD_RSET:
		if (cmd.args[0] != '\0') {
			session_reply(s, 501, "5.5.4", "Syntax: RSET");
			break;
		}
		session_txn_reset(s);
		session_reply(s, 250, "2.0.0", "Ok");
		break;
	case LMTP_CMD_NOOP:
		session_reply(s, 250, "2.0.0", "Ok");
		break;
	case LMTP_CMD_QUIT:
		session_reply(s, 221, "2.0.0", "%s closing connection", s->set->hostname);
		session_close(s, "QUIT");
		break;
	case LMTP_CMD_VRFY:
		if (cmd.args[0] == '\0')
			session_reply(s, 501, "5.5.4", "Syntax: VRFY address");
		else /* RFC 5321 3.5.3: 252 when the server will not verify */
			session_reply(s, 252, "2.3.3", "Try RCPT instead");
		break;
	case LMTP_CMD_EXPN:
		session_reply(s, 502, "5.5.1", "EXPN not available");
		break;
	case LMTP_CMD_HELP:
		session_reply(s, 214, "2.0.0",
			      "Commands: LHLO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP");
		break;
	case LMTP_CMD_BDAT:
		session_reply(s, 502, "5.5.1", "BDAT not available (no CHUNKING)");
		break;
	case LMTP_CMD_STARTTLS:
	case LMTP_CMD_AUTH:
		session_reply(s, 502, "5.5.1", "Not available");
		break;
	case LMTP_CMD_UNKNOWN:
		session_reply(s, 500, "5.5.1", "Unknown command");
		break;
	}
}

/* --- delivery --- */

static void session_deliver_finish(struct lmtp_session *s)
{
	session_txn_reset(s);
	s->state = LMTP_STATE_COMMAND;
	if (s->bye_pending) {
		lmtp_session_bye(s);
		return;
	}
	conn_pause_input(s->conn, false);
	session_input(s);
}

static void session_deliver_reply(struct lmtp_session *s, size_t i,
				  enum lmtp_delivery_status st)
{
	const char *addr = s->rcpts[i].addr;
	switch (st) {
	case LMTP_DELIVERED:
		session_reply(s, 250, "2.0.0", "<%s> Saved", addr);
		break;
	case LMTP_DELIVERY_OVERQUOTA:
		session_reply(s, 552, "5.2.2", "<%s> Mailbox is full", addr);
		break;
	case LMTP_DELIVERY_TOOBIG:
		session_reply(s, 552, "5.3.4", "<%s> Message too big", addr);
		break;
	case LMTP_DELIVERY_TEMPFAIL:
		session_reply(s, 451, "4.3.0", "<%s> Temporary failure, try again later", addr);
		break;
	}
}

/* Reply to the recipients whose results are known, in RCPT order. */
static void session_deliver_progress(struct lmtp_session *s)
{
	if (s->state != LMTP_STATE_DELIVER || s->in_deliver_hook)
		return;
	bool replied = false;
	while (s->deliver_next < s->rcpt_count && s->results[s->deliver_next] >= 0) {
		session_deliver_reply(s, s->deliver_next,
				      (enum lmtp_delivery_status)s->results[s->deliver_next]);
		s->deliver_next++;
		replied = true;
	}
	if (replied) {
		conn_flush(s->conn);
		if (s->state != LMTP_STATE_DELIVER)
			return; /* the flush found the connection gone */
	}
	if (s->deliver_next == s->rcpt_count)
		session_deliver_finish(s);
}

static void session_deliver_start(void *ctx)
{
	struct lmtp_session *s = ctx;
	s->deliver_timer = NULL;
	if (s->state != LMTP_STATE_DELIVER)
		return;
	s->txn = (struct lmtp_txn){
		.helo = s->helo,
		.mail_from = s->mail_from,
		.smtputf8 = s->smtputf8,
		.spool = s->spool,
		.rcpts = s->rcpts,
		.rcpt_count = s->rcpt_count,
	};
	/* the same destination twice in one transaction (one user and the same detail, however
	 * the address was spelt: case, quoting): one copy, and the same answer for each (RFC
	 * 2033 4.2 still wants one reply per RCPT) */
	s->in_deliver_hook = true;
	for (size_t i = 0; i < s->rcpt_count; i++) {
		size_t dup = i;
		for (size_t k = 0; k < i && dup == i; k++) {
			const struct lmtp_rcpt *a = &s->rcpts[k], *b = &s->rcpts[i];
			if (strcmp(a->user, b->user) == 0 &&
			    (a->detail == NULL ? b->detail == NULL
					       : b->detail != NULL && strcmp(a->detail, b->detail) == 0))
				dup = k;
		}
		s->dup_of[i] = dup;
		if (dup == i) {
			s->hooks->deliver(s, &s->txn, i);
			if (s->destroyed)
				return;
		} else if (s->results[dup] >= 0) {
			s->results[i] = s->results[dup];
		}
	}
	s->in_deliver_hook = false;
	session_deliver_progress(s);
}

void lmtp_session_delivered(struct lmtp_session *s, size_t i, enum lmtp_delivery_status st)
{
	if (s->state != LMTP_STATE_DELIVER || i >= s->rcpt_count || s->results[i] >= 0)
		return;
	s->results[i] = (int)st;
	for (size_t k = i + 1; k < s->rcpt_count; k++) {
		if (s->dup_of[k] == i)
			s->results[k] = (int)st;
	}
	session_deliver_progress(s);
}

static void session_data_end(struct lmtp_session *s)
{
	s->state = LMTP_STATE_DELIVER;
	conn_pause_input(s->conn, true);
	if (s->outcome != DATA_OK) {
		for (size_t i = 0; i < s->rcpt_count; i++) {
			if (s->outcome == DATA_TOOBIG)
				session_reply(s, 552, "5.3.4", "<%s> Message too big", s->rcpts[i].addr);
			else
				session_reply(s, 451, "4.3.0", "<%s> Temporary failure, try again later",
					      s->rcpts[i].addr);
		}
		session_deliver_finish(s);
		return;
	}
	s->results = xmalloc(s->rcpt_count * sizeof(*s->results));
	for (size_t i = 0; i < s->rcpt_count; i++)
		s->results[i] = -1;
	s->dup_of = xcalloc(s->rcpt_count, sizeof(*s->dup_of));
	s->deliver_next = 0;
	/* from the loop, not from inside input processing */
	s->deliver_timer = loop_timer_add(s->loop, 0, session_deliver_start, s);
}

/* Decode what is buffered into the spool. */
static void session_data_input(struct lmtp_session *s)
{
	struct buf *in = conn_input(s->conn);
	size_t pos = 0;
	int end = 0;
	while (pos < in->len && !end) {
		size_t used, out_len;
		end = lmtp_data_decode(&s->data, in->data + pos, in->len - pos, &used, lmtp_scratch,
				       sizeof(lmtp_scratch), &out_len);
		pos += used;
		if (out_len == 0 || s->outcome != DATA_OK)
			continue;
		if (s->set->max_size > 0 && s->data_size + out_len > s->set->max_size) {
			/* read on to the end, store nothing */
			s->outcome = DATA_TOOBIG;
			continue;
		}
		const char *err;
		if (spool_write(s->spool, lmtp_scratch, out_len, &err) < 0) {
			log_error("lmtp session %s: %s", s->session_id, err);
			s->outcome = DATA_WRITE_FAILED;
			continue;
		}
		s->data_size += out_len;
	}
	buf_consume(in, pos);
	if (end)
		session_data_end(s);
}

/* --- input --- */

static void session_input(struct lmtp_session *s)
{
	if (s->in_input || s->destroyed)
		return;
	s->in_input = true;
	for (;;) {
		if (s->state != LMTP_STATE_COMMAND && s->state != LMTP_STATE_DATA)
			break;
		if (conn_output_full(s->conn))
			break; /* the drain callback brings us back */
		struct buf *in = conn_input(s->conn);
		if (in->len == 0)
			break;
		if (s->state == LMTP_STATE_DATA) {
			session_data_input(s);
			continue;
		}
		if (s->skipping) {
			const unsigned char *lf = memchr(in->data, '\n', in->len);
			if (lf == NULL) {
				buf_consume(in, in->len);
				break;
			}
			buf_consume(in, (size_t)(lf - in->data) + 1);
			s->skipping = false;
			session_reply(s, 500, "5.5.2", "Line too long");
		} else {
			size_t len, consumed;
			int r = lmtp_line_next(in->data, in->len, LMTP_LINE_MAX, &len, &consumed);
			if (r == 0)
				break;
			if (r < 0) {
				s->skipping = true;
				continue;
			}
			char *line = pool_memdup(s->cmd_pool, in->data, len);
			buf_consume(in, consumed);
			session_command(s, line, len);
			pool_clear(s->cmd_pool);
		}
		if (s->errors >= LMTP_MAX_ERRORS && s->state == LMTP_STATE_COMMAND) {
			session_reply(s, 421, "4.7.0", "%s Too many errors, closing connection",
				      s->set->hostname);
			session_close(s, "too many errors");
		}
	}
	s->in_input = false;
	if (s->state == LMTP_STATE_LOOKUP || s->state == LMTP_STATE_DELIVER)
		conn_pause_input(s->conn, true);
}

/* --- connection callbacks --- */

static void session_conn_input(void *ctx)
{
	session_input(ctx);
}

static void session_conn_closed(void *ctx, const char *reason)
{
	struct lmtp_session *s = ctx;
	/* a delivery not yet made is not made: the client counts unanswered recipients as
	 * temporary failures (RFC 2033 5) and will send again */
	loop_timer_remove(&s->deliver_timer);
	s->state = LMTP_STATE_CLOSING;
	s->hooks->closed(s, reason);
}

static void session_conn_timeout(void *ctx)
{
	struct lmtp_session *s = ctx;
	if (s->state == LMTP_STATE_LOOKUP || s->state == LMTP_STATE_DELIVER)
		return; /* our own wait, not the client's */
	log_info("lmtp session %s: idle timeout", s->session_id);
	session_reply(s, 421, "4.4.2", "%s Timeout, closing connection", s->set->hostname);
	session_close(s, "idle timeout");
}

static const struct conn_callbacks session_conn_callbacks = {
	.input = session_conn_input,
	.drain = session_conn_input,
	.closed = session_conn_closed,
	.timeout = session_conn_timeout,
};

struct lmtp_session *lmtp_session_create(const struct lmtp_session_params *p)
{
	struct lmtp_session *s = xcalloc(1, sizeof(*s));
	s->loop = p->loop;
	s->conn = p->conn;
	s->set = p->set;
	s->hooks = p->hooks;
	s->owner = p->owner;
	s->session_id = xstrdup(p->session_id);
	s->remote_ip = p->remote_ip != NULL ? xstrdup(p->remote_ip) : NULL;
	s->cmd_pool = pool_create(4096);
	s->txn_pool = pool_create(4096);
	s->state = LMTP_STATE_COMMAND;
	conn_set_callbacks(s->conn, &session_conn_callbacks, s);
	conn_set_idle_timeout(s->conn, s->set->timeout_ms);
	return s;
}

static void session_free(void *ctx)
{
	struct lmtp_session *s = ctx;
	spool_destroy(&s->spool);
	free(s->results);
	free(s->dup_of);
	free(s->rcpts);
	pool_destroy(&s->cmd_pool);
	pool_destroy(&s->txn_pool);
	free(s->session_id);
	free(s->remote_ip);
	free(s);
}

void lmtp_session_destroy(struct lmtp_session **sp)
{
	struct lmtp_session *s = *sp;
	if (s == NULL)
		return;
	*sp = NULL;
	s->destroyed = true;
	s->state = LMTP_STATE_CLOSING;
	loop_timer_remove(&s->deliver_timer);
	if (s->conn != NULL)
		conn_destroy(&s->conn);
	loop_defer(s->loop, session_free, s);
}

void lmtp_session_greet(struct lmtp_session *s)
{
	/* RFC 2034 4: the greeting carries no enhanced status code */
	conn_printf(s->conn, "220 %s LMTP kura ready\r\n", s->set->hostname);
}

void lmtp_session_bye(struct lmtp_session *s)
{
	if (s->state == LMTP_STATE_CLOSING)
		return;
	if (s->state == LMTP_STATE_DELIVER || s->state == LMTP_STATE_LOOKUP) {
		s->bye_pending = true;
		return;
	}
	session_reply(s, 421, "4.3.2", "%s Service shutting down, closing connection",
		      s->set->hostname);
	session_close(s, "server shutting down");
}

void *lmtp_session_owner(struct lmtp_session *s)
{
	return s->owner;
}

const char *lmtp_session_id(const struct lmtp_session *s)
{
	return s->session_id;
}

const char *lmtp_session_remote_ip(const struct lmtp_session *s)
{
	return s->remote_ip;
}
