/* client.c: one simulated IMAP client: the connection (TCP, TLS, STARTTLS), command tags,
 * reading and dispatching responses, the generic handling that keeps the mailbox model
 * honest, setup, and the choice of the next operation. Traps: any callback may close the
 * connection, so loops re-check conn_gen after each dispatch; tagged replies are matched by
 * tag, never by order; FETCH/EXPUNGE sequence numbers are checked against EXISTS before they
 * touch the model. */
#include "client-private.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "lib/pool.h"
#include "lib/xmalloc.h"
#include "load-opts.h"
#include "mbox.h"
#include "net/loop.h"
#include "rng.h"
#include "uidset.h"
#include "worker.h"

#define CLIENT_TEXT_MAX (4u * 1024 * 1024)      /* response text outside literals */
#define CLIENT_KEEP_MAX (64u * 1024)            /* literals kept in memory up to this */
#define CLIENT_OUT_MAX (1024u * 1024 * 1024)    /* mostly references into the mbox */
#define CLIENT_LOGIN_TRIES 3
#define CLIENT_FAILURES_SETUP 3      /* failed setup ops in a row before a client gives up */
#define CLIENT_FAILURES_PAUSE 3      /* failed ops in a row before a 1 s pause */
#define CLIENT_PAUSE_MS 1000
#define CLIENT_SMTP_TEXT_MAX (64u * 1024)       /* one SMTP reply, all lines */

static void client_io_cb(void *ctx, unsigned events);
static void client_timer_cb(void *ctx);
static void client_next(struct client *c);
static void client_connect(struct client *c);

size_t client_struct_size(void)
{
	return sizeof(struct client);
}

uint64_t client_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

const struct load_opts *client_opts(const struct client *c)
{
	return c->w->o;
}

const struct mbox *client_mbox(const struct client *c)
{
	return c->w->mbox;
}

void client_init(struct client *c, struct worker *w, unsigned id)
{
	const struct load_opts *o = w->o;
	memset(c, 0, sizeof(*c));
	c->w = w;
	c->id = id;
	snprintf(c->user, sizeof(c->user), "%s%u", o->user_prefix, o->user_first + id % o->users);
	c->rng = o->seed * 0x2545f4914f6cdd1dULL + id;
	(void)rng_next(&c->rng);
	transport_init(&c->tr);
	imap_resp_reader_init(&c->rd, CLIENT_TEXT_MAX, CLIENT_KEEP_MAX);
	smtp_resp_reader_init(&c->srd, CLIENT_SMTP_TEXT_MAX);
	outq_init(&c->out, CLIENT_OUT_MAX);
	model_init(&c->box);
	c->op = OP_CONNECT;
	/* lmtp: clients start at different users, so concurrent transactions rarely meet */
	c->lmtp_next_user = (uint32_t)(((uint64_t)id * o->rcpts) % o->users);
}

static void client_close_conn(struct client *c)
{
	if (c->io != NULL)
		loop_io_remove(&c->io);
	if (c->tr.fd >= 0) {
		transport_close(&c->tr);
		c->w->conns_open--;
	}
	imap_resp_reader_free(&c->rd);
	imap_resp_reader_init(&c->rd, CLIENT_TEXT_MAX, CLIENT_KEEP_MAX);
	smtp_resp_reader_free(&c->srd);
	smtp_resp_reader_init(&c->srd, CLIENT_SMTP_TEXT_MAX);
	outq_free(&c->out);
	memset(c->cmds, 0, sizeof(c->cmds));
	c->conn = CONN_NONE;
	c->conn_gen++;
	c->logged_in = false;
	c->selected = false;
	c->caps_known = false;
	c->exists = 0;
	c->need_sync = false;
	c->need_full_sync = true;
}

void client_deinit(struct client *c)
{
	if (c->timer != NULL)
		loop_timer_remove(&c->timer);
	client_close_conn(c);
	imap_resp_reader_free(&c->rd);
	smtp_resp_reader_free(&c->srd);
	model_free(&c->box);
}

static const struct op_hooks *client_hooks(const struct client *c)
{
	return op_hooks_get(c->op);
}

/* --- stats and failures --- */

void client_record(struct client *c, enum op_id op, uint64_t start_us, uint64_t items, bool ok,
		   enum stats_err err)
{
	uint64_t now = client_now_us();
	stats_record(&c->w->delta, op, now > start_us ? now - start_us : 0, items, ok, err);
}

static void client_log(struct client *c, const char *what, const char *fmt, va_list ap)
{
	char msg[600];
	if (!worker_error_line(c->w))
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	fprintf(stderr, "kura-load[w%u] client %u (%s) %s: %s\n", c->w->index, c->id, c->user, what,
		msg);
}

void client_log_error(struct client *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	client_log(c, op_name(c->op), fmt, ap);
	va_end(ap);
}

void client_fail(struct client *c, enum stats_err kind, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	client_log(c, op_name(c->op), fmt, ap);
	va_end(ap);
	if (!c->op_active) {
		/* between ops (an unsolicited BYE, a dropped idle connection): count it against
		 * the op that ran last */
		client_record(c, c->op, client_now_us(), 0, false, kind);
		return;
	}
	if (!c->op_failed) {
		c->op_failed = true;
		c->op_err = kind;
	}
}

