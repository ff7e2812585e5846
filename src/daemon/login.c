/* login.c: the login process. Accepts IMAP and POP3 connections, terminates TLS, runs the
 * not-authenticated state (imap_session or pop3_session), asks the auth process to check
 * credentials and hands the session to the mail process owning the user: the socket itself
 * for plaintext connections, a relayed plaintext socketpair for TLS. It runs chrooted under an
 * unprivileged uid when started as root. Traps: replies from other processes may arrive after
 * the client left (ids, not pointers, cross process boundaries); hook calls from inside the
 * session are answered later (deferred) so the session never re-enters itself. Everything
 * below the hooks is the same for both protocols; only the session calls differ. */
#include "roles.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon/ipc-proto.h"
#include "daemon/privdrop.h"
#include "imap/imap-session.h"
#include "lib/log.h"
#include "pop3/pop3-session.h"
#include "lib/xmalloc.h"
#include "net/conn.h"
#include "net/ipc.h"
#include "net/listen.h"
#include "net/loop.h"
#include "net/tls.h"

struct login_client;

struct login_proc {
	const struct settings *set;
	struct loop *loop;
	SSL_CTX *tls_ctx;
	struct imap_settings imap_set_plain;     /* plaintext not allowed before TLS */
	struct imap_settings imap_set_plain_ok;  /* plaintext allowed (policy/loopback) */
	struct pop3_settings pop3_set_plain, pop3_set_plain_ok;
	struct ipc_chan *ctl;
	struct ipc_chan *auth;
	struct ipc_chan **mail;
	unsigned mail_count;
	struct login_listeners fds;
	struct loop_io *io[LOGIN_LISTENER_COUNT];
	struct login_client *clients;
	struct relay *relays;
	uint32_t next_auth_id;
	size_t connections;
	bool shutting_down;
};

struct login_client {
	struct login_proc *lp;
	enum ipc_protocol proto;
	struct imap_session *session; /* IMAP */
	struct pop3_session *pop3;    /* POP3 */
	struct login_client *prev, *next;
	uint32_t auth_id;   /* 0: no exchange with the auth process */
	char session_id[20];
	char ip[64];
	bool tls;
	/* a failure to report to the session outside its own call stack */
	char *deferred_code, *deferred_msg;
};

struct relay {
	struct login_proc *lp;
	struct relay *prev, *next;
	struct conn *client, *mail;
	char session_id[20];
	bool client_closed, mail_closed, freed;
};

static struct login_proc *login_proc;

static void make_session_id(char *out, size_t size)
{
	static const char alphabet[] = "abcdefghijkmnpqrstuvwxyz23456789";
	unsigned char rnd[12];
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		memset(rnd, 0, sizeof(rnd));
	size_t n = size - 1 < sizeof(rnd) ? size - 1 : sizeof(rnd);
	for (size_t i = 0; i < n; i++)
		out[i] = alphabet[rnd[i] % 32];
	out[n] = '\0';
}

/* --- relays (TLS sessions after the hand-off) --- */

static void relay_free(void *ctx)
{
	free(ctx);
}

/* Unlink once both sides are closed; the memory goes at the end of the batch, since the
 * callbacks that got us here still hold r. */
static void relay_maybe_free(struct relay *r)
{
	if (!r->client_closed || !r->mail_closed || r->freed)
		return;
	r->freed = true;
	if (r->prev != NULL)
		r->prev->next = r->next;
	else
		r->lp->relays = r->next;
	if (r->next != NULL)
		r->next->prev = r->prev;
	r->lp->connections--;
	loop_defer(r->lp->loop, relay_free, r);
}

static void relay_pump(struct conn *from, struct conn *to)
{
	struct buf *in = conn_input(from);
	if (in->len > 0 && conn_write(to, in->data, in->len) == 0)
		buf_consume(in, in->len);
	conn_pause_input(from, conn_output_pending(to) > 256 * 1024);
}

static void relay_client_input(void *ctx)
{
	struct relay *r = ctx;
	if (r->mail != NULL)
		relay_pump(r->client, r->mail);
}

static void relay_mail_input(void *ctx)
{
	struct relay *r = ctx;
	if (r->client != NULL)
		relay_pump(r->mail, r->client);
}

