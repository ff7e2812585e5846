/* op-list.c: mailbox-level ops that do not touch the selected mailbox: CREATE of the
 * COPY/MOVE target during setup, LIST "" "*" (must show INBOX and the target) and STATUS of
 * the target (must carry every item asked for). */
#include "client-private.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "load-opts.h"

static void op_create_start(struct client *c)
{
	client_cmd(c, 0, "CREATE %s", client_quote(client_opts(c)->archive));
}

static bool op_create_tagged(struct client *c, struct client_cmd *cmd, const struct imap_resp *r)
{
	(void)cmd;
	/* NO: it exists already (RFC 5530 ALREADYEXISTS, or servers without the code); a
	 * missing mailbox would show up as COPY's NO [TRYCREATE] */
	c->archive_ok = strcmp(r->name, "BAD") != 0;
	return strcmp(r->name, "NO") == 0;
}

const struct op_hooks op_create_hooks = {.start = op_create_start, .tagged = op_create_tagged};

static void op_list_start(struct client *c)
{
	client_cmd(c, 0, "LIST \"\" \"*\"");
}

static void op_list_untagged(struct client *c, const struct imap_resp *r)
{
	if (strcmp(r->name, "LIST") != 0)
		return;
	const struct imap_val *flags = r->args;
	const struct imap_val *delim = flags != NULL ? flags->next : NULL;
	const struct imap_val *name = delim != NULL ? delim->next : NULL;
	if (flags == NULL || flags->type != IMAP_VAL_LIST || name == NULL ||
	    (name->type != IMAP_VAL_ATOM && name->type != IMAP_VAL_STRING &&
	     name->type != IMAP_VAL_LITERAL) || name->str == NULL) {
		client_fail(c, STATS_ERR_CHECK, "malformed LIST response");
		return;
	}
	if (strcasecmp(name->str, "INBOX") == 0)
		c->st.list.inbox = true;
	if (strcmp(name->str, client_opts(c)->archive) == 0)
		c->st.list.archive = true;
}

static void op_list_finish(struct client *c)
{
	if (!c->st.list.inbox)
		client_fail(c, STATS_ERR_CHECK, "LIST \"\" \"*\" does not show INBOX");
	if (c->archive_ok && !c->st.list.archive)
		client_fail(c, STATS_ERR_CHECK, "LIST \"\" \"*\" does not show %s",
			    client_opts(c)->archive);
}

const struct op_hooks op_list_hooks = {
	.start = op_list_start,
	.untagged = op_list_untagged,
	.finish = op_list_finish,
};

static void op_status_start(struct client *c)
{
	client_cmd(c, 0, "STATUS %s (MESSAGES UIDNEXT UIDVALIDITY UNSEEN)",
		   client_quote(client_opts(c)->archive));
}

static void op_status_untagged(struct client *c, const struct imap_resp *r)
{
	if (strcmp(r->name, "STATUS") != 0)
		return;
	const struct imap_val *items = r->args != NULL ? r->args->next : NULL;
	unsigned seen = 0;
	if (items == NULL || items->type != IMAP_VAL_LIST) {
		client_fail(c, STATS_ERR_CHECK, "malformed STATUS response");
		return;
	}
	for (const struct imap_val *k = items->list; k != NULL && k->next != NULL;
	     k = k->next->next) {
		uint32_t n;
		if (!imap_val_u32(k->next, &n)) {
			client_fail(c, STATS_ERR_CHECK, "STATUS item %s is not a number",
				    k->str ? k->str : "?");
			return;
		}
		if (imap_val_is(k, "MESSAGES"))
			seen |= 1;
		else if (imap_val_is(k, "UIDNEXT"))
			seen |= 2;
		else if (imap_val_is(k, "UIDVALIDITY"))
			seen |= 4;
		else if (imap_val_is(k, "UNSEEN"))
			seen |= 8;
	}
	if (seen != 15)
		client_fail(c, STATS_ERR_CHECK, "STATUS lacks items that were asked for");
	c->st.list.status_seen = true;
}

static void op_status_finish(struct client *c)
{
	if (!c->st.list.status_seen && !c->op_failed)
		client_fail(c, STATS_ERR_CHECK, "STATUS OK without a STATUS response");
}

const struct op_hooks op_status_hooks = {
	.start = op_status_start,
	.untagged = op_status_untagged,
	.finish = op_status_finish,
};