/* --- output --- */

struct client_cmd *client_cmd_begin(struct client *c, uint8_t kind)
{
	struct client_cmd *cmd = NULL;
	for (int i = 0; i < CLIENT_MAX_CMDS; i++) {
		if (!c->cmds[i].active) {
			cmd = &c->cmds[i];
			break;
		}
	}
	if (cmd == NULL)
		xabort("kura-load: too many commands in flight for one client");
	memset(cmd, 0, sizeof(*cmd));
	cmd->active = true;
	cmd->kind = kind;
	cmd->tag = ++c->tag_seq;
	cmd->start_us = client_now_us();
	c->op_pending++;
	client_out(c, "k%u ", cmd->tag);
	return cmd;
}

void client_out(struct client *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int ret = outq_vprintf(&c->out, fmt, ap);
	va_end(ap);
	if (ret < 0)
		xabort("kura-load: client output over its limit");
}

void client_out_ref(struct client *c, const unsigned char *p, size_t n)
{
	if (outq_append_ref(&c->out, p, n) < 0)
		xabort("kura-load: client output over its limit");
}

void client_cmd_end(struct client *c)
{
	client_out(c, "\r\n");
}

struct client_cmd *client_cmd(struct client *c, uint8_t kind, const char *fmt, ...)
{
	struct client_cmd *cmd = client_cmd_begin(c, kind);
	va_list ap;
	va_start(ap, fmt);
	int ret = outq_vprintf(&c->out, fmt, ap);
	va_end(ap);
	if (ret < 0)
		xabort("kura-load: client output over its limit");
	client_cmd_end(c);
	return cmd;
}

static void client_update_io(struct client *c)
{
	unsigned ev = 0;
	if (c->io == NULL)
		return;
	switch (c->conn) {
	case CONN_NONE:
		return;
	case CONN_CONNECTING:
		ev = LOOP_WRITE;
		break;
	case CONN_TLS:
		ev = (c->tr.want & TRANSPORT_WANT_WRITE) ? LOOP_WRITE : LOOP_READ;
		break;
	case CONN_GREETING:
	case CONN_ONLINE:
		ev = LOOP_READ;
		if (!outq_empty(&c->out) || (c->tr.want & TRANSPORT_WANT_WRITE))
			ev |= LOOP_WRITE;
		break;
	}
	loop_io_set(c->io, ev);
}

void client_flush(struct client *c)
{
	struct iovec iov[64];
	const char *err;
	if (c->conn != CONN_ONLINE && c->conn != CONN_GREETING)
		return;
	while (!outq_empty(&c->out)) {
		int n = outq_iov(&c->out, iov, 64);
		ssize_t w = transport_writev(&c->tr, iov, n, &err);
		if (w < 0) {
			client_fail(c, STATS_ERR_IO, "%s", err);
			client_drop(c);
			return;
		}
		if (w == 0)
			break;
		outq_consume(&c->out, (size_t)w);
		c->w->delta.bytes_out += (uint64_t)w;
	}
	client_update_io(c);
}

/* --- ops --- */

static void client_op_begin(struct client *c, enum op_id op)
{
	c->op = op;
	c->op_active = true;
	c->op_failed = false;
	c->op_pending = 0;
	c->op_items = 0;
	c->op_start_us = client_now_us();
	c->n_expunged = 0;
	c->expunged_overflow = false;
	memset(&c->st, 0, sizeof(c->st));
	client_hooks(c)->start(c);
}

/* Record the op's outcome; no next step. */
static void client_op_record_end(struct client *c)
{
	if (!c->op_active)
		return;
	c->op_active = false;
	const struct op_hooks *h = client_hooks(c);
	if (!h->self_recorded || c->op_failed)
		client_record(c, c->op, c->op_start_us, h->self_recorded ? 0 : c->op_items,
			      !c->op_failed, c->op_err);
	if (c->op_failed && c->op_err == STATS_ERR_CHECK)
		c->need_full_sync = true;
}

static void client_give_up(struct client *c);

static void client_op_end(struct client *c)
{
	enum op_id op = c->op;
	bool failed = c->op_failed;
	client_op_record_end(c);
	if (c->selected && c->exists > c->box.count)
		c->need_sync = true;
	c->op_failures = failed ? c->op_failures + 1 : 0;
	if (failed && !c->ready && c->op_failures >= CLIENT_FAILURES_SETUP) {
		client_log_error(c, "giving up after %u failed setup operations in a row",
				 c->op_failures);
		client_give_up(c);
		return;
	}
	if (failed && c->op_failures >= CLIENT_FAILURES_PAUSE) {
		/* a server that keeps failing is not hammered in a tight loop */
		if (c->timer == NULL)
			c->timer = loop_timer_add(c->w->loop, CLIENT_PAUSE_MS, client_timer_cb, c);
		return;
	}
	const struct load_opts *o = client_opts(c);
	if (o->think_ms > 0 && (op_in_mix(op) || op == OP_DELIVER) && !c->stopping) {
		if (c->timer == NULL)
			c->timer = loop_timer_add(c->w->loop, o->think_ms, client_timer_cb, c);
		return;
	}
	client_next(c);
}