static void relay_client_drain(void *ctx)
{
	struct relay *r = ctx;
	if (r->mail != NULL && r->client != NULL)
		relay_pump(r->mail, r->client);
}

static void relay_mail_drain(void *ctx)
{
	struct relay *r = ctx;
	if (r->mail != NULL && r->client != NULL)
		relay_pump(r->client, r->mail);
}

static void relay_client_closed(void *ctx, const char *reason)
{
	struct relay *r = ctx;
	log_info("session %s: disconnected: %s", r->session_id, reason);
	conn_destroy(&r->client);
	r->client_closed = true;
	if (r->mail != NULL) {
		conn_destroy(&r->mail); /* the mail process sees EOF and ends the session */
		r->mail_closed = true;
	}
	relay_maybe_free(r);
}

static void relay_mail_closed(void *ctx, const char *reason)
{
	struct relay *r = ctx;
	conn_destroy(&r->mail);
	r->mail_closed = true;
	if (r->client != NULL)
		conn_close_after_flush(r->client, "session ended");
	relay_maybe_free(r);
}

static const struct conn_callbacks relay_client_cb = {
	.input = relay_client_input, .drain = relay_client_drain, .closed = relay_client_closed};
static const struct conn_callbacks relay_mail_cb = {
	.input = relay_mail_input, .drain = relay_mail_drain, .closed = relay_mail_closed};

/* --- pre-auth clients --- */

static void client_unlink(struct login_client *c)
{
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		c->lp->clients = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
}

static void client_free_deferred(void *ctx)
{
	struct login_client *c = ctx;
	free(c->deferred_code);
	free(c->deferred_msg);
	free(c);
}

static void client_destroy(struct login_client *c, bool count_down)
{
	client_unlink(c);
	imap_session_destroy(&c->session);
	pop3_session_destroy(&c->pop3);
	if (count_down)
		c->lp->connections--;
	loop_defer(c->lp->loop, client_free_deferred, c);
}

static bool client_has_session(const struct login_client *c)
{
	return c->session != NULL || c->pop3 != NULL;
}

static struct conn *client_conn(struct login_client *c)
{
	return c->session != NULL ? imap_session_conn(c->session) : pop3_session_conn(c->pop3);
}

static struct conn *client_take_conn(struct login_client *c)
{
	return c->session != NULL ? imap_session_take_conn(c->session)
				  : pop3_session_take_conn(c->pop3);
}

static void client_bye(struct login_client *c, const char *reason)
{
	if (c->session != NULL)
		imap_session_bye(c->session, reason);
	else if (c->pop3 != NULL)
		pop3_session_bye(c->pop3, reason);
}

static void client_auth_challenge(struct login_client *c, const unsigned char *data, size_t len)
{
	if (c->session != NULL)
		imap_session_auth_challenge(c->session, data, len);
	else if (c->pop3 != NULL)
		pop3_session_auth_challenge(c->pop3, data, len);
}

static void client_auth_result(struct login_client *c, bool ok, const char *user,
			       const char *code, const char *msg)
{
	if (c->session != NULL)
		imap_session_auth_result(c->session, ok, user, code, msg);
	else if (c->pop3 != NULL)
		pop3_session_auth_result(c->pop3, ok, user, code, msg);
}

static struct login_client *client_by_auth_id(struct login_proc *lp, uint32_t id)
{
	for (struct login_client *c = lp->clients; c != NULL; c = c->next)
		if (c->auth_id == id && id != 0)
			return c;
	return NULL;
}

static void client_deferred_fail(void *ctx)
{
	struct login_client *c = ctx;
	if (!client_has_session(c) || c->deferred_msg == NULL)
		return;
	char *code = c->deferred_code, *msg = c->deferred_msg;
	c->deferred_code = c->deferred_msg = NULL;
	client_auth_result(c, false, NULL, code, msg);
	free(code);
	free(msg);
}

static void client_fail_later(struct login_client *c, const char *code, const char *msg)
{
	free(c->deferred_code);
	free(c->deferred_msg);
	c->deferred_code = xstrdup(code);
	c->deferred_msg = xstrdup(msg);
	c->auth_id = 0;
	loop_defer(c->lp->loop, client_deferred_fail, c);
}

