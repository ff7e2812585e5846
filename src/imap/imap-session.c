/* imap-session.c: the per-connection command loop: parse, check state, dispatch, reply.
 * Traps: a hook may start tearing the session down while we are inside the loop, so the
 * session is only freed at a safe point (deferred); an AUTHENTICATE exchange reads raw lines,
 * not commands; output backpressure stops the loop and the drain callback restarts it. */
#include "imap-session-private.h"

#include "imap/imap-arg.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/imap-view.h"
#include "lib/base64.h"
#include "lib/log.h"
#include "lib/spool.h"
#include "lib/xmalloc.h"

static void session_input(struct imap_session *s);

/* a command's commits being synced (session_sync_start) */
struct session_sync {
	struct imap_session *s; /* NULL: the session went away meanwhile */
};

static void session_conn_input(void *ctx)
{
	session_input(ctx);
}

static void session_conn_drain(void *ctx)
{
	session_input(ctx);
}

static void session_conn_closed(void *ctx, const char *reason)
{
	struct imap_session *s = ctx;
	if (s->handed_off)
		return;
	if (s->auth_phase != IMAP_AUTH_NONE && s->hooks->auth_abort != NULL)
		s->hooks->auth_abort(s);
	s->auth_phase = IMAP_AUTH_NONE;
	s->handed_off = true; /* no more hooks after closed */
	s->hooks->closed(s, reason);
}

static void session_conn_timeout(void *ctx)
{
	struct imap_session *s = ctx;
	log_info("session %s: idle timeout", s->session_id);
	imap_session_bye(s, "Autologout; idle for too long");
}

static const struct conn_callbacks session_conn_callbacks = {
	.input = session_conn_input,
	.drain = session_conn_drain,
	.closed = session_conn_closed,
	.timeout = session_conn_timeout,
};

static size_t session_literal_max(void *ctx, const char *name)
{
	struct imap_session *s = ctx;
	if (s->state == IMAP_STATE_NOT_AUTH)
		return s->set->preauth_literal_max;
	if (strcasecmp(name, "APPEND") == 0)
		return s->set->append_limit;
	return s->set->literal_max;
}

/* APPEND's literals: the first append_mem_max bytes of a command in the pool, every literal
 * that would go over to the command's spool file (created at the first one), referenced by
 * its offset in it. A MULTIAPPEND of many small messages is bounded the same way as one big
 * message; other commands' literals are small (literal_max) and stay in memory. */
static int session_literal_sink_begin(void *ctx, const char *name, uint64_t size,
				      uint64_t *ref_r, const char **error_r)
{
	struct imap_session *s = ctx;
	if (s->set->spool_dir == NULL || s->state == IMAP_STATE_NOT_AUTH ||
	    strcasecmp(name, "APPEND") != 0)
		return 0;
	if (size <= s->set->append_mem_max - s->literal_mem) { /* literal_mem <= the max */
		s->literal_mem += (size_t)size;
		return 0;
	}
	if (s->literal_spool == NULL &&
	    spool_create(s->set->spool_dir, &s->literal_spool, error_r) < 0) {
		log_error("session %s: APPEND: %s", s->session_id, *error_r);
		return -1;
	}
	*ref_r = spool_size(s->literal_spool);
	conn_expect_input(s->conn, size);
	return 1;
}

static int session_literal_sink_write(void *ctx, const void *data, size_t size,
				      const char **error_r)
{
	struct imap_session *s = ctx;
	if (spool_write(s->literal_spool, data, size, error_r) < 0) {
		log_error("session %s: APPEND: %s", s->session_id, *error_r);
		return -1;
	}
	return 0;
}

/* The command's literals are no longer referenced (it is over, or failed to parse). */
static void session_literals_release(struct imap_session *s)
{
	spool_destroy(&s->literal_spool);
	s->literal_mem = 0;
}