void client_op_complete(struct client *c)
{
	c->op_pending = 0;
	if (c->op_active)
		client_op_end(c);
}

static void client_cmd_done(struct client *c)
{
	uint32_t gen = c->conn_gen;
	if (c->op_pending > 0)
		c->op_pending--;
	if (c->op_pending > 0 || !c->op_active)
		return;
	const struct op_hooks *h = client_hooks(c);
	if (h->finish != NULL)
		h->finish(c);
	if (gen != c->conn_gen || !c->op_active)
		return;
	if (c->op_pending == 0)
		client_op_end(c);
}

/* --- connection lifecycle --- */

static void client_set_done(struct client *c)
{
	if (c->done)
		return;
	c->done = true;
	if (c->timer != NULL)
		loop_timer_remove(&c->timer);
	worker_client_done(c->w);
}

void client_drop(struct client *c)
{
	if (c->op_active)
		client_op_record_end(c);
	client_close_conn(c);
	if (c->stopping || c->dead) {
		client_set_done(c);
		return;
	}
	/* back off while the server refuses connections: 0.5 s doubling to 8 s */
	unsigned shift = c->connect_failures < 4 ? c->connect_failures : 4;
	uint64_t ms = 500u << shift;
	ms += rng_below(&c->rng, (uint32_t)ms / 2 + 1);
	if (c->timer != NULL)
		loop_timer_remove(&c->timer);
	c->timer = loop_timer_add(c->w->loop, ms, client_timer_cb, c);
}

void client_logout_done(struct client *c)
{
	c->op_pending = 0;
	client_op_record_end(c);
	client_close_conn(c);
	if (c->stopping || c->dead) {
		client_set_done(c);
		return;
	}
	/* a LOGOUT in the mix: a user closes the client and opens it again */
	client_connect(c);
}

void client_set_ready(struct client *c)
{
	if (c->ready)
		return;
	c->ready = true;
	worker_client_ready(c->w);
}

static void client_give_up(struct client *c)
{
	c->dead = true;
	worker_client_dead(c->w);
	client_set_ready(c);
	client_close_conn(c);
	client_set_done(c);
}

static void client_tls_step(struct client *c)
{
	const char *err;
	int r = transport_tls_handshake(&c->tr, &err);
	if (r < 0) {
		client_fail(c, STATS_ERR_IO, "%s", err);
		c->connect_failures++;
		client_drop(c);
		return;
	}
	if (r == 0) {
		client_update_io(c);
		return;
	}
	if (client_opts(c)->starttls) {
		/* STARTTLS done: the connect op ends here */
		c->conn = CONN_ONLINE;
		c->caps_known = false;
		client_update_io(c);
		c->connect_failures = 0;
		client_op_end(c);
		return;
	}
	c->conn = CONN_GREETING;
	client_update_io(c);
}

static void client_on_connected(struct client *c)
{
	const struct load_opts *o = client_opts(c);
	const char *err;
	if (o->tls) {
		if (transport_tls_start(&c->tr, c->w->tls, &err) < 0) {
			client_fail(c, STATS_ERR_IO, "%s", err);
			client_drop(c);
			return;
		}
		c->conn = CONN_TLS;
		client_tls_step(c);
		return;
	}
	c->conn = CONN_GREETING;
	client_update_io(c);
}

static void client_connect(struct client *c)
{
	const struct load_opts *o = client_opts(c);
	const char *err;
	const struct sockaddr *src = NULL;
	socklen_t src_len = 0;

	client_op_begin(c, OP_CONNECT);
	if (o->src_count > 0) {
		unsigned i = c->id % o->src_count;
		src = (const struct sockaddr *)&o->src[i];
		src_len = o->src_len[i];
	}
	int r = transport_connect(&c->tr, (const struct sockaddr *)&o->addr, o->addr_len, src,
				  src_len, &err);
	if (r < 0) {
		client_fail(c, STATS_ERR_IO, "%s", err);
		c->connect_failures++;
		client_drop(c);
		return;
	}
	c->w->conns_open++;
	c->io = loop_io_add(c->w->loop, c->tr.fd, LOOP_WRITE, false, client_io_cb, c);
	if (c->io == NULL)
		xabort("kura-load: epoll registration failed");
	c->conn = CONN_CONNECTING;
	if (r == 1)
		client_on_connected(c);
}

/* --- capabilities --- */

static void client_caps_word(struct client *c, const char *w, size_t n)
{
	static const struct {
		const char *name;
		unsigned bit;
	} caps[] = {
		{"IMAP4rev2", CAP_IMAP4REV2}, {"IDLE", CAP_IDLE},
		{"MOVE", CAP_MOVE},           {"UIDPLUS", CAP_UIDPLUS},
		{"LITERAL+", CAP_LITERALPLUS}, {"MULTIAPPEND", CAP_MULTIAPPEND},
		{"STARTTLS", CAP_STARTTLS},   {"LOGINDISABLED", CAP_LOGINDISABLED},
		{"ESEARCH", CAP_ESEARCH},     {"CONDSTORE", CAP_CONDSTORE},
	};
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		if (strlen(caps[i].name) == n && strncasecmp(caps[i].name, w, n) == 0)
			c->caps |= caps[i].bit;
	}
}