static void client_auth_begin(struct login_client *c, const char *mech, const unsigned char *ir,
			      size_t ir_len, bool has_ir)
{
	struct login_proc *lp = c->lp;
	if (lp->auth == NULL) {
		client_fail_later(c, "UNAVAILABLE",
				  "Authentication service is restarting, try again shortly");
		return;
	}
	if (++lp->next_auth_id == 0)
		lp->next_auth_id = 1;
	c->auth_id = lp->next_auth_id;
	struct buf msg;
	ipc_msg_init(&msg, IPC_AUTH_BEGIN);
	ipc_put_u32(&msg, c->auth_id);
	ipc_put_str(&msg, c->session_id);
	ipc_put_str(&msg, mech);
	ipc_put_str(&msg, c->ip);
	ipc_put_u32(&msg, has_ir ? 1 : 0);
	ipc_put_bytes(&msg, ir, ir_len);
	if (ipc_chan_send(lp->auth, &msg, -1) < 0)
		client_fail_later(c, "UNAVAILABLE", "Authentication service unavailable");
	buf_free_secure(&msg);
}

static void client_auth_continue(struct login_client *c, const unsigned char *resp, size_t len)
{
	if (c->lp->auth == NULL || c->auth_id == 0) {
		client_fail_later(c, "UNAVAILABLE", "Authentication service is restarting");
		return;
	}
	struct buf msg;
	ipc_msg_init(&msg, IPC_AUTH_CONTINUE);
	ipc_put_u32(&msg, c->auth_id);
	if (ipc_put_bytes(&msg, resp, len) < 0 || ipc_chan_send(c->lp->auth, &msg, -1) < 0)
		client_fail_later(c, "UNAVAILABLE", "Authentication service unavailable");
	buf_free_secure(&msg);
}

static void client_auth_abort(struct login_client *c)
{
	if (c->lp->auth != NULL && c->auth_id != 0) {
		struct buf msg;
		ipc_msg_init(&msg, IPC_AUTH_ABORT);
		ipc_put_u32(&msg, c->auth_id);
		ipc_chan_send(c->lp->auth, &msg, -1);
		buf_free(&msg);
	}
	c->auth_id = 0;
}

/* Authenticated: hand the session to the mail process owning the user. tag is IMAP's (the
 * mail process writes the tagged OK); POP3 has none. */
static void client_logged_in(struct login_client *c, const char *user, const char *tag)
{
	struct login_proc *lp = c->lp;
	c->auth_id = 0;
	unsigned idx = mail_index_for_user(user, lp->mail_count);
	struct ipc_chan *chan = lp->mail[idx];
	struct conn *conn = client_conn(c);
	c->tls = conn_is_tls(conn); /* implicit TLS or after STARTTLS/STLS */
	if (chan == NULL) {
		if (c->session != NULL)
			conn_printf(conn, "%s NO [UNAVAILABLE] Mail service is restarting, try again "
					  "shortly\r\n", tag);
		log_warn("session %s: mail process %u unavailable for %s", c->session_id, idx, user);
		client_bye(c, "Mail service unavailable");
		return;
	}
	struct buf msg;
	ipc_msg_init(&msg, IPC_HANDOFF);
	ipc_put_str(&msg, c->session_id);
	ipc_put_str(&msg, user);
	ipc_put_str(&msg, tag);
	ipc_put_str(&msg, c->ip);
	ipc_put_u32(&msg, c->tls ? 1 : 0);
	struct buf *in = conn_input(conn);
	ipc_put_bytes(&msg, in->data, in->len);
	ipc_put_u32(&msg, c->proto);
	buf_reset(in);

	if (!c->tls) {
		int fd = conn_detach_fd(conn);
		ipc_chan_send(chan, &msg, fd);
		log_info("session %s: handed to mail[%u] (plaintext fd)", c->session_id, idx);
		buf_free_secure(&msg);
		client_destroy(c, true);
		return;
	}
	int sp[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
		log_error("socketpair: %s", strerror(errno));
		buf_free_secure(&msg);
		if (c->session != NULL)
			conn_printf(conn, "%s NO [UNAVAILABLE] Internal error\r\n", tag);
		client_bye(c, "Internal error");
		return;
	}
	ipc_chan_send(chan, &msg, sp[1]);
	buf_free_secure(&msg);
	struct relay *r = xcalloc(1, sizeof(*r));
	r->lp = lp;
	memcpy(r->session_id, c->session_id, sizeof(r->session_id));
	r->client = client_take_conn(c);
	struct conn_limits limits;
	conn_limits_default(&limits);
	r->mail = conn_create(lp->loop, sp[0], &limits, &relay_mail_cb, r);
	conn_set_callbacks(r->client, &relay_client_cb, r);
	conn_set_idle_timeout(r->client, 0); /* the mail process enforces the session timeouts */
	conn_pause_input(r->client, false);   /* paused while the auth process was asked */
	r->next = lp->relays;
	if (r->next != NULL)
		r->next->prev = r;
	lp->relays = r;
	log_info("session %s: handed to mail[%u] (TLS relay)", c->session_id, idx);
	client_destroy(c, false); /* the relay keeps counting as the connection */
}

