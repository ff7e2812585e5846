/* cmd-list.c: LIST (RFC 9051 6.3.9 with LIST-EXTENDED RFC 5258, CHILDREN RFC 3348,
 * SPECIAL-USE RFC 6154, LIST-STATUS RFC 5819) and LSUB (RFC 3501 6.3.9).
 * Names that do not exist but have children (or subscribed children) are shown only where the
 * pattern stops at them and not at the children (e.g. "%" over "a/b" shows "a"), marked
 * \NonExistent (IMAP4rev2; \Noselect for IMAP4rev1). Traps: the reference is prefixed to every
 * pattern literally; RECURSIVEMATCH needs another selection option. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap-arg.h"
#include "imap-mailbox.h"
#include "imap-session-private.h"
#include "imap-status.h"
#include "lib/xmalloc.h"

enum {
	SEL_SUBSCRIBED = 0x1,
	SEL_RECURSIVEMATCH = 0x2,
	SEL_SPECIAL_USE = 0x4,
	RET_SUBSCRIBED = 0x10,
	RET_CHILDREN = 0x20,
	RET_SPECIAL_USE = 0x40,
	RET_STATUS = 0x80,
};

struct list_entry {
	char *name;
	bool exists;
	bool subscribed;
	unsigned special_use;
	struct store_mailbox *mb; /* when it exists and STATUS is wanted */
	bool has_children;        /* an existing descendant */
	bool has_sub_children;    /* a subscribed descendant */
};

struct list_ctx {
	struct pool *pool;
	struct list_entry *e;
	size_t n, alloc;
	bool want_mb;
};

/* Binary search in the sorted entries [0, sorted). */
static struct list_entry *list_find(struct list_ctx *c, size_t sorted, const char *name)
{
	size_t lo = 0, hi = sorted;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int cmp = strcmp(c->e[mid].name, name);
		if (cmp == 0)
			return &c->e[mid];
		if (cmp < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static struct list_entry *list_add(struct list_ctx *c, const char *name)
{
	if (c->n == c->alloc) {
		c->alloc = c->alloc ? c->alloc * 2 : 64;
		c->e = xrealloc(c->e, c->alloc * sizeof(*c->e));
	}
	struct list_entry *e = &c->e[c->n++];
	memset(e, 0, sizeof(*e));
	e->name = pool_strdup(c->pool, name);
	return e;
}

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct list_entry *)a)->name, ((const struct list_entry *)b)->name);
}

static int list_mailbox_cb(void *ctx, const struct store_mailbox *mb)
{
	struct list_ctx *c = ctx;
	struct list_entry *e = list_add(c, mb->name);
	e->exists = true;
	e->special_use = mb->special_use;
	if (c->want_mb) {
		e->mb = pool_alloc(c->pool, sizeof(*e->mb));
		*e->mb = *mb;
	}
	return 0;
}

static int list_sub_cb(void *ctx, const char *name)
{
	struct list_ctx *c = ctx;
	struct list_entry *e = list_add(c, name);
	e->subscribed = true;
	return 0;
}

/* Merge duplicates (a name both existing and subscribed), then add the implied parents. */
static void list_build(struct list_ctx *c)
{
	qsort(c->e, c->n, sizeof(*c->e), entry_cmp);
	size_t w = 0;
	for (size_t i = 0; i < c->n; i++) {
		if (w > 0 && strcmp(c->e[w - 1].name, c->e[i].name) == 0) {
			struct list_entry *d = &c->e[w - 1];
			d->exists |= c->e[i].exists;
			d->subscribed |= c->e[i].subscribed;
			d->special_use |= c->e[i].special_use;
			if (d->mb == NULL)
				d->mb = c->e[i].mb;
			continue;
		}
		c->e[w++] = c->e[i];
	}
	c->n = w;
	size_t orig = c->n;
	for (size_t i = 0; i < orig; i++) {
		bool exists = c->e[i].exists, sub = c->e[i].subscribed;
		char *name = pool_strdup(c->pool, c->e[i].name);
		for (char *slash = strrchr(name, '/'); slash != NULL; slash = strrchr(name, '/')) {
			*slash = '\0';
			/* the original names are sorted; implied parents added since are few */
			struct list_entry *p = list_find(c, orig, name);
			for (size_t k = orig; p == NULL && k < c->n; k++)
				if (strcmp(c->e[k].name, name) == 0)
					p = &c->e[k];
			if (p == NULL)
				p = list_add(c, name);
			p->has_children |= exists;
			p->has_sub_children |= sub;
		}
	}
	qsort(c->e, c->n, sizeof(*c->e), entry_cmp);
}

static bool is_descendant(const char *parent, const char *name)
{
	size_t pl = strlen(parent);
	return strncmp(name, parent, pl) == 0 && name[pl] == '/';
}

/* Does pattern reach any descendant of e that is "real" (exists, or is subscribed when only
 * subscriptions count)? Then e itself is not shown as an implied parent. */
