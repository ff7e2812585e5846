/* op-login.c: the session ops: connect (driven by client.c), LOGIN (+ CAPABILITY when the OK
 * carried none, as RFC 9051 6.2.3 lets servers omit it), LOGOUT (BYE before the tagged OK,
 * RFC 9051 6.1.3) and NOOP. */
#include "client-private.h"

#include <stdio.h>
#include <string.h>

#include "load-opts.h"
#include "worker.h"

enum { K_LOGIN, K_CAPABILITY };

static void op_connect_start(struct client *c)
{
	(void)c; /* client_connect() does the work */
}

const struct op_hooks op_connect_hooks = {.start = op_connect_start};

static void op_login_start(struct client *c)
{
	char user[160];
	snprintf(user, sizeof(user), "%s", client_quote(c->user));
	/* the greeting's capabilities are pre-login ones; forget them */
	c->caps_known = false;
	client_cmd(c, K_LOGIN, "LOGIN %s %s", user, client_quote(client_opts(c)->password));
}

static bool op_login_tagged(struct client *c, struct client_cmd *cmd, const struct imap_resp *r)
{
	if (cmd->kind != K_LOGIN)
		return false;
	if (strcmp(r->name, "OK") == 0) {
		c->logged_in = true;
		c->login_failures = 0;
		return false;
	}
	c->login_failures++;
	if (c->caps & CAP_LOGINDISABLED)
		client_log_error(c, "the server refuses LOGIN without TLS (LOGINDISABLED): use --tls "
				    "or --starttls, or allow plaintext on loopback");
	return false;
}

static void op_login_finish(struct client *c)
{
	if (!c->logged_in)
		return;
	if (!c->caps_known && c->st.login.step == 0) {
		c->st.login.step = 1;
		client_cmd(c, K_CAPABILITY, "CAPABILITY");
		return;
	}
	if (!c->caps_known)
		client_fail(c, STATS_ERR_CHECK, "no CAPABILITY response");
	worker_caps_seen(c->w, c->caps);
}

const struct op_hooks op_login_hooks = {
	.start = op_login_start,
	.tagged = op_login_tagged,
	.finish = op_login_finish,
};

static void op_logout_start(struct client *c)
{
	client_cmd(c, 0, "LOGOUT");
}

static bool op_logout_tagged(struct client *c, struct client_cmd *cmd, const struct imap_resp *r)
{
	(void)cmd;
	if (strcmp(r->name, "OK") != 0)
		client_fail(c, strcmp(r->name, "BAD") == 0 ? STATS_ERR_BAD : STATS_ERR_NO,
			    "LOGOUT answered %s %s", r->name, r->text);
	else if (!c->st.logout.bye)
		client_fail(c, STATS_ERR_CHECK, "LOGOUT OK without a BYE before it");
	client_logout_done(c);
	return true;
}

const struct op_hooks op_logout_hooks = {
	.start = op_logout_start,
	.tagged = op_logout_tagged,
};

static void op_noop_start(struct client *c)
{
	client_cmd(c, 0, "NOOP");
}

const struct op_hooks op_noop_hooks = {.start = op_noop_start};