int imap_cmd_literal(struct imap_cmd *cmd, const struct imap_arg *arg,
		     const unsigned char **data_r, size_t *size_r, const char **error_r)
{
	struct imap_session *s = cmd->session;
	if (arg->type == IMAP_ARG_LITERAL) {
		*data_r = (const unsigned char *)arg->str;
		*size_r = arg->len;
		return 0;
	}
	const unsigned char *base;
	size_t len;
	if (arg->type != IMAP_ARG_LITERAL_SINK || s->literal_spool == NULL) {
		*error_r = "not a literal of this command";
		return -1;
	}
	if (spool_view(s->literal_spool, NULL, 0, &base, &len, error_r) < 0)
		return -1;
	if (arg->sink_ref > len || arg->len > len - arg->sink_ref) {
		*error_r = "literal outside the spool file";
		return -1;
	}
	*data_r = base + arg->sink_ref;
	*size_r = arg->len;
	return 0;
}

struct imap_session *imap_session_create(const struct imap_session_params *p)
{
	struct imap_session *s = xcalloc(1, sizeof(*s));
	s->loop = p->loop;
	s->conn = p->conn;
	s->set = p->set;
	s->hooks = p->hooks;
	s->owner = p->owner;
	s->state = p->state;
	s->session_id = xstrdup(p->session_id);
	s->remote_ip = xstrdup(p->remote_ip != NULL ? p->remote_ip : "unknown");
	s->user = p->user != NULL ? xstrdup(p->user) : NULL;
	s->tls = p->tls;
	s->enabled_rev2 = p->enabled_rev2;
	s->store = p->store;

	struct imap_parser_limits limits;
	imap_parser_limits_default(&limits);
	limits.line_max = s->set->max_line;
	limits.literal_max = session_literal_max;
	limits.literal_max_ctx = s;
	limits.literal_max_default = s->set->preauth_literal_max;
	limits.nonsync_skip_max = s->state == IMAP_STATE_NOT_AUTH ? 65536 : s->set->append_limit;
	if (s->set->spool_dir != NULL) {
		limits.literal_sink_begin = session_literal_sink_begin;
		limits.literal_sink_write = session_literal_sink_write;
		limits.literal_sink_ctx = s;
	}
	if (s->state == IMAP_STATE_NOT_AUTH) {
		/* before login no command needs more than ID's 60 strings: keep a hostile line of
		 * one-byte atoms from costing megabytes of argument nodes */
		limits.args_max = 128;
		limits.list_depth_max = 4;
	}
	s->parser = imap_parser_create(&limits);
	/* an idle session (in IDLE, or between commands) keeps the first 512 bytes only */
	s->cmd_pool = pool_create_growing(512, 4096);
	s->cmd.session = s;
	s->cmd.pool = s->cmd_pool;

	conn_set_callbacks(s->conn, &session_conn_callbacks, s);
	conn_set_idle_timeout(s->conn, s->state == IMAP_STATE_NOT_AUTH ? s->set->timeout_preauth_ms
									 : s->set->timeout_idle_ms);
	return s;
}

void imap_session_saved_set(struct imap_session *s, const uint32_t *uids, size_t count)
{
	free(s->saved_uids);
	s->saved_uids = NULL;
	s->saved_count = 0;
	if (count == 0)
		return;
	s->saved_uids = xcalloc(count, sizeof(uint32_t));
	memcpy(s->saved_uids, uids, count * sizeof(uint32_t));
	s->saved_count = count;
}

int imap_session_seqset_resolve(struct imap_session *s, const struct imap_seqset *set,
				bool by_uid, struct pool *pool, uint32_t **idx_r, size_t *count_r,
				bool *bad_r)
{
	struct imap_view *v = s->view;
	if (!set->is_saved) {
		/* the view reads the chunks the set touches (imap-view.h: a chunk not read yet
		 * holds nothing): a UID set is resolved chunk by chunk, numbers need the count */
		const char *err = NULL;
		int r;
		if (by_uid) {
			*bad_r = false;
			r = imap_view_resolve_uids(v, set, pool, idx_r, count_r, &err);
		} else {
			r = imap_seqset_resolve(set, NULL, v->count, false, pool, idx_r, count_r,
						bad_r);
			if (r == 0)
				r = imap_view_load_indexes(v, *idx_r, *count_r, &err);
		}
		if (r < 0 && err != NULL) {
			/* a damaged chunk (kura check): the command sees no message */
			log_error("session %s: cannot read messages: %s", s->session_id, err);
			*count_r = 0;
		}
		return r;
	}
	/* RFC 5182 2.1: "$" is the saved messages, never an error, even when empty */
	*bad_r = false;
	uint32_t *idx = pool_alloc_array(pool, s->saved_count ? s->saved_count : 1,
					 sizeof(uint32_t));
	size_t n = 0;
	for (size_t i = 0; i < s->saved_count; i++) {
		ssize_t k = imap_view_find(v, s->saved_uids[i]);
		if (k >= 0)
			idx[n++] = (uint32_t)k;
	}
	*idx_r = idx;
	*count_r = n;
	return 0;
}