static void client_closed(struct login_client *c, const char *reason)
{
	log_info("session %s: disconnected: %s", c->session_id, reason);
	client_destroy(c, true);
}

/* The hooks of both protocols: unwrap the session and go on in the client_* functions. */

static void hook_auth_begin(struct imap_session *s, const char *mech, const unsigned char *ir,
			    size_t ir_len, bool has_ir)
{
	client_auth_begin(imap_session_owner(s), mech, ir, ir_len, has_ir);
}

static void hook_auth_continue(struct imap_session *s, const unsigned char *resp, size_t len)
{
	client_auth_continue(imap_session_owner(s), resp, len);
}

static void hook_auth_abort(struct imap_session *s)
{
	client_auth_abort(imap_session_owner(s));
}

static void hook_logged_in(struct imap_session *s, const char *user, const char *tag)
{
	client_logged_in(imap_session_owner(s), user, tag);
}

static void hook_closed(struct imap_session *s, const char *reason)
{
	client_closed(imap_session_owner(s), reason);
}

static const struct imap_session_hooks login_hooks = {
	.auth_begin = hook_auth_begin,
	.auth_continue = hook_auth_continue,
	.auth_abort = hook_auth_abort,
	.logged_in = hook_logged_in,
	.closed = hook_closed,
};

static void pop3_hook_auth_begin(struct pop3_session *s, const char *mech,
				 const unsigned char *ir, size_t ir_len, bool has_ir)
{
	client_auth_begin(pop3_session_owner(s), mech, ir, ir_len, has_ir);
}

static void pop3_hook_auth_continue(struct pop3_session *s, const unsigned char *resp,
				    size_t len)
{
	client_auth_continue(pop3_session_owner(s), resp, len);
}

static void pop3_hook_auth_abort(struct pop3_session *s)
{
	client_auth_abort(pop3_session_owner(s));
}

static void pop3_hook_logged_in(struct pop3_session *s, const char *user)
{
	client_logged_in(pop3_session_owner(s), user, "");
}

static void pop3_hook_closed(struct pop3_session *s, const char *reason)
{
	client_closed(pop3_session_owner(s), reason);
}

static const struct pop3_session_hooks login_pop3_hooks = {
	.auth_begin = pop3_hook_auth_begin,
	.auth_continue = pop3_hook_auth_continue,
	.auth_abort = pop3_hook_auth_abort,
	.logged_in = pop3_hook_logged_in,
	.closed = pop3_hook_closed,
};

/* What each listener speaks. */
static const struct {
	enum ipc_protocol proto;
	bool implicit_tls;
	const char *name;
	const char *busy; /* answer when over max_connections (plaintext listeners only) */
} login_listener_kinds[LOGIN_LISTENER_COUNT] = {
	[LOGIN_LISTEN_IMAP] = {IPC_PROTO_IMAP, false, "imap",
			       "* BYE Too many connections, try again later\r\n"},
	[LOGIN_LISTEN_IMAPS] = {IPC_PROTO_IMAP, true, "imaps", NULL},
	[LOGIN_LISTEN_POP3] = {IPC_PROTO_POP3, false, "pop3",
			       "-ERR [SYS/TEMP] Too many connections, try again later\r\n"},
	[LOGIN_LISTEN_POP3S] = {IPC_PROTO_POP3, true, "pop3s", NULL},
};