static bool descendant_matches(struct list_ctx *c, size_t i, const char *pattern, bool subs)
{
	for (size_t k = i + 1; k < c->n && is_descendant(c->e[i].name, c->e[k].name); k++) {
		bool real = subs ? c->e[k].subscribed : c->e[k].exists;
		if (real && imap_mailbox_match(pattern, c->e[k].name))
			return true;
	}
	return false;
}

static bool parse_options(struct imap_cmd *cmd, const struct imap_arg *list, bool select,
			  unsigned *opts, unsigned *status_items)
{
	for (size_t i = 0; i < list->count; i++) {
		const struct imap_arg *a = &list->list[i];
		if (select && imap_arg_atom_equals(a, "SUBSCRIBED"))
			*opts |= SEL_SUBSCRIBED;
		else if (select && imap_arg_atom_equals(a, "REMOTE"))
			; /* no remote mailboxes here */
		else if (select && imap_arg_atom_equals(a, "RECURSIVEMATCH"))
			*opts |= SEL_RECURSIVEMATCH;
		else if (select && imap_arg_atom_equals(a, "SPECIAL-USE"))
			*opts |= SEL_SPECIAL_USE;
		else if (!select && imap_arg_atom_equals(a, "SUBSCRIBED"))
			*opts |= RET_SUBSCRIBED;
		else if (!select && imap_arg_atom_equals(a, "CHILDREN"))
			*opts |= RET_CHILDREN;
		else if (!select && imap_arg_atom_equals(a, "SPECIAL-USE"))
			*opts |= RET_SPECIAL_USE;
		else if (!select && imap_arg_atom_equals(a, "STATUS") && i + 1 < list->count &&
			 imap_status_parse(&list->list[i + 1], !cmd->session->enabled_rev2,
					   status_items) == 0) {
			*opts |= RET_STATUS;
			i++;
		} else
			return false;
	}
	return true;
}

static const char *const special_names[] = {"\\All", "\\Archive", "\\Drafts", "\\Flagged",
					    "\\Junk", "\\Sent", "\\Trash"};