void imap_session_unselect(struct imap_session *s)
{
	/* RFC 9051 6.4.4.1: a new selection starts with an empty search result variable */
	imap_session_saved_set(s, NULL, 0);
	if (s->view == NULL)
		return;
	imap_view_close(s->view);
	free(s->view);
	s->view = NULL;
	s->state = IMAP_STATE_AUTH;
}

static void session_yield_cb(void *ctx)
{
	struct imap_session *s = ctx;
	s->yield_timer = NULL;
	/* a session being destroyed is closing: its memory lasts until the deferred free */
	if (!s->closing && !s->handed_off && s->conn != NULL)
		session_input(s);
}

void imap_cmd_yield(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->session;
	/* a 0 ms timer runs after the next epoll_wait (loop_defer would run before it, so other
	 * connections would never get their turn) */
	if (s->yield_timer == NULL)
		s->yield_timer = loop_timer_add(s->loop, 0, session_yield_cb, s);
}

void imap_session_enable_condstore(struct imap_session *s)
{
	if (s->condstore)
		return;
	s->condstore = true;
	if (s->view != NULL) {
		/* RFC 7162 3.1: the first enabling command with a mailbox selected */
		s->view->condstore = true;
		imap_session_untagged(s, "OK [HIGHESTMODSEQ %llu] Highest",
				      (unsigned long long)imap_view_highestmodseq(s->view));
	}
}

void imap_session_enable_qresync(struct imap_session *s)
{
	imap_session_enable_condstore(s);
	s->qresync = true;
	if (s->view != NULL)
		s->view->qresync = true;
}

static void session_cmd_cleanup(struct imap_session *s)
{
	if (s->yield_timer != NULL)
		loop_timer_remove(&s->yield_timer);
	void (*cleanup)(struct imap_cmd *) = s->cmd.cleanup;
	s->cmd.cleanup = NULL;
	if (cleanup != NULL)
		cleanup(&s->cmd);
}

static void session_free(void *ctx)
{
	struct imap_session *s = ctx;
	session_cmd_cleanup(s);
	session_literals_release(s);
	imap_session_unselect(s);
	imap_parser_destroy(&s->parser);
	pool_destroy(&s->cmd_pool);
	free(s->saved_uids);
	free(s->session_id);
	free(s->remote_ip);
	free(s->user);
	free(s);
}

void imap_session_destroy(struct imap_session **sp)
{
	struct imap_session *s = *sp;
	if (s == NULL)
		return;
	*sp = NULL;
	s->handed_off = true;
	s->closing = true;
	if (s->sync_wait != NULL)
		s->sync_wait->s = NULL; /* the sync goes on, nobody is answered */
	if (s->conn != NULL)
		conn_destroy(&s->conn);
	loop_defer(s->loop, session_free, s);
}

struct conn *imap_session_take_conn(struct imap_session *s)
{
	struct conn *conn = s->conn;
	s->conn = NULL;
	s->handed_off = true;
	return conn;
}

void *imap_session_owner(struct imap_session *s)
{
	return s->owner;
}

struct conn *imap_session_conn(struct imap_session *s)
{
	return s->conn;
}

const char *imap_session_id(const struct imap_session *s)
{
	return s->session_id;
}

const char *imap_session_remote_ip(const struct imap_session *s)
{
	return s->remote_ip;
}

const char *imap_session_user(const struct imap_session *s)
{
	return s->user;
}

enum imap_state imap_session_state(const struct imap_session *s)
{
	return s->state;
}