static void client_caps_text(struct client *c, const char *s)
{
	c->caps = 0;
	c->caps_known = true;
	while (*s != '\0') {
		while (*s == ' ')
			s++;
		const char *start = s;
		while (*s != '\0' && *s != ' ')
			s++;
		if (s > start)
			client_caps_word(c, start, (size_t)(s - start));
	}
}

static void client_caps_list(struct client *c, const struct imap_val *v)
{
	c->caps = 0;
	c->caps_known = true;
	for (; v != NULL; v = v->next) {
		if (v->type == IMAP_VAL_ATOM)
			client_caps_word(c, v->str, v->len);
	}
}

/* --- generic response handling --- */

static void client_on_exists(struct client *c, uint32_t n)
{
	if (c->op_active && c->op == OP_SELECT && c->st.select.in_select) {
		c->exists = n;
		return;
	}
	if (n < c->exists)
		client_fail(c, STATS_ERR_CHECK, "EXISTS %u after EXISTS %u: it may not decrease", n,
			    c->exists);
	c->exists = n;
}

static void client_on_expunge(struct client *c, uint32_t seq)
{
	if (seq == 0 || seq > c->exists) {
		client_fail(c, STATS_ERR_CHECK, "EXPUNGE %u but only %u messages exist", seq,
			    c->exists);
		return;
	}
	c->exists--;
	if (seq > c->box.count)
		return;
	uint32_t uid = c->box.msgs[seq - 1].uid;
	model_remove_at(&c->box, seq - 1);
	if (c->n_expunged < CLIENT_OP_UIDS)
		c->expunged[c->n_expunged++] = uid;
	else
		c->expunged_overflow = true;
}

bool client_was_expunged(const struct client *c, uint32_t uid)
{
	for (size_t i = 0; i < c->n_expunged; i++) {
		if (c->expunged[i] == uid)
			return true;
	}
	return false;
}

static bool client_fetch_section_name(const char *name)
{
	return strncasecmp(name, "BODY[", 5) == 0 || strncasecmp(name, "BINARY[", 7) == 0 ||
	       strcasecmp(name, "RFC822") == 0 || strcasecmp(name, "RFC822.HEADER") == 0 ||
	       strcasecmp(name, "RFC822.TEXT") == 0 || strncasecmp(name, "BINARY.SIZE[", 12) == 0;
}

static bool client_parse_fetch(const struct imap_val *args, struct fetch_attrs *a)
{
	memset(a, 0, sizeof(*a));
	if (args == NULL || args->type != IMAP_VAL_LIST || args->next != NULL)
		return false;
	for (const struct imap_val *k = args->list; k != NULL; k = k->next->next) {
		if (k->type != IMAP_VAL_ATOM || k->next == NULL)
			return false;
		const struct imap_val *v = k->next;
		if (imap_val_is(k, "UID")) {
			if (!imap_val_u32(v, &a->uid) || a->uid == 0)
				return false;
			a->has_uid = true;
		} else if (imap_val_is(k, "FLAGS")) {
			if (!model_flags_parse(v, &a->flags))
				return false;
			a->has_flags = true;
		} else if (imap_val_is(k, "RFC822.SIZE")) {
			if (!imap_val_u32(v, &a->size))
				return false;
			a->has_size = true;
		} else if (imap_val_is(k, "ENVELOPE")) {
			a->envelope = v;
		} else if (imap_val_is(k, "BODYSTRUCTURE")) {
			a->bodystructure = v;
		} else if (imap_val_is(k, "INTERNALDATE")) {
			a->internaldate = v;
		} else if (client_fetch_section_name(k->str)) {
			if (a->n_sections < sizeof(a->sections) / sizeof(a->sections[0])) {
				a->sections[a->n_sections].name = k->str;
				a->sections[a->n_sections].val = v;
				a->n_sections++;
			}
		}
	}
	return true;
}

static void client_on_fetch(struct client *c, const struct imap_resp *r)
{
	struct fetch_attrs a;
	uint32_t seq = r->num;
	if (!client_parse_fetch(r->args, &a)) {
		client_fail(c, STATS_ERR_CHECK, "malformed FETCH response for message %u", seq);
		return;
	}
	if (seq == 0 || seq > c->exists) {
		client_fail(c, STATS_ERR_CHECK, "FETCH for message %u but only %u messages exist",
			    seq, c->exists);
		return;
	}
	if (seq <= c->box.count) {
		const struct model_msg *m = &c->box.msgs[seq - 1];
		if (a.has_uid && m->uid != a.uid) {
			client_fail(c, STATS_ERR_CHECK, "FETCH of message %u carries UID %u, expected %u",
				    seq, a.uid, m->uid);
			return;
		}
		if (a.has_size && m->size != 0 && m->size != a.size) {
			client_fail(c, STATS_ERR_CHECK, "UID %u: RFC822.SIZE %u, expected %u", m->uid,
				    a.size, m->size);
		}
	}
	const struct op_hooks *h = client_hooks(c);
	uint32_t gen = c->conn_gen;
	if (c->op_active && h->fetch != NULL)
		h->fetch(c, seq, &a);
	if (gen != c->conn_gen)
		return;
	if (seq <= c->box.count) {
		struct model_msg *m = &c->box.msgs[seq - 1];
		if (a.has_flags)
			m->flags = a.flags;
		if (a.has_size && m->size == 0)
			m->size = a.size;
	}
}