static void login_accept(struct login_proc *lp, enum login_listener which)
{
	bool implicit_tls = login_listener_kinds[which].implicit_tls;
	enum ipc_protocol proto = login_listener_kinds[which].proto;
	for (int i = 0; i < 64; i++) {
		int fd = listen_accept(lp->fds.fd[which]);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				log_warn("accept: %s", strerror(errno));
			return;
		}
		if (lp->shutting_down || lp->connections >= lp->set->max_connections) {
			const char *busy = login_listener_kinds[which].busy;
			if (busy != NULL)
				(void)!write(fd, busy, strlen(busy));
			close(fd);
			continue;
		}
		struct login_client *c = xcalloc(1, sizeof(*c));
		c->lp = lp;
		c->proto = proto;
		c->tls = implicit_tls;
		make_session_id(c->session_id, sizeof(c->session_id));
		unsigned port = 0;
		if (listen_peer_name(fd, c->ip, sizeof(c->ip), &port) < 0)
			snprintf(c->ip, sizeof(c->ip), "unknown");
		bool plain_ok = lp->set->plaintext_auth == PLAINTEXT_AUTH_ALWAYS ||
				(lp->set->plaintext_auth == PLAINTEXT_AUTH_LOOPBACK &&
				 listen_ip_is_loopback(c->ip));
		struct conn_limits limits;
		conn_limits_default(&limits);
		limits.in_max = lp->set->max_line + 16384;
		static const struct conn_callbacks placeholder = {0};
		struct conn *conn = conn_create(lp->loop, fd, &limits, &placeholder, NULL);
		if (proto == IPC_PROTO_IMAP) {
			struct imap_session_params p = {
				.loop = lp->loop,
				.conn = conn,
				.set = plain_ok ? &lp->imap_set_plain_ok : &lp->imap_set_plain,
				.hooks = &login_hooks,
				.owner = c,
				.state = IMAP_STATE_NOT_AUTH,
				.session_id = c->session_id,
				.remote_ip = c->ip,
				.tls = implicit_tls,
			};
			c->session = imap_session_create(&p);
		} else {
			struct pop3_session_params p = {
				.loop = lp->loop,
				.conn = conn,
				.set = plain_ok ? &lp->pop3_set_plain_ok : &lp->pop3_set_plain,
				.hooks = &login_pop3_hooks,
				.owner = c,
				.state = POP3_STATE_AUTHORIZATION,
				.session_id = c->session_id,
				.remote_ip = c->ip,
				.tls = implicit_tls,
			};
			c->pop3 = pop3_session_create(&p);
		}
		c->next = lp->clients;
		if (c->next != NULL)
			c->next->prev = c;
		lp->clients = c;
		lp->connections++;
		log_info("session %s: connect from %s:%u (%s)", c->session_id, c->ip, port,
			 login_listener_kinds[which].name);
		if (implicit_tls) {
			/* before the greeting, which must go out inside TLS; the handshake can fail
			 * at once (bytes already queued), and then the session is gone */
			conn_start_tls(conn, lp->tls_ctx);
			if (!client_has_session(c))
				continue;
		}
		if (c->session != NULL)
			imap_session_greet(c->session);
		else
			pop3_session_greet(c->pop3);
	}
}

static void login_imap_accept(void *ctx, unsigned events)
{
	login_accept(ctx, LOGIN_LISTEN_IMAP);
}

static void login_imaps_accept(void *ctx, unsigned events)
{
	login_accept(ctx, LOGIN_LISTEN_IMAPS);
}

static void login_pop3_accept(void *ctx, unsigned events)
{
	login_accept(ctx, LOGIN_LISTEN_POP3);
}

static void login_pop3s_accept(void *ctx, unsigned events)
{
	login_accept(ctx, LOGIN_LISTEN_POP3S);
}

/* --- channels --- */