bool imap_session_plaintext_ok(const struct imap_session *s)
{
	return s->tls || s->set->plaintext_auth;
}

const char *imap_session_capabilities(struct imap_session *s)
{
	static char caps[512];
	struct buf b;
	buf_init(&b, sizeof(caps) - 1);
	buf_append_str(&b, "IMAP4rev1 IMAP4rev2 LITERAL+ ID ENABLE");
	if (s->state != IMAP_STATE_NOT_AUTH) {
		buf_printf(&b, " IDLE UNSELECT NAMESPACE CHILDREN LIST-EXTENDED LIST-STATUS SPECIAL-USE"
			       " CREATE-SPECIAL-USE UIDPLUS MOVE MULTIAPPEND BINARY APPENDLIMIT=%zu"
			       " ESEARCH SEARCHRES WITHIN SORT SORT=DISPLAY ESORT"
			       " THREAD=ORDEREDSUBJECT THREAD=REFERENCES CONDSTORE QRESYNC",
			   s->set->append_limit);
	}
	if (s->state == IMAP_STATE_NOT_AUTH) {
		buf_append_str(&b, " SASL-IR");
		if (!s->tls && s->set->tls_ctx != NULL)
			buf_append_str(&b, " STARTTLS");
		if (imap_session_plaintext_ok(s))
			buf_append_str(&b, " AUTH=PLAIN AUTH=LOGIN AUTH=SCRAM-SHA-256");
		else
			buf_append_str(&b, " LOGINDISABLED");
	}
	size_t n = b.len < sizeof(caps) - 1 ? b.len : sizeof(caps) - 1;
	memcpy(caps, b.data, n);
	caps[n] = '\0';
	buf_free(&b);
	return caps;
}

void imap_session_untagged(struct imap_session *s, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line))
		n = (int)sizeof(line) - 1;
	conn_write(s->conn, "* ", 2);
	conn_write(s->conn, line, (size_t)n);
	conn_write(s->conn, "\r\n", 2);
}

static void session_reply(struct imap_session *s, const char *tag, const char *resp,
			  const char *code, const char *text)
{
	conn_printf(s->conn, "%s %s %s%s%s%s\r\n", tag != NULL ? tag : "*", resp,
		    code != NULL ? "[" : "", code != NULL ? code : "", code != NULL ? "] " : "",
		    text);
}

/* Untagged updates of the selected mailbox go out before a tagged reply; EXPUNGE not while
 * sequence numbers are in use (RFC 9051 7.4.1). */
static void session_flush_view(struct imap_session *s, const struct imap_cmd *cmd)
{
	if (s->view == NULL || s->conn == NULL)
		return;
	bool allow_expunge = cmd == NULL || cmd->def == NULL || cmd->uid ||
			     (cmd->def->flags & IMAP_CMD_FLAG_USES_SEQS) == 0;
	struct buf out;
	buf_init(&out, (size_t)-2);
	imap_view_flush(s->view, &out, allow_expunge);
	if (s->condstore && s->view->pending_expunged_count > 0) {
		/* RFC 7162 3.2 (and the example of section 6): expunges are held back while
		 * this command's FETCHes may carry higher MODSEQs, so tell the client which
		 * HIGHESTMODSEQ it may keep */
		buf_printf(&out, "* OK [HIGHESTMODSEQ %llu] Expunges pending\r\n",
			   (unsigned long long)imap_view_highestmodseq(s->view));
	}
	if (out.len > 0)
		conn_write(s->conn, out.data, out.len);
	buf_free(&out);
}

void imap_session_push_updates(struct imap_session *s)
{
	session_flush_view(s, NULL);
}

static void session_idle_push(void *ctx)
{
	struct imap_session *s = ctx;
	s->idle_push_queued = false;
	if (s->idling && !s->closing && !s->handed_off)
		session_flush_view(s, NULL);
}

void imap_session_view_changed(void *ctx)
{
	struct imap_session *s = ctx;
	/* (a destroyed session is closing: nothing may be deferred on it any more) */
	if (!s->idling || s->idle_push_queued || s->closing || s->handed_off)
		return;
	s->idle_push_queued = true;
	loop_defer(s->loop, session_idle_push, s);
}