static void client_on_status_code(struct client *c, const struct imap_resp *r)
{
	uint32_t n;
	const char *args = r->code_args;
	if (strcmp(r->code, "CAPABILITY") == 0) {
		client_caps_text(c, args);
	} else if (strcmp(r->code, "UIDVALIDITY") == 0 && imap_resp_u32(args, strlen(args), &n)) {
		if (c->uidvalidity != 0 && c->uidvalidity != n && c->selected && !c->need_full_sync)
			client_fail(c, STATS_ERR_CHECK, "UIDVALIDITY changed from %u to %u",
				    c->uidvalidity, n);
		c->uidvalidity = n;
	} else if (strcmp(r->code, "UIDNEXT") == 0 && imap_resp_u32(args, strlen(args), &n)) {
		c->uidnext = n;
	}
}

static void client_handle_untagged(struct client *c, const struct imap_resp *r)
{
	uint32_t gen = c->conn_gen;
	const char *name = r->name;
	if (r->has_num) {
		if (strcmp(name, "EXISTS") == 0) {
			client_on_exists(c, r->num);
		} else if (strcmp(name, "EXPUNGE") == 0) {
			client_on_expunge(c, r->num);
		} else if (strcmp(name, "FETCH") == 0) {
			client_on_fetch(c, r);
			return;
		}
	} else if (r->is_status) {
		if (r->code != NULL)
			client_on_status_code(c, r);
		if (strcmp(name, "BYE") == 0) {
			if (c->op_active && c->op == OP_LOGOUT) {
				c->st.logout.bye = true;
			} else {
				client_fail(c, STATS_ERR_IO, "unexpected BYE: %s", r->text);
				client_drop(c);
				return;
			}
		} else if (strcmp(name, "BAD") == 0) {
			client_fail(c, STATS_ERR_BAD, "untagged BAD: %s", r->text);
		}
	} else if (strcmp(name, "CAPABILITY") == 0) {
		client_caps_list(c, r->args);
	}
	const struct op_hooks *h = client_hooks(c);
	if (gen == c->conn_gen && c->op_active && h->untagged != NULL)
		h->untagged(c, r);
}

static struct client_cmd *client_find_cmd(struct client *c, const char *tag)
{
	uint32_t n;
	if (tag[0] != 'k' || !imap_resp_u32(tag + 1, strlen(tag + 1), &n))
		return NULL;
	for (int i = 0; i < CLIENT_MAX_CMDS; i++) {
		if (c->cmds[i].active && c->cmds[i].tag == n)
			return &c->cmds[i];
	}
	return NULL;
}

static void client_starttls_reply(struct client *c, struct client_cmd *cmd,
				  const struct imap_resp *r)
{
	const char *err;
	cmd->active = false;
	c->op_pending = 0;
	if (strcmp(r->name, "OK") != 0) {
		client_fail(c, STATS_ERR_NO, "STARTTLS refused: %s %s", r->name, r->text);
		client_drop(c);
		return;
	}
	if (imap_resp_reader_partial(&c->rd) || !outq_empty(&c->out)) {
		client_fail(c, STATS_ERR_CHECK, "data after the STARTTLS reply");
		client_drop(c);
		return;
	}
	if (transport_tls_start(&c->tr, c->w->tls, &err) < 0) {
		client_fail(c, STATS_ERR_IO, "%s", err);
		client_drop(c);
		return;
	}
	c->conn = CONN_TLS;
	client_tls_step(c);
}

static void client_handle_tagged(struct client *c, const struct imap_resp *r)
{
	uint32_t gen = c->conn_gen;
	struct client_cmd *cmd = client_find_cmd(c, r->tag);
	if (cmd == NULL) {
		client_fail(c, STATS_ERR_CHECK, "tagged reply for a tag not in flight: %s %s",
			    r->tag, r->name);
		client_drop(c);
		return;
	}
	if (r->code != NULL)
		client_on_status_code(c, r);
	if (c->op == OP_CONNECT) {
		client_starttls_reply(c, cmd, r);
		return;
	}
	bool ok = strcmp(r->name, "OK") == 0;
	const struct op_hooks *h = client_hooks(c);
	bool expected = h->tagged != NULL && h->tagged(c, cmd, r);
	if (gen != c->conn_gen)
		return;
	if (!ok && !expected) {
		bool bad = strcmp(r->name, "BAD") == 0;
		client_fail(c, bad ? STATS_ERR_BAD : STATS_ERR_NO, "%s%s%s%s %s", r->name,
			    r->code ? " [" : "", r->code ? r->code : "", r->code ? "]" : "", r->text);
	}
	cmd->active = false;
	cmd->want_cont = false;
	client_cmd_done(c);
}