static void login_auth_msg(void *ctx, struct ipc_chan *chan, uint32_t type, struct ipc_reader *r,
			   int fd)
{
	struct login_proc *lp = ctx;
	if (fd >= 0)
		close(fd);
	uint32_t id = ipc_get_u32(r);
	const unsigned char *data = NULL;
	size_t len = 0;
	const char *user = NULL, *code = NULL, *msg = NULL;
	switch (type) {
	case IPC_AUTH_CHALLENGE:
		data = ipc_get_bytes(r, &len);
		break;
	case IPC_AUTH_OK:
		user = ipc_get_str(r);
		break;
	case IPC_AUTH_FAIL:
		code = ipc_get_str(r);
		msg = ipc_get_str(r);
		break;
	default:
		r->bad = true;
	}
	if (!ipc_reader_done(r)) {
		log_error("malformed message %u from the auth process", type);
		ipc_chan_destroy(&lp->auth);
		return;
	}
	struct login_client *c = client_by_auth_id(lp, id);
	if (c == NULL || !client_has_session(c))
		return; /* the client left meanwhile */
	if (type == IPC_AUTH_CHALLENGE) {
		client_auth_challenge(c, data, len);
	} else if (type == IPC_AUTH_OK) {
		c->auth_id = 0;
		client_auth_result(c, true, user, NULL, NULL);
	} else {
		c->auth_id = 0;
		client_auth_result(c, false, NULL, code[0] ? code : NULL, msg);
	}
}

static void login_auth_closed(void *ctx, struct ipc_chan *chan)
{
	struct login_proc *lp = ctx;
	if (!lp->shutting_down)
		log_warn("lost the connection to the auth process");
	ipc_chan_destroy(&lp->auth);
	for (struct login_client *c = lp->clients; c != NULL; c = c->next) {
		if (c->auth_id != 0)
			client_fail_later(c, "UNAVAILABLE",
					  "Authentication service restarted, try again");
	}
}

static void login_mail_msg(void *ctx, struct ipc_chan *chan, uint32_t type, struct ipc_reader *r,
			   int fd)
{
	struct login_proc *lp = ctx;
	if (fd >= 0)
		close(fd);
	for (unsigned i = 0; i < lp->mail_count; i++) {
		if (lp->mail[i] == chan) {
			log_error("unexpected message %u from mail[%u]", type, i);
			ipc_chan_destroy(&lp->mail[i]);
		}
	}
}

static void login_mail_closed(void *ctx, struct ipc_chan *chan)
{
	struct login_proc *lp = ctx;
	for (unsigned i = 0; i < lp->mail_count; i++) {
		if (lp->mail[i] == chan) {
			if (!lp->shutting_down)
				log_warn("lost the connection to mail[%u]", i);
			ipc_chan_destroy(&lp->mail[i]);
		}
	}
}

static void login_ctl_msg(void *ctx, struct ipc_chan *chan, uint32_t type, struct ipc_reader *r,
			  int fd)
{
	struct login_proc *lp = ctx;
	uint32_t idx = type == IPC_PEER_MAIL ? ipc_get_u32(r) : 0;
	if (!ipc_reader_done(r) || fd < 0 || (type != IPC_PEER_AUTH && type != IPC_PEER_MAIL) ||
	    (type == IPC_PEER_MAIL && idx >= lp->mail_count)) {
		log_error("malformed control message %u from the master", type);
		if (fd >= 0)
			close(fd);
		return;
	}
	if (type == IPC_PEER_AUTH) {
		ipc_chan_destroy(&lp->auth);
		lp->auth = ipc_chan_create(lp->loop, fd, login_auth_msg, login_auth_closed, lp);
	} else {
		ipc_chan_destroy(&lp->mail[idx]);
		lp->mail[idx] = ipc_chan_create(lp->loop, fd, login_mail_msg, login_mail_closed, lp);
	}
}

static void login_ctl_closed(void *ctx, struct ipc_chan *chan)
{
	struct login_proc *lp = ctx;
	log_error("master went away: exiting");
	ipc_chan_destroy(&lp->ctl);
	loop_stop(lp->loop);
}

static void login_exit_check(void *ctx)
{
	struct login_proc *lp = ctx;
	if (lp->clients == NULL && lp->relays == NULL)
		loop_stop(lp->loop);
	else
		loop_timer_add(lp->loop, 50, login_exit_check, lp);
}

static void login_deadline(void *ctx)
{
	struct login_proc *lp = ctx;
	loop_stop(lp->loop);
}

