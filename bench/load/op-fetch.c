/* op-fetch.c: the FETCH ops, each modelled on a client habit:
 *   fetch-flags    flag resync of a window of up to 50 messages   (UID FLAGS)
 *   fetch-env      message list of a mobile client, 20 messages   (FLAGS INTERNALDATE SIZE ENVELOPE)
 *   fetch-headers  Thunderbird's header fetch, 20 messages        (BODY.PEEK[HEADER.FIELDS (...)])
 *   fetch-body     opening a message: BODY.PEEK[] (1 in 5 times only its first 16 KiB)
 *   fetch-parts    a mobile client: BODYSTRUCTURE, then one leaf part BODY.PEEK[n.m]
 * Checks: every response carries a UID that was asked for and every UID asked for comes back
 * (the client owns its mailbox, nothing can vanish); FLAGS equal the model; RFC822.SIZE equals
 * the model (client.c); a BODY[] literal has exactly RFC822.SIZE bytes and, for messages this
 * run appended, the same hash as the mbox message; a part has exactly the size its
 * BODYSTRUCTURE announced. */
#include "client-private.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "load-opts.h"
#include "mbox.h"
#include "rng.h"

enum { K_FETCH };

#define FETCH_PARTIAL 16384
#define FETCH_MAX_LEAVES 32

static const char fetch_header_fields[] =
	"From To Cc Bcc Subject Date Message-ID Priority X-Priority References Newsgroups "
	"In-Reply-To Content-Type Reply-To";

static void op_fetch_start(struct client *c)
{
	size_t max = 1;
	switch (c->op) {
	case OP_FETCH_FLAGS: max = 50; break;
	case OP_FETCH_ENV:
	case OP_FETCH_HEADERS: max = 20; break;
	default: break;
	}
	size_t n = client_pick_uids(c, max, true, c->st.fetch.uids);
	c->st.fetch.n = n;
	c->op_items = n;
	if (n == 0) {
		client_cmd(c, K_FETCH, "NOOP");
		return;
	}
	uint32_t first = c->st.fetch.uids[0], last = c->st.fetch.uids[n - 1];
	switch (c->op) {
	case OP_FETCH_FLAGS:
		client_cmd(c, K_FETCH, "UID FETCH %u:%u (UID FLAGS)", first, last);
		break;
	case OP_FETCH_ENV:
		client_cmd(c, K_FETCH, "UID FETCH %u:%u (UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE)",
			   first, last);
		break;
	case OP_FETCH_HEADERS:
		client_cmd(c, K_FETCH, "UID FETCH %u:%u (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (%s)])",
			   first, last, fetch_header_fields);
		break;
	case OP_FETCH_BODY:
		c->st.fetch.variant = rng_percent(&c->rng, 20);
		if (c->st.fetch.variant)
			client_cmd(c, K_FETCH, "UID FETCH %u (UID RFC822.SIZE BODY.PEEK[]<0.%d>)", first,
				   FETCH_PARTIAL);
		else
			client_cmd(c, K_FETCH, "UID FETCH %u (UID RFC822.SIZE BODY.PEEK[])", first);
		break;
	case OP_FETCH_PARTS:
		client_cmd(c, K_FETCH, "UID FETCH %u (UID BODYSTRUCTURE)", first);
		break;
	default:
		break;
	}
}