static void client_handle_cont(struct client *c, const struct imap_resp *r)
{
	struct client_cmd *cmd = NULL;
	for (int i = 0; i < CLIENT_MAX_CMDS; i++) {
		if (c->cmds[i].active && c->cmds[i].want_cont &&
		    (cmd == NULL || c->cmds[i].tag < cmd->tag))
			cmd = &c->cmds[i];
	}
	if (cmd == NULL) {
		client_fail(c, STATS_ERR_CHECK, "continuation request nobody asked for: %s", r->text);
		client_drop(c);
		return;
	}
	cmd->want_cont = false;
	if (cmd->cont_data != NULL) {
		client_out_ref(c, cmd->cont_data, cmd->cont_len);
		client_out(c, "\r\n");
		cmd->cont_data = NULL;
		return;
	}
	const struct op_hooks *h = client_hooks(c);
	if (h->cont != NULL)
		h->cont(c, cmd, r);
}

static void client_handle_greeting(struct client *c, const struct imap_resp *r)
{
	if (r->kind != IMAP_RESP_UNTAGGED || !r->is_status) {
		client_fail(c, STATS_ERR_CHECK, "greeting is not an untagged status response");
		client_drop(c);
		return;
	}
	if (strcmp(r->name, "BYE") == 0) {
		client_fail(c, STATS_ERR_IO, "server refused the connection: BYE %s", r->text);
		c->connect_failures++;
		client_drop(c);
		return;
	}
	if (strcmp(r->name, "OK") != 0) {
		client_fail(c, STATS_ERR_CHECK, "unexpected greeting: %s %s", r->name, r->text);
		client_drop(c);
		return;
	}
	if (r->code != NULL)
		client_on_status_code(c, r);
	c->conn = CONN_ONLINE;
	if (client_opts(c)->starttls) {
		client_cmd(c, 0, "STARTTLS");
		client_flush(c);
		return;
	}
	c->connect_failures = 0;
	client_op_end(c);
}

static void client_handle(struct client *c, const struct imap_resp *r)
{
	if (c->conn == CONN_GREETING) {
		client_handle_greeting(c, r);
		return;
	}
	switch (r->kind) {
	case IMAP_RESP_CONT:
		client_handle_cont(c, r);
		break;
	case IMAP_RESP_UNTAGGED:
		client_handle_untagged(c, r);
		break;
	case IMAP_RESP_TAGGED:
		client_handle_tagged(c, r);
		break;
	}
}

/* lmtp mode: the greeting (220) ends the connect op; every later reply goes to the op in
 * progress. A 421 at any time is the server closing the session (RFC 5321 3.8). */
static void client_handle_smtp(struct client *c, const struct smtp_resp *r)
{
	if (c->conn == CONN_GREETING) {
		if (r->code != 220) {
			client_fail(c, STATS_ERR_IO, "server refused the connection: %u %s", r->code,
				    r->text);
			c->connect_failures++;
			client_drop(c);
			return;
		}
		c->conn = CONN_ONLINE;
		c->connect_failures = 0;
		client_op_end(c);
		return;
	}
	const struct op_hooks *h = client_hooks(c);
	if (r->code == 421 && !(c->op_active && c->op == OP_QUIT)) {
		client_fail(c, STATS_ERR_IO, "server closes the session: 421 %s", r->last);
		client_drop(c);
		return;
	}
	if (!c->op_active || h->smtp == NULL) {
		client_fail(c, STATS_ERR_CHECK, "reply nobody asked for: %u %s", r->code, r->last);
		client_drop(c);
		return;
	}
	h->smtp(c, r);
}

static bool client_consume_smtp(struct client *c, const unsigned char *buf, size_t n)
{
	uint32_t gen = c->conn_gen;
	const char *err;
	size_t off = 0;
	while (off < n) {
		size_t used;
		int r = smtp_resp_reader_feed(&c->srd, buf + off, n - off, &used, &err);
		if (r < 0) {
			client_fail(c, STATS_ERR_CHECK, "protocol violation: %s", err);
			client_drop(c);
			return false;
		}
		off += used;
		if (r == 0)
			break;
		struct smtp_resp resp;
		smtp_resp_reader_get(&c->srd, &resp);
		client_handle_smtp(c, &resp);
		if (gen != c->conn_gen)
			return false;
		smtp_resp_reader_next(&c->srd);
	}
	return true;
}

/* Feed n bytes to the reader and handle every complete response. false when the
 * connection was closed or changed state (TLS starts) meanwhile. */
static bool client_consume(struct client *c, const unsigned char *buf, size_t n)
{
	if (client_opts(c)->mode == LOAD_MODE_LMTP)
		return client_consume_smtp(c, buf, n);
	uint32_t gen = c->conn_gen;
	enum client_conn state = c->conn;
	const char *err;
	size_t off = 0;
	while (off < n) {
		size_t used;
		int r = imap_resp_reader_feed(&c->rd, buf + off, n - off, &used, &err);
		if (r < 0) {
			client_fail(c, STATS_ERR_CHECK, "protocol violation: %s", err);
			client_drop(c);
			return false;
		}
		off += used;
		if (r == 0)
			break;
		struct imap_resp resp;
		if (imap_resp_parse(&c->rd, c->w->resp_pool, &resp, &err) < 0) {
			client_fail(c, STATS_ERR_CHECK, "unparsable response (%s): %.120s", err,
				    (const char *)c->rd.text.data);
			client_drop(c);
			return false;
		}
		client_handle(c, &resp);
		pool_clear(c->w->resp_pool);
		if (gen != c->conn_gen)
			return false;
		imap_resp_reader_next(&c->rd);
		if (c->conn != state && !(state == CONN_GREETING && c->conn == CONN_ONLINE))
			return false;
		state = c->conn;
	}
	return true;
}