static void login_shutdown(void *ctx)
{
	struct login_proc *lp = ctx;
	if (lp->shutting_down)
		return;
	lp->shutting_down = true;
	for (int i = 0; i < LOGIN_LISTENER_COUNT; i++)
		loop_io_remove(&lp->io[i]);
	/* a BYE can complete at once and unlink the client: take next first */
	for (struct login_client *c = lp->clients, *next; c != NULL; c = next) {
		next = c->next;
		client_bye(c, "Server shutting down");
	}
	/* relayed sessions: the mail processes send their BYE; we pass it on */
	loop_timer_add(lp->loop, 0, login_exit_check, lp);
	loop_timer_add(lp->loop, 5000, login_deadline, lp);
}

static void login_imap_settings(struct login_proc *lp, struct imap_settings *is, bool plain_ok)
{
	const struct settings *set = lp->set;
	memset(is, 0, sizeof(*is));
	is->tls_ctx = lp->tls_ctx;
	is->plaintext_auth = plain_ok;
	is->timeout_preauth_ms = set->timeout_preauth * 1000;
	is->timeout_idle_ms = set->timeout_idle * 1000;
	is->max_line = set->max_line;
	is->preauth_literal_max = set->preauth_literal_max;
	is->literal_max = set->max_line;
	is->append_limit = set->append_limit;
}

static void login_pop3_settings(struct login_proc *lp, struct pop3_settings *ps, bool plain_ok)
{
	memset(ps, 0, sizeof(*ps));
	ps->tls_ctx = lp->tls_ctx;
	ps->plaintext_auth = plain_ok;
	ps->timeout_preauth_ms = lp->set->timeout_preauth * 1000;
	ps->timeout_idle_ms = lp->set->timeout_idle * 1000;
}

int login_main(const struct settings *set, int ctl_fd, const struct login_listeners *fds,
	       unsigned index)
{
	struct login_proc lp = {.set = set, .fds = *fds};
	login_proc = &lp;
	char error[512];
	const char *err = NULL;
	/* load the key while we may still read it; then chroot and drop to the login user */
	lp.tls_ctx = tls_server_ctx_create(set->tls_cert, set->tls_key, NULL, &err);
	if (lp.tls_ctx == NULL) {
		log_error("TLS setup failed: %s", err != NULL ? err : "unknown error");
		return 1;
	}
	if (privdrop_apply(set->login_user, set->chroot_dir, error, sizeof(error)) < 0) {
		log_error("%s", error);
		return 1;
	}
	login_imap_settings(&lp, &lp.imap_set_plain, false);
	login_imap_settings(&lp, &lp.imap_set_plain_ok, true);
	login_pop3_settings(&lp, &lp.pop3_set_plain, false);
	login_pop3_settings(&lp, &lp.pop3_set_plain_ok, true);
	lp.mail_count = set->mail_processes;
	lp.mail = xcalloc(lp.mail_count, sizeof(*lp.mail));
	lp.loop = loop_create();
	lp.ctl = ipc_chan_create(lp.loop, ctl_fd, login_ctl_msg, login_ctl_closed, &lp);
	loop_signal_add(lp.loop, SIGTERM, login_shutdown, &lp);
	loop_signal_add(lp.loop, SIGINT, login_shutdown, &lp);
	static void (*const accept_cb[LOGIN_LISTENER_COUNT])(void *, unsigned) = {
		[LOGIN_LISTEN_IMAP] = login_imap_accept,
		[LOGIN_LISTEN_IMAPS] = login_imaps_accept,
		[LOGIN_LISTEN_POP3] = login_pop3_accept,
		[LOGIN_LISTEN_POP3S] = login_pop3s_accept,
	};
	for (int i = 0; i < LOGIN_LISTENER_COUNT; i++) {
		if (lp.fds.fd[i] < 0)
			continue;
		lp.io[i] = loop_io_add(lp.loop, lp.fds.fd[i], LOOP_READ, true, accept_cb[i], &lp);
		if (lp.io[i] == NULL) {
			log_error("cannot watch the listeners: %s", strerror(errno));
			return 1;
		}
	}
	log_info("login[%u] ready", index);
	loop_run(lp.loop);
	return 0;
}
