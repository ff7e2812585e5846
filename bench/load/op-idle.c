/* op-idle.c: IDLE (RFC 2177): wait for the continuation, stay idle (--idle-secs in the mix;
 * until the end in idle mode), then DONE and the tagged OK. The latency recorded is the
 * server's part only: until the continuation plus from DONE to the OK, not the hold. */
#include "client-private.h"

#include <string.h>

#include "load-opts.h"
#include "net/loop.h"

enum { K_IDLE };

static void op_idle_start(struct client *c)
{
	struct client_cmd *cmd = client_cmd(c, K_IDLE, "IDLE");
	cmd->want_cont = true;
}

static void op_idle_done(struct client *c)
{
	if (c->st.idle.done_sent)
		return;
	c->st.idle.done_sent = true;
	c->st.idle.done_us = client_now_us();
	if (c->timer != NULL)
		loop_timer_remove(&c->timer);
	for (int i = 0; i < CLIENT_MAX_CMDS; i++) {
		if (c->cmds[i].active && c->cmds[i].kind == K_IDLE)
			c->cmds[i].start_us = c->st.idle.done_us; /* the timeout counts from DONE */
	}
	client_out(c, "DONE\r\n");
}

static void op_idle_cont(struct client *c, struct client_cmd *cmd, const struct imap_resp *r)
{
	(void)cmd;
	(void)r;
	const struct load_opts *o = client_opts(c);
	c->st.idle.in_idle = true;
	c->st.idle.cont_us = client_now_us();
	if (c->stopping) {
		op_idle_done(c);
		return;
	}
	if (o->mode == LOAD_MODE_IDLE) {
		client_set_ready(c);
		return;
	}
	client_hold(c, o->idle_ms); /* then our stop hook runs */
}

/* End the hold (timer) or stop early (worker stopping). Before the continuation arrived,
 * the cont hook sends DONE as soon as it does. */
static void op_idle_stop(struct client *c)
{
	if (c->st.idle.in_idle)
		op_idle_done(c);
}

static void op_idle_finish(struct client *c)
{
	if (!c->st.idle.in_idle) {
		if (!c->op_failed)
			client_fail(c, STATS_ERR_CHECK, "IDLE ended without a continuation");
		return;
	}
	/* leave only the server's share in the op's latency */
	if (c->st.idle.done_sent && c->st.idle.done_us > c->st.idle.cont_us)
		c->op_start_us += c->st.idle.done_us - c->st.idle.cont_us;
}

const struct op_hooks op_idle_hooks = {
	.start = op_idle_start,
	.cont = op_idle_cont,
	.stop = op_idle_stop,
	.finish = op_idle_finish,
};