static void client_read(struct client *c)
{
	const char *err;
	uint32_t gen = c->conn_gen;
	/* TLS may hold decrypted bytes epoll cannot see: read until it would block */
	int rounds = c->tr.ssl != NULL ? 1 << 30 : 16;
	for (int i = 0; i < rounds; i++) {
		ssize_t n = transport_read(&c->tr, c->w->scratch, WORKER_SCRATCH, &err);
		if (n == 0)
			return;
		if (n < 0) {
			if (c->tr.eof && c->op_active && c->op == OP_LOGOUT && c->st.logout.bye) {
				client_logout_done(c);
				return;
			}
			client_fail(c, STATS_ERR_IO, "%s", err);
			client_drop(c);
			return;
		}
		c->w->delta.bytes_in += (uint64_t)n;
		if (!client_consume(c, c->w->scratch, (size_t)n) || gen != c->conn_gen)
			return;
		if (c->conn == CONN_TLS)
			return;
	}
}

static void client_io_cb(void *ctx, unsigned events)
{
	struct client *c = ctx;
	const char *err;
	uint32_t gen = c->conn_gen;

	switch (c->conn) {
	case CONN_NONE:
		return;
	case CONN_CONNECTING:
		if (transport_connect_finish(&c->tr, &err) < 0) {
			client_fail(c, STATS_ERR_IO, "%s", err);
			c->connect_failures++;
			client_drop(c);
			return;
		}
		client_on_connected(c);
		return;
	case CONN_TLS:
		client_tls_step(c);
		return;
	case CONN_GREETING:
	case CONN_ONLINE:
		if ((events & (LOOP_READ | LOOP_ERROR)) || c->tr.ssl != NULL)
			client_read(c);
		if (gen != c->conn_gen)
			return;
		client_flush(c);
		return;
	}
}

/* --- what next --- */

size_t client_visible(const struct client *c)
{
	return c->box.count < c->exists ? c->box.count : c->exists;
}

size_t client_pick_uids(struct client *c, size_t max, bool consecutive, uint32_t *uids)
{
	size_t v = client_visible(c);
	if (v == 0 || max == 0)
		return 0;
	size_t n = max < v ? max : v;
	if (consecutive || n > 8) {
		size_t start = rng_below(&c->rng, (uint32_t)(v - n + 1));
		for (size_t i = 0; i < n; i++)
			uids[i] = c->box.msgs[start + i].uid;
		return n;
	}
	size_t got = 0;
	for (unsigned tries = 0; got < n && tries < 64; tries++) {
		uint32_t uid = c->box.msgs[rng_below(&c->rng, (uint32_t)v)].uid;
		bool dup = false;
		for (size_t i = 0; i < got; i++)
			dup = dup || uids[i] == uid;
		if (dup)
			continue;
		size_t pos = got++;
		while (pos > 0 && uids[pos - 1] > uid) {
			uids[pos] = uids[pos - 1];
			pos--;
		}
		uids[pos] = uid;
	}
	return got;
}

const char *client_uidset(const uint32_t *uids, size_t n)
{
	static char set[CLIENT_OP_UIDS * 12 + 1];
	if (uidset_format(set, sizeof(set), uids, n) < 0)
		xabort("kura-load: UID set too long");
	return set;
}

const char *client_quote(const char *s)
{
	static char q[512];
	size_t k = 0;
	q[k++] = '"';
	for (; *s != '\0' && k < sizeof(q) - 3; s++) {
		if (*s == '"' || *s == '\\')
			q[k++] = '\\';
		q[k++] = *s;
	}
	q[k++] = '"';
	q[k] = '\0';
	return q;
}

static bool client_op_needs_messages(enum op_id op)
{
	switch (op) {
	case OP_FETCH_FLAGS:
	case OP_FETCH_ENV:
	case OP_FETCH_HEADERS:
	case OP_FETCH_BODY:
	case OP_FETCH_PARTS:
	case OP_STORE:
	case OP_EXPUNGE:
	case OP_COPY:
	case OP_MOVE:
		return true;
	default:
		return false;
	}
}

static enum op_id client_pick_op(struct client *c)
{
	const struct load_opts *o = client_opts(c);
	enum op_id op = worker_pick_op(c->w, c->caps, &c->rng);
	if (op == OP_COUNT)
		return OP_NOOP;
	size_t visible = client_visible(c);
	bool can_append = o->weights[OP_APPEND] > 0;
	if (client_op_needs_messages(op) && visible == 0)
		return can_append ? OP_APPEND : OP_SELECT;
	/* keep a message or two so the other ops have something to work on */
	if ((op == OP_EXPUNGE || op == OP_MOVE) && visible <= 2 && can_append)
		return OP_APPEND;
	return op;
}