int cmd_list(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->session;
	bool lsub = strcasecmp(cmd->name, "LSUB") == 0;
	bool utf8 = imap_session_utf8(s);
	unsigned opts = 0, status_items = 0;
	size_t a = 0;
	/* RFC 5258 3: in the extended syntax empty patterns are ignored, not the delimiter query */
	bool extended = false;
	if (!lsub && a < cmd->count && cmd->args[a].type == IMAP_ARG_LIST) {
		extended = true;
		if (!parse_options(cmd, &cmd->args[a], true, &opts, &status_items) ||
		    (opts & (SEL_RECURSIVEMATCH | SEL_SUBSCRIBED | SEL_SPECIAL_USE)) == SEL_RECURSIVEMATCH) {
			imap_cmd_reply(cmd, "BAD", NULL, "Invalid LIST selection options");
			return 1;
		}
		a++;
	}
	const char *ref;
	size_t ref_len;
	if (a + 2 > cmd->count || !imap_arg_get_astring(&cmd->args[a], &ref, &ref_len)) {
		imap_cmd_reply(cmd, "BAD", NULL, "%s needs a reference and a mailbox pattern", cmd->name);
		return 1;
	}
	const struct imap_arg *pat_arg = &cmd->args[a + 1];
	const struct imap_arg *pats = pat_arg;
	size_t npats = 1;
	if (!lsub && pat_arg->type == IMAP_ARG_LIST) {
		extended = true;
		pats = pat_arg->list;
		npats = pat_arg->count;
		if (npats == 0) {
			imap_cmd_reply(cmd, "BAD", NULL, "Empty pattern list");
			return 1;
		}
	}
	a += 2;
	if (!lsub && a < cmd->count) {
		extended = true;
		if (a + 2 != cmd->count || !imap_arg_atom_equals(&cmd->args[a], "RETURN") ||
		    cmd->args[a + 1].type != IMAP_ARG_LIST ||
		    !parse_options(cmd, &cmd->args[a + 1], false, &opts, &status_items)) {
			imap_cmd_reply(cmd, "BAD", NULL, "Invalid LIST return options");
			return 1;
		}
	} else if (a != cmd->count) {
		imap_cmd_reply(cmd, "BAD", NULL, "Too many arguments");
		return 1;
	}
	/* asking for HIGHESTMODSEQ is asking for CONDSTORE, as STATUS does (RFC 7162 3.1) */
	if (status_items & IMAP_STATUS_HIGHESTMODSEQ)
		imap_session_enable_condstore(s);

	/* the patterns in store form: reference + pattern */
	const char **patterns = pool_alloc_array(cmd->pool, npats, sizeof(char *));
	size_t nused = 0;
	bool only_empty = true;
	for (size_t i = 0; i < npats; i++) {
		const char *p, *err, *full;
		size_t plen;
		if (!imap_arg_get_list_mailbox(&pats[i], &p, &plen)) {
			imap_cmd_reply(cmd, "BAD", NULL, "Invalid mailbox pattern");
			return 1;
		}
		char *joined = pool_alloc(cmd->pool, ref_len + plen + 1);
		memcpy(joined, ref, ref_len);
		memcpy(joined + ref_len, p, plen);
		joined[ref_len + plen] = '\0';
		if (imap_mailbox_from_client(joined, ref_len + plen, utf8, true, cmd->pool, &full,
					     &err) < 0) {
			imap_cmd_reply(cmd, "BAD", NULL, "%s", err);
			return 1;
		}
		if (plen != 0)
			only_empty = false;
		if (plen == 0 && extended)
			continue;
		patterns[nused++] = full;
	}
	const char *resp = lsub ? "LSUB" : "LIST";
	if (only_empty && npats == 1 && !extended) {
		/* RFC 9051 6.3.9: LIST "" "" asks for the hierarchy delimiter */
		imap_session_untagged(s, "%s (\\Noselect) \"/\" \"\"", resp);
		imap_cmd_reply(cmd, "OK", NULL, "%s completed", resp);
		return 1;
	}

	struct list_ctx c = {.pool = cmd->pool, .want_mb = (opts & RET_STATUS) != 0};
	const char *err;
	if (store_mailbox_list(s->store, list_mailbox_cb, &c, &err) < 0 ||
	    store_subscriptions(s->store, list_sub_cb, &c, &err) < 0) {
		free(c.e);
		imap_cmd_reply(cmd, "NO", "SERVERBUG", "Cannot list mailboxes");
		return 1;
	}
	list_build(&c);
	bool subs_only = lsub || (opts & SEL_SUBSCRIBED);
	bool show_sub = (opts & (RET_SUBSCRIBED | SEL_SUBSCRIBED)) != 0;
	struct buf out;
	buf_init(&out, (size_t)-2);
	for (size_t i = 0; i < c.n; i++) {
		struct list_entry *e = &c.e[i];
		bool matched = false, implied = false;
		for (size_t k = 0; k < nused && !matched; k++) {
			if (!imap_mailbox_match(patterns[k], e->name))
				continue;
			bool real = subs_only ? e->subscribed : e->exists;
			if (real) {
				matched = true;
			} else if ((subs_only ? e->has_sub_children : e->has_children) &&
				   !descendant_matches(&c, i, patterns[k], subs_only)) {
				matched = implied = true;
			}
		}
		if (!matched)
			continue;
		if ((opts & SEL_SPECIAL_USE) && (e->special_use == 0 || !e->exists))
			continue;
		bool childinfo = false;
		if (subs_only && implied && !lsub && (opts & SEL_RECURSIVEMATCH) == 0)
			continue; /* RFC 5258 3.5: such parents only with RECURSIVEMATCH */
		if ((opts & SEL_RECURSIVEMATCH) && subs_only && !lsub && e->has_sub_children) {
			/* CHILDINFO: a subscribed descendant the patterns do not reach */
			for (size_t k = 0; k < nused && !childinfo; k++)
				childinfo = !descendant_matches(&c, i, patterns[k], true) ||
					    implied;
		}
		buf_printf(&out, "* %s (", resp);
		const char *sep = "";
		if (!e->exists) {
			buf_append_str(&out, s->enabled_rev2 && !lsub ? "\\NonExistent" : "\\Noselect");
			sep = " ";
		} else if (lsub && implied) {
			buf_append_str(&out, "\\Noselect");
			sep = " ";
		}
		if (!lsub) {
			buf_printf(&out, "%s%s", sep, e->has_children ? "\\HasChildren" : "\\HasNoChildren");
			sep = " ";
		}
		if (show_sub && e->subscribed && !lsub) {
			buf_printf(&out, "%s\\Subscribed", sep);
			sep = " ";
		}
		for (unsigned b = 0; b < 7 && e->exists; b++) {
			if (e->special_use & (1u << b)) {
				buf_printf(&out, "%s%s", sep, special_names[b]);
				sep = " ";
			}
		}
		buf_append_str(&out, ") \"/\" ");
		imap_mailbox_to_client(&out, e->name, utf8);
		if (childinfo)
			buf_append_str(&out, " (\"CHILDINFO\" (\"SUBSCRIBED\"))");
		buf_append_str(&out, "\r\n");
		if ((opts & RET_STATUS) && e->exists && e->mb != NULL)
			imap_status_render(&out, s->store, e->mb, status_items, utf8, s->set->append_limit);
		if (out.len > 64 * 1024) {
			conn_write(s->conn, out.data, out.len);
			buf_reset(&out);
		}
	}
	if (out.len > 0)
		conn_write(s->conn, out.data, out.len);
	buf_free(&out);
	free(c.e);
	imap_cmd_reply(cmd, "OK", NULL, "%s completed", resp);
	return 1;
}
