/* op-store.c: STORE of one flag on one to three messages, toggling it as a user marking mail
 * read/unread, flagged or answered would; one in seven is .SILENT. Checks: each FETCH the
 * server sends back is for a UID asked for and shows the flag set (+FLAGS) or cleared
 * (-FLAGS). The model takes the change afterwards even where the server sent no FETCH, so a
 * lost change shows up at the next fetch-flags. */
#include "client-private.h"

#include <string.h>

#include "load-opts.h"
#include "rng.h"

static const uint8_t op_store_flags[] = {MODEL_SEEN, MODEL_FLAGGED, MODEL_ANSWERED};

static void op_store_start(struct client *c)
{
	size_t n = client_pick_uids(c, 1 + rng_below(&c->rng, 3), false, c->st.store.uids);
	c->st.store.n = n;
	c->op_items = n;
	if (n == 0) {
		client_cmd(c, 0, "NOOP");
		return;
	}
	c->st.store.flag = op_store_flags[rng_below(&c->rng, 3)];
	size_t idx;
	bool has = model_find(&c->box, c->st.store.uids[0], &idx) &&
		   (c->box.msgs[idx].flags & c->st.store.flag);
	c->st.store.add = !has;
	c->st.store.silent = rng_below(&c->rng, 7) == 0;
	client_cmd(c, 0, "UID STORE %s %sFLAGS%s (%s)", client_uidset(c->st.store.uids, n),
		   c->st.store.add ? "+" : "-", c->st.store.silent ? ".SILENT" : "",
		   model_flag_name(c->st.store.flag));
}

static bool op_store_asked(const struct client *c, uint32_t uid)
{
	for (size_t i = 0; i < c->st.store.n; i++) {
		if (c->st.store.uids[i] == uid)
			return true;
	}
	return false;
}

static void op_store_fetch(struct client *c, uint32_t seq, const struct fetch_attrs *a)
{
	uint32_t uid = a->has_uid ? a->uid : (seq <= c->box.count ? c->box.msgs[seq - 1].uid : 0);
	if (!op_store_asked(c, uid)) {
		if (!client_opts(c)->shared)
			client_fail(c, STATS_ERR_CHECK, "STORE answered with a FETCH for UID %u", uid);
		return;
	}
	if (!a->has_flags)
		return;
	bool set = (a->flags & c->st.store.flag) != 0;
	if (set != c->st.store.add)
		client_fail(c, STATS_ERR_CHECK, "UID %u: after %sFLAGS (%s) the flag is %s", uid,
			    c->st.store.add ? "+" : "-", model_flag_name(c->st.store.flag),
			    set ? "set" : "not set");
}

static void op_store_finish(struct client *c)
{
	for (size_t i = 0; i < c->st.store.n && !c->op_failed; i++) {
		size_t idx;
		if (!model_find(&c->box, c->st.store.uids[i], &idx))
			continue;
		if (c->st.store.add)
			c->box.msgs[idx].flags |= c->st.store.flag;
		else
			c->box.msgs[idx].flags &= (uint8_t)~c->st.store.flag;
	}
}

const struct op_hooks op_store_hooks = {
	.start = op_store_start,
	.fetch = op_store_fetch,
	.finish = op_store_finish,
};