static bool op_fetch_index(const struct client *c, uint32_t uid, size_t *i_r)
{
	size_t lo = 0, hi = c->st.fetch.n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (c->st.fetch.uids[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	*i_r = lo;
	return lo < c->st.fetch.n && c->st.fetch.uids[lo] == uid;
}

static const struct imap_val *op_fetch_section(const struct fetch_attrs *a, const char *name,
					       bool prefix)
{
	size_t n = strlen(name);
	for (unsigned i = 0; i < a->n_sections; i++) {
		if (prefix ? strncasecmp(a->sections[i].name, name, n) == 0
			   : strcasecmp(a->sections[i].name, name) == 0)
			return a->sections[i].val;
	}
	return NULL;
}

struct fetch_leaf {
	char path[48];
	uint32_t size;
};

/* Collect the leaf parts of a BODYSTRUCTURE with their section numbers and sizes. A
 * multipart's children are lists first; a leaf's 7th field is its size in octets. */
static bool op_fetch_leaves(const struct imap_val *bs, const char *path, struct fetch_leaf *out,
			    size_t *n, int depth)
{
	if (bs == NULL || bs->type != IMAP_VAL_LIST || bs->list == NULL || depth > 20)
		return false;
	if (bs->list->type == IMAP_VAL_LIST) {
		unsigned i = 1;
		for (const struct imap_val *ch = bs->list; ch != NULL && ch->type == IMAP_VAL_LIST;
		     ch = ch->next, i++) {
			char sub[48];
			if (path[0] != '\0')
				snprintf(sub, sizeof(sub), "%s.%u", path, i);
			else
				snprintf(sub, sizeof(sub), "%u", i);
			if (!op_fetch_leaves(ch, sub, out, n, depth + 1))
				return false;
		}
		return true;
	}
	const struct imap_val *v = bs->list;
	for (int k = 0; k < 6 && v != NULL; k++)
		v = v->next;
	uint32_t size;
	if (!imap_val_u32(v, &size))
		return false;
	if (*n < FETCH_MAX_LEAVES) {
		snprintf(out[*n].path, sizeof(out[*n].path), "%s", path[0] != '\0' ? path : "1");
		out[*n].size = size;
		(*n)++;
	}
	return true;
}

static void op_fetch_check_body(struct client *c, const struct model_msg *m,
				const struct fetch_attrs *a)
{
	bool partial = c->st.fetch.variant != 0;
	const struct imap_val *v = op_fetch_section(a, partial ? "BODY[]<0>" : "BODY[]", false);
	size_t len;
	uint64_t hash;
	if (!imap_val_nstring(v, false, &len, &hash)) {
		client_fail(c, STATS_ERR_CHECK, "UID %u: no %s in the FETCH response", m->uid,
			    partial ? "BODY[]<0>" : "BODY[]");
		return;
	}
	uint32_t size = m->size != 0 ? m->size : (a->has_size ? a->size : 0);
	size_t want = partial && size > FETCH_PARTIAL ? FETCH_PARTIAL : size;
	if (size != 0 && len != want) {
		client_fail(c, STATS_ERR_CHECK, "UID %u: %s is %zu bytes, expected %zu", m->uid,
			    partial ? "BODY[]<0>" : "BODY[]", len, want);
		return;
	}
	const struct mbox *mb = client_mbox(c);
	if (!partial && m->src != 0 && m->src <= mb->count) {
		const struct mbox_msg *src = &mb->msgs[m->src - 1];
		if (src->len != len || src->hash != hash)
			client_fail(c, STATS_ERR_CHECK,
				    "UID %u: BODY[] differs from the message appended (%zu bytes, "
				    "appended %zu)",
				    m->uid, len, src->len);
	}
}

static void op_fetch_check_parts(struct client *c, const struct model_msg *m,
				 const struct fetch_attrs *a)
{
	if (c->st.fetch.step == 0) {
		struct fetch_leaf leaves[FETCH_MAX_LEAVES];
		size_t n = 0;
		if (!op_fetch_leaves(a->bodystructure, "", leaves, &n, 0) || n == 0) {
			client_fail(c, STATS_ERR_CHECK, "UID %u: missing or malformed BODYSTRUCTURE",
				    m->uid);
			return;
		}
		const struct fetch_leaf *l = &leaves[rng_below(&c->rng, (uint32_t)n)];
		snprintf(c->st.fetch.part, sizeof(c->st.fetch.part), "%s", l->path);
		c->st.fetch.part_size = l->size;
		return;
	}
	char name[64];
	snprintf(name, sizeof(name), "BODY[%s]", c->st.fetch.part);
	size_t len;
	uint64_t hash;
	if (!imap_val_nstring(op_fetch_section(a, name, false), true, &len, &hash)) {
		client_fail(c, STATS_ERR_CHECK, "UID %u: no %s in the FETCH response", m->uid, name);
		return;
	}
	if (len != c->st.fetch.part_size)
		client_fail(c, STATS_ERR_CHECK, "UID %u: %s is %zu bytes, BODYSTRUCTURE said %u",
			    m->uid, name, len, c->st.fetch.part_size);
}

static void op_fetch_fetch(struct client *c, uint32_t seq, const struct fetch_attrs *a)
{
	const struct load_opts *o = client_opts(c);
	size_t i, idx;
	if (!a->has_uid) {
		client_fail(c, STATS_ERR_CHECK, "UID FETCH response without UID (message %u)", seq);
		return;
	}
	if (!op_fetch_index(c, a->uid, &i)) {
		/* another session's flag change may be reported any time (shared mailboxes) */
		if (o->shared && a->n_sections == 0 && a->envelope == NULL && a->bodystructure == NULL)
			return;
		client_fail(c, STATS_ERR_CHECK, "FETCH returned UID %u, which was not asked for",
			    a->uid);
		return;
	}
	if (!model_find(&c->box, a->uid, &idx))
		return; /* expunged meanwhile (shared mailbox) */
	const struct model_msg *m = &c->box.msgs[idx];
	c->st.fetch.seen[i] = 1;
	switch (c->op) {
	case OP_FETCH_FLAGS:
		if (!a->has_flags)
			client_fail(c, STATS_ERR_CHECK, "UID %u: FETCH FLAGS without FLAGS", a->uid);
		else if (!o->shared && a->flags != m->flags)
			client_fail(c, STATS_ERR_CHECK, "UID %u: FLAGS 0x%02x, expected 0x%02x", a->uid,
				    a->flags, m->flags);
		break;
	case OP_FETCH_ENV:
		if (a->envelope == NULL || a->envelope->type != IMAP_VAL_LIST ||
		    a->envelope->len != 10)
			client_fail(c, STATS_ERR_CHECK, "UID %u: ENVELOPE missing or not 10 fields",
				    a->uid);
		else if (!a->has_size || !a->has_flags || a->internaldate == NULL ||
			 a->internaldate->type != IMAP_VAL_STRING)
			client_fail(c, STATS_ERR_CHECK, "UID %u: FLAGS, INTERNALDATE or RFC822.SIZE missing",
				    a->uid);
		break;
	case OP_FETCH_HEADERS: {
		size_t len;
		uint64_t hash;
		if (!imap_val_nstring(op_fetch_section(a, "BODY[HEADER.FIELDS", true), false, &len,
				      &hash) ||
		    !a->has_size)
			client_fail(c, STATS_ERR_CHECK, "UID %u: HEADER.FIELDS or RFC822.SIZE missing",
				    a->uid);
		break;
	}
	case OP_FETCH_BODY:
		op_fetch_check_body(c, m, a);
		break;
	case OP_FETCH_PARTS:
		op_fetch_check_parts(c, m, a);
		break;
	default:
		break;
	}
}

static void op_fetch_finish(struct client *c)
{
	if (!client_opts(c)->shared) {
		for (size_t i = 0; i < c->st.fetch.n; i++) {
			if (!c->st.fetch.seen[i] && !client_was_expunged(c, c->st.fetch.uids[i])) {
				client_fail(c, STATS_ERR_CHECK, "FETCH did not return UID %u",
					    c->st.fetch.uids[i]);
				break;
			}
		}
	}
	if (c->op != OP_FETCH_PARTS || c->st.fetch.step != 0 || c->op_failed || c->st.fetch.n == 0 ||
	    c->st.fetch.part[0] == '\0')
		return;
	c->st.fetch.step = 1;
	memset(c->st.fetch.seen, 0, sizeof(c->st.fetch.seen));
	client_cmd(c, K_FETCH, "UID FETCH %u (UID BODY.PEEK[%s])", c->st.fetch.uids[0],
		   c->st.fetch.part);
}

const struct op_hooks op_fetch_hooks = {
	.start = op_fetch_start,
	.fetch = op_fetch_fetch,
	.finish = op_fetch_finish,
};
