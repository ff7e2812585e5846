/* op-lmtp.c: the lmtp mode's operations (RFC 2033): LHLO, one delivery transaction, QUIT.
 * A transaction is MAIL FROM, --rcpts RCPT TO (distinct bench users, taken round robin from
 * where the client's last transaction stopped), DATA; all in one write when the server offers
 * PIPELINING (RFC 2920: DATA ends the group), else one per round trip. On 354 the message goes
 * out dot-stuffed (RFC 5321 4.5.2) and ends with "."; LMTP then answers once per accepted
 * recipient (RFC 2033 4.2), each of which must be 250: a delivery is counted only then.
 * Traps: after a DATA that was not 354 the server still holds the MAIL, so RSET; a 354 when
 * no recipient was accepted breaks RFC 2033 4.2 and ends the connection. */
#include "client-private.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "load-opts.h"
#include "mbox.h"
#include "rng.h"
#include "worker.h"

/* --- LHLO --- */

static void op_lhlo_start(struct client *c)
{
	c->caps = 0;
	c->caps_known = false;
	client_out(c, "LHLO kura-load.bench.test\r\n");
}

static void op_lhlo_caps(struct client *c, const struct smtp_resp *r)
{
	static const struct {
		const char *name;
		unsigned bit;
	} exts[] = {
		{"PIPELINING", CAP_LMTP_PIPELINING},
		{"8BITMIME", CAP_LMTP_8BITMIME},
		{"ENHANCEDSTATUSCODES", CAP_LMTP_ENHANCEDSTATUSCODES},
		{"SIZE", CAP_LMTP_SIZE},
		{"CHUNKING", CAP_LMTP_CHUNKING},
	};
	const char *line;
	size_t len;
	/* line 0 is the server's name; each later line starts with an extension keyword */
	for (unsigned i = 1; smtp_resp_line(r, i, &line, &len) == 1; i++) {
		size_t word = 0;
		while (word < len && line[word] != ' ')
			word++;
		for (size_t k = 0; k < sizeof(exts) / sizeof(exts[0]); k++) {
			if (strlen(exts[k].name) == word && strncasecmp(exts[k].name, line, word) == 0)
				c->caps |= exts[k].bit;
		}
	}
	c->caps_known = true;
}

static void op_lhlo_smtp(struct client *c, const struct smtp_resp *r)
{
	if (r->code != 250) {
		c->login_failures++;
		client_fail(c, STATS_ERR_NO, "LHLO refused: %u %s", r->code, r->last);
	} else {
		op_lhlo_caps(c, r);
		c->logged_in = true;
		c->login_failures = 0;
		worker_caps_seen(c->w, c->caps);
	}
	client_op_complete(c);
}

const struct op_hooks op_lhlo_hooks = {.start = op_lhlo_start, .smtp = op_lhlo_smtp};

/* --- one transaction --- */

static unsigned op_deliver_commands(const struct client *c)
{
	return client_opts(c)->rcpts + 2;
}

static void op_deliver_rcpt_name(const struct client *c, unsigned j, char *buf, size_t size)
{
	const struct load_opts *o = client_opts(c);
	uint32_t idx = (uint32_t)(((uint64_t)c->st.lmtp.first + j) % o->users);
	snprintf(buf, size, "%s%u%s%s", o->user_prefix, o->user_first + idx,
		 o->rcpt_domain[0] != '\0' ? "@" : "", o->rcpt_domain);
}

/* Command i of the transaction: 0 MAIL, 1..k RCPT, k+1 DATA. */
static void op_deliver_send(struct client *c, unsigned i)
{
	const struct load_opts *o = client_opts(c);
	if (i == 0) {
		const struct mbox_msg *m = &client_mbox(c)->msgs[c->st.lmtp.src];
		char size[40] = "";
		if (c->caps & CAP_LMTP_SIZE)
			snprintf(size, sizeof(size), " SIZE=%zu", m->len);
		client_out(c, "MAIL FROM:<%s>%s%s\r\n", o->sender, size,
			   (c->caps & CAP_LMTP_8BITMIME) ? " BODY=8BITMIME" : "");
	} else if (i <= o->rcpts) {
		char rcpt[256];
		op_deliver_rcpt_name(c, i - 1, rcpt, sizeof(rcpt));
		client_out(c, "RCPT TO:<%s>\r\n", rcpt);
	} else {
		client_out(c, "DATA\r\n");
	}
	c->st.lmtp.sent++;
}

/* The message, dot-stuffed (a line that starts with "." gets one more), CRLF at its end, then
 * the end marker. The mbox bytes are referenced, not copied; only the stuffing is. */