bool imap_cmd_output_room(struct imap_cmd *cmd)
{
	return !conn_output_full(cmd->session->conn);
}

struct conn *imap_cmd_conn(struct imap_cmd *cmd)
{
	return cmd->session->conn;
}

void imap_cmd_reply(struct imap_cmd *cmd, const char *resp, const char *code, const char *fmt, ...)
{
	session_flush_view(cmd->session, cmd);
	char text[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	session_reply(cmd->session, cmd->tag, resp, code, text);
}

void imap_session_greet(struct imap_session *s)
{
	imap_session_untagged(s, "OK [CAPABILITY %s] kura ready", imap_session_capabilities(s));
}

void imap_session_logged_in(struct imap_session *s, const char *tag)
{
	conn_printf(s->conn, "%s OK [CAPABILITY %s] Logged in\r\n", tag,
		    imap_session_capabilities(s));
	imap_session_resume(s);
}

void imap_session_bye(struct imap_session *s, const char *reason)
{
	if (s->closing || s->handed_off)
		return;
	imap_session_untagged(s, "BYE %s", reason);
	s->closing = true;
	conn_close_after_flush(s->conn, reason);
}

/* --- group commit (imap_settings.syncer) --- */

static void session_exec_begin(struct imap_session *s)
{
	if (s->set->syncer != NULL && s->store != NULL)
		store_defer_begin(s->store);
}

static void session_exec_end(struct imap_session *s)
{
	if (s->set->syncer != NULL && s->store != NULL)
		store_defer_end(s->store);
}

static void session_synced(void *ctx, const char *error)
{
	struct session_sync *w = ctx;
	struct imap_session *s = w->s;
	free(w);
	if (s == NULL)
		return;
	s->sync_wait = NULL;
	if (error != NULL) {
		/* the reply must not go out: the change may be lost */
		log_error("session %s: %s: closing", s->session_id, error);
		conn_drop_output(s->conn);
		conn_hold_output(s->conn, false);
		imap_session_bye(s, "Cannot make the change durable");
		return;
	}
	conn_hold_output(s->conn, false);
	session_input(s);
	/* not called from the connection's own callback: let it read again (the input buffer
	 * may have been full while the reply waited) */
	if (s->conn != NULL)
		conn_flush(s->conn);
}

/* After a command: its commits are durable before its reply goes out. */
static void session_sync_start(struct imap_session *s)
{
	if (s->set->syncer == NULL || s->store == NULL || s->conn == NULL || s->handed_off ||
	    !store_sync_pending(s->store))
		return;
	struct session_sync *w = xcalloc(1, sizeof(*w));
	w->s = s;
	s->sync_wait = w;
	conn_hold_output(s->conn, true);
	store_sync_submit(s->store, s->set->syncer, session_synced, w);
}

static void session_cmd_finish(struct imap_session *s)
{
	s->cmd_pending = false;
	session_cmd_cleanup(s);
	session_literals_release(s);
	pool_clear(s->cmd_pool);
	memset(&s->cmd, 0, sizeof(s->cmd));
	s->cmd.session = s;
	s->cmd.pool = s->cmd_pool;
	session_sync_start(s);
}

void imap_cmd_done(struct imap_session *s)
{
	session_cmd_finish(s);
	conn_pause_input(s->conn, false);
	session_input(s);
}

void imap_session_resume(struct imap_session *s)
{
	session_input(s);
}

/* --- SASL exchange driven by the auth process --- */

void imap_session_auth_challenge(struct imap_session *s, const unsigned char *data, size_t len)
{
	if (s->auth_phase != IMAP_AUTH_WAIT_SERVER)
		return;
	if (s->auth_is_login) {
		/* LOGIN is PLAIN with the whole answer up front: a challenge is a failure */
		s->hooks->auth_abort(s);
		imap_session_auth_result(s, false, NULL, "AUTHENTICATIONFAILED",
					 "Authentication failed");
		return;
	}
	struct buf b;
	buf_init(&b, 4 + (len + 2) / 3 * 4 + 2);
	buf_append_str(&b, "+ ");
	base64_encode(&b, data, len);
	buf_append_str(&b, "\r\n");
	conn_write(s->conn, b.data, b.len);
	buf_free_secure(&b);
	s->auth_phase = IMAP_AUTH_WAIT_CLIENT;
	conn_pause_input(s->conn, false);
	session_input(s);
}

void imap_session_auth_result(struct imap_session *s, bool ok, const char *user,
			      const char *code, const char *msg)
{
	if (s->auth_phase == IMAP_AUTH_NONE)
		return;
	s->auth_phase = IMAP_AUTH_NONE;
	if (ok) {
		log_info("session %s: authenticated as %s from %s", s->session_id, user, s->remote_ip);
		/* the hook hands the session over (and destroys it) or, if it cannot, closes it */
		s->hooks->logged_in(s, user, s->cmd.tag);
		return;
	}
	session_reply(s, s->cmd.tag, "NO", code, msg);
	log_info("session %s: authentication failed from %s: %s", s->session_id, s->remote_ip,
		 msg);
	imap_cmd_done(s);
}

/* A client line during AUTHENTICATE: base64 response or "*" to cancel (RFC 9051 6.2.2). */
static void session_auth_line(struct imap_session *s, const char *line, size_t len)
{
	if (len == 1 && line[0] == '*') {
		s->hooks->auth_abort(s);
		s->auth_phase = IMAP_AUTH_NONE;
		session_reply(s, s->cmd.tag, "BAD", NULL, "Authentication cancelled");
		session_cmd_finish(s);
		return;
	}
	struct buf dec;
	buf_init(&dec, len);
	if (base64_decode(&dec, line, len) < 0) {
		buf_free_secure(&dec);
		s->hooks->auth_abort(s);
		s->auth_phase = IMAP_AUTH_NONE;
		session_reply(s, s->cmd.tag, "BAD", NULL, "Invalid base64 in SASL response");
		session_cmd_finish(s);
		return;
	}
	s->auth_phase = IMAP_AUTH_WAIT_SERVER;
	conn_pause_input(s->conn, true);
	s->hooks->auth_continue(s, dec.data != NULL ? dec.data : (const unsigned char *)"", dec.len);
	buf_free_secure(&dec);
}

/* --- the command loop --- */

static void session_dispatch(struct imap_session *s, const struct imap_parsed *parsed)
{
	struct imap_cmd *cmd = &s->cmd;
	cmd->tag = parsed->tag;
	cmd->name = parsed->name;
	cmd->args = parsed->args;
	cmd->count = parsed->count;

	const struct imap_command_def *def = imap_command_find(parsed->name);
	int ret = 1;
	if (def != NULL && strcasecmp(def->name, "UID") == 0 && (s->state & def->states) != 0) {
		/* UID FETCH / STORE / COPY / MOVE / SEARCH / EXPUNGE: the rest is that command
		 * with UIDs for sequence numbers (RFC 9051 6.4.9) */
		const struct imap_command_def *sub = NULL;
		if (cmd->count > 0 && imap_arg_is_atom(&cmd->args[0]))
			sub = imap_command_find(cmd->args[0].str);
		if (sub == NULL || (sub->flags & IMAP_CMD_FLAG_UID_OK) == 0) {
			imap_cmd_reply(cmd, "BAD", NULL,
				       "UID needs FETCH, STORE, COPY, MOVE, SEARCH, SORT, THREAD or"
				       " EXPUNGE");
			session_cmd_finish(s);
			return;
		}
		def = sub;
		cmd->uid = true;
		cmd->name = sub->name;
		cmd->args++;
		cmd->count--;
	}
	cmd->def = def;
	if (def == NULL) {
		imap_cmd_reply(cmd, "BAD", NULL, "Unknown command");
	} else if ((def->states & s->state) == 0) {
		const char *state = s->state == IMAP_STATE_NOT_AUTH ? "not authenticated"
				  : s->state == IMAP_STATE_AUTH ? "authenticated"
								: "selected";
		imap_cmd_reply(cmd, "BAD", NULL, "%s is not valid in the %s state", def->name, state);
	} else {
		log_debug("session %s: command %s", s->session_id, def->name);
		session_exec_begin(s);
		ret = def->func(cmd);
		session_exec_end(s);
	}
	if (ret == 0) {
		s->cmd_pending = true;
		if (!s->idling) /* IDLE reads DONE meanwhile */
			conn_pause_input(s->conn, true);
	} else if (!s->handed_off) {
		session_cmd_finish(s);
	}
}

static void session_parse_error(struct imap_session *s, const struct imap_parser_error *err)
{
	if (err->fatal) {
		conn_printf(s->conn, "* BYE %s%s%s%s\r\n", err->code ? "[" : "",
			    err->code ? err->code : "", err->code ? "] " : "", err->msg);
		log_info("session %s: disconnected: %s", s->session_id, err->msg);
		s->closing = true;
		conn_close_after_flush(s->conn, err->msg);
		return;
	}
	session_reply(s, err->tag, err->resp != NULL ? err->resp : "BAD", err->code, err->msg);
}

static void session_input(struct imap_session *s)
{
	if (s->in_input)
		return;
	s->in_input = true;
	struct buf *in = conn_input(s->conn);
	while (!s->closing && !s->handed_off) {
		if (s->sync_wait != NULL)
			break; /* session_synced brings us back */
		if (conn_output_full(s->conn))
			break; /* backpressure: the drain callback brings us back */
		if (s->auth_phase == IMAP_AUTH_WAIT_SERVER)
			break;
		struct imap_parser_error err;
		memset(&err, 0, sizeof(err));
		if (s->auth_phase == IMAP_AUTH_WAIT_CLIENT) {
			const char *line;
			size_t len;
			int ret = imap_parser_read_line(s->parser, in, s->cmd_pool, &line, &len, &err);
			if (ret == 0)
				break;
			if (ret < 0) {
				s->hooks->auth_abort(s);
				s->auth_phase = IMAP_AUTH_NONE;
				session_reply(s, s->cmd.tag, "BAD", NULL, "SASL response too long");
				session_cmd_finish(s);
				continue;
			}
			session_auth_line(s, line, len);
			continue;
		}
		if (s->idling) {
			/* RFC 9051 6.3.13: the only thing a client sends during IDLE is DONE */
			const char *line;
			size_t len;
			int ret = imap_parser_read_line(s->parser, in, s->cmd_pool, &line, &len, &err);
			if (ret == 0)
				break;
			s->idling = false;
			if (ret > 0 && len == 4 && strncasecmp(line, "DONE", 4) == 0)
				imap_cmd_reply(&s->cmd, "OK", NULL, "IDLE terminated");
			else
				imap_cmd_reply(&s->cmd, "BAD", NULL,
					       ret < 0 ? "Line too long" : "Expected DONE");
			s->cmd_pending = false;
			session_cmd_finish(s);
			continue;
		}
		if (s->cmd_pending) {
			/* a resumable command continues while the output has room */
			if (s->cmd.resume == NULL || !imap_cmd_output_room(&s->cmd))
				break;
			session_exec_begin(s);
			int done = s->cmd.resume(&s->cmd);
			session_exec_end(s);
			if (done == 0)
				break;
			s->cmd_pending = false;
			session_cmd_cleanup(s);
			if (!s->handed_off && !s->closing) {
				session_cmd_finish(s);
				conn_pause_input(s->conn, false);
			}
			continue;
		}
		struct imap_parsed parsed;
		int ret = imap_parser_next(s->parser, in, s->cmd_pool, &parsed, &err);
		if (imap_parser_take_continuation(s->parser))
			conn_write_str(s->conn, "+ Ready for literal data\r\n");
		if (ret == 0)
			break;
		if (ret < 0) {
			/* nothing of the failed command is used any more: its literals, and its
			 * arguments in the pool, even while the parser still skips its rest (it
			 * keeps nothing in the pool then), so failed commands whose rest arrives
			 * later cannot pile up their in-memory literals */
			session_parse_error(s, &err);
			session_literals_release(s);
			pool_clear(s->cmd_pool);
			continue;
		}
		session_dispatch(s, &parsed);
	}
	if (!s->handed_off && s->conn != NULL && in->len == 0)
		buf_release(in);
	s->in_input = false;
}