static void client_next(struct client *c)
{
	const struct load_opts *o = client_opts(c);
	if (c->conn != CONN_ONLINE || c->op_active || c->done || c->timer != NULL)
		return;
	if (c->stopping) {
		client_op_begin(c, o->mode == LOAD_MODE_LMTP ? OP_QUIT : OP_LOGOUT);
		client_flush(c);
		return;
	}
	if (o->mode == LOAD_MODE_LMTP) {
		/* logged_in stands for "LHLO accepted" */
		if (!c->logged_in && c->login_failures >= CLIENT_LOGIN_TRIES) {
			client_give_up(c);
			return;
		}
		if (!c->logged_in) {
			client_op_begin(c, OP_LHLO);
		} else {
			client_set_ready(c);
			if (!c->w->go)
				return;
			client_op_begin(c, OP_DELIVER);
		}
		client_flush(c);
		return;
	}
	if (!c->logged_in) {
		if (c->login_failures >= CLIENT_LOGIN_TRIES) {
			client_give_up(c);
			return;
		}
		client_op_begin(c, OP_LOGIN);
		client_flush(c);
		return;
	}
	switch (o->mode) {
	case LOAD_MODE_MIX:
		if (!c->archive_ok && (o->weights[OP_COPY] > 0 || o->weights[OP_MOVE] > 0 ||
				       o->weights[OP_STATUS] > 0)) {
			client_op_begin(c, OP_CREATE);
		} else if (o->prefill > 0 && !c->prefilled) {
			client_op_begin(c, OP_FILL);
		} else if (!c->selected || c->need_full_sync) {
			client_op_begin(c, OP_SELECT);
		} else if (c->need_sync) {
			client_op_begin(c, OP_SYNC);
		} else {
			client_set_ready(c);
			if (!c->w->go)
				return;
			client_op_begin(c, client_pick_op(c));
		}
		break;
	case LOAD_MODE_IDLE:
		if (!c->selected) {
			client_op_begin(c, OP_SELECT);
		} else if (c->caps & CAP_IDLE) {
			client_op_begin(c, OP_IDLE);
		} else {
			/* no IDLE: the connection just stays selected (reported by the coordinator) */
			client_set_ready(c);
			return;
		}
		break;
	case LOAD_MODE_FILL:
		client_set_ready(c);
		if (!c->w->go)
			return;
		if (!c->prefilled) {
			client_op_begin(c, OP_FILL);
		} else {
			c->stopping = true;
			client_op_begin(c, OP_LOGOUT);
		}
		break;
	case LOAD_MODE_LMTP:
		return; /* handled above */
	}
	client_flush(c);
}

static void client_timer_cb(void *ctx)
{
	struct client *c = ctx;
	c->timer = NULL;
	if (c->done)
		return;
	if (c->conn == CONN_NONE) {
		if (!c->stopping && !c->dead)
			client_connect(c);
		return;
	}
	const struct op_hooks *h = client_hooks(c);
	if (c->op_active) {
		/* a hold inside an op (IDLE) is over */
		if (h->stop != NULL)
			h->stop(c);
		client_flush(c);
		return;
	}
	client_next(c);
}

void client_hold(struct client *c, uint64_t ms)
{
	if (c->timer != NULL)
		loop_timer_remove(&c->timer);
	c->timer = loop_timer_add(c->w->loop, ms, client_timer_cb, c);
}

/* --- worker entry points --- */

void client_start(struct client *c)
{
	client_connect(c);
}

void client_go(struct client *c)
{
	if (c->conn == CONN_ONLINE && !c->op_active && c->timer == NULL)
		client_next(c);
}

void client_stop(struct client *c)
{
	c->stopping = true;
	if (c->done)
		return;
	if (c->dead || c->conn == CONN_NONE) {
		client_set_done(c);
		return;
	}
	if (c->conn != CONN_ONLINE) {
		client_drop(c);
		return;
	}
	if (c->op_active) {
		const struct op_hooks *h = client_hooks(c);
		if (h->stop != NULL)
			h->stop(c);
		client_flush(c);
		return;
	}
	if (c->timer != NULL)
		loop_timer_remove(&c->timer);
	client_next(c);
}

void client_tick(struct client *c, uint64_t now_us)
{
	const struct load_opts *o = client_opts(c);
	uint64_t limit = (uint64_t)o->timeout_s * 1000000;
	if (c->conn == CONN_NONE || c->done)
		return;
	if (c->conn != CONN_ONLINE) {
		if (now_us - c->op_start_us > limit) {
			client_fail(c, STATS_ERR_TIMEOUT, "no greeting within %u s", o->timeout_s);
			client_drop(c);
		}
		return;
	}
	if (o->mode == LOAD_MODE_LMTP) {
		/* no tags: a transaction (or LHLO, QUIT) as a whole must finish in time */
		if (c->op_active && now_us - c->op_start_us > limit) {
			client_fail(c, STATS_ERR_TIMEOUT, "%s not finished within %u s",
				    op_name(c->op), o->timeout_s);
			client_drop(c);
		}
		return;
	}
	bool idling = c->op_active && c->op == OP_IDLE && c->st.idle.in_idle && !c->st.idle.done_sent;
	for (int i = 0; i < CLIENT_MAX_CMDS && !idling; i++) {
		const struct client_cmd *cmd = &c->cmds[i];
		if (cmd->active && now_us - cmd->start_us > limit) {
			client_fail(c, STATS_ERR_TIMEOUT, "no answer within %u s", o->timeout_s);
			client_drop(c);
			return;
		}
	}
}