static void op_deliver_send_message(struct client *c)
{
	const struct mbox_msg *m = &client_mbox(c)->msgs[c->st.lmtp.src];
	const unsigned char *p = m->data, *end = m->data + m->len;
	const unsigned char *seg = p;
	for (const unsigned char *line = p; line < end;) {
		if (*line == '.') {
			if (line > seg)
				client_out_ref(c, seg, (size_t)(line - seg));
			client_out(c, ".");
			seg = line;
		}
		const unsigned char *nl = memchr(line, '\n', (size_t)(end - line));
		line = nl != NULL ? nl + 1 : end;
	}
	if (end > seg)
		client_out_ref(c, seg, (size_t)(end - seg));
	bool crlf = m->len >= 2 && end[-2] == '\r' && end[-1] == '\n';
	client_out(c, "%s.\r\n", crlf ? "" : "\r\n");
	c->st.lmtp.data_sent = true;
}

static void op_deliver_start(struct client *c)
{
	const struct load_opts *o = client_opts(c);
	c->st.lmtp.first = c->lmtp_next_user;
	c->lmtp_next_user = (uint32_t)(((uint64_t)c->lmtp_next_user + o->rcpts) % o->users);
	c->st.lmtp.src = rng_below(&c->rng, (uint32_t)client_mbox(c)->count);
	bool pipeline = o->lmtp_pipelining && (c->caps & CAP_LMTP_PIPELINING);
	unsigned n = pipeline ? op_deliver_commands(c) : 1;
	for (unsigned i = 0; i < n; i++)
		op_deliver_send(c, i);
}

static void op_deliver_smtp(struct client *c, const struct smtp_resp *r)
{
	const struct load_opts *o = client_opts(c);
	unsigned k = o->rcpts;
	if (c->st.lmtp.rset) {
		if (r->code != 250)
			client_fail(c, STATS_ERR_NO, "RSET: %u %s", r->code, r->last);
		client_op_complete(c);
		return;
	}
	if (c->st.lmtp.data_sent) {
		/* RFC 2033 4.2: one reply per recipient accepted at RCPT, in RCPT order */
		c->st.lmtp.finals++;
		if (r->code == 250)
			c->op_items++;
		else
			client_fail(c, STATS_ERR_NO, "delivery to recipient %u of %u: %u %s",
				    c->st.lmtp.finals, c->st.lmtp.accepted, r->code, r->last);
		if (c->st.lmtp.finals == c->st.lmtp.accepted)
			client_op_complete(c);
		return;
	}
	if (c->st.lmtp.answered >= c->st.lmtp.sent) {
		client_fail(c, STATS_ERR_CHECK, "reply nobody asked for: %u %s", r->code, r->last);
		client_drop(c);
		return;
	}
	unsigned i = c->st.lmtp.answered++;
	if (i == 0) {
		if (r->code != 250)
			client_fail(c, STATS_ERR_NO, "MAIL FROM:<%s>: %u %s", o->sender, r->code,
				    r->last);
	} else if (i <= k) {
		if (r->code == 250) {
			c->st.lmtp.accepted++;
		} else {
			char rcpt[256];
			op_deliver_rcpt_name(c, i - 1, rcpt, sizeof(rcpt));
			client_fail(c, STATS_ERR_NO, "RCPT TO:<%s>: %u %s", rcpt, r->code, r->last);
		}
	} else {
		if (r->code == 354 && c->st.lmtp.accepted == 0) {
			client_fail(c, STATS_ERR_CHECK, "DATA answered 354 with no valid recipient");
			client_drop(c);
			return;
		}
		if (r->code == 354) {
			op_deliver_send_message(c);
			return;
		}
		if (c->st.lmtp.accepted > 0)
			client_fail(c, STATS_ERR_NO, "DATA: %u %s", r->code, r->last);
		/* the transaction failed before the message: clear the server's state */
		c->st.lmtp.rset = true;
		client_out(c, "RSET\r\n");
		return;
	}
	if (c->st.lmtp.sent < op_deliver_commands(c) && c->st.lmtp.answered == c->st.lmtp.sent)
		op_deliver_send(c, c->st.lmtp.sent);
}

const struct op_hooks op_deliver_hooks = {.start = op_deliver_start, .smtp = op_deliver_smtp};

/* --- QUIT --- */

static void op_quit_start(struct client *c)
{
	client_out(c, "QUIT\r\n");
}

static void op_quit_smtp(struct client *c, const struct smtp_resp *r)
{
	if (r->code != 221)
		client_fail(c, STATS_ERR_NO, "QUIT: %u %s", r->code, r->last);
	client_logout_done(c);
}

const struct op_hooks op_quit_hooks = {.start = op_quit_start, .smtp = op_quit_smtp};
