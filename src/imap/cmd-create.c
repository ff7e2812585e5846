/* cmd-create.c: CREATE (RFC 9051 6.3.4) with CREATE-SPECIAL-USE (RFC 6154 3): superior levels
 * are created as needed; a trailing separator is dropped. */
#include <string.h>
#include <strings.h>

#include "imap-arg.h"
#include "imap-mailbox.h"
#include "imap-session-private.h"
#include "imap-store-error.h"

static const struct {
	const char *name;
	unsigned bit;
} special_uses[] = {
	{"\\All", STORE_SPECIAL_ALL},         {"\\Archive", STORE_SPECIAL_ARCHIVE},
	{"\\Drafts", STORE_SPECIAL_DRAFTS},   {"\\Flagged", STORE_SPECIAL_FLAGGED},
	{"\\Junk", STORE_SPECIAL_JUNK},       {"\\Sent", STORE_SPECIAL_SENT},
	{"\\Trash", STORE_SPECIAL_TRASH},
};

unsigned imap_special_use_parse(const char *name);
unsigned imap_special_use_parse(const char *name)
{
	for (size_t i = 0; i < sizeof(special_uses) / sizeof(special_uses[0]); i++)
		if (strcasecmp(name, special_uses[i].name) == 0)
			return special_uses[i].bit;
	return 0;
}

int cmd_create(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->session;
	const char *raw, *name, *err;
	size_t raw_len;
	unsigned use = 0;
	if (cmd->count < 1 || cmd->count > 2 || !imap_arg_get_astring(&cmd->args[0], &raw, &raw_len)) {
		imap_cmd_reply(cmd, "BAD", NULL, "CREATE needs a mailbox name");
		return 1;
	}
	if (cmd->count == 2) {
		/* create-param: "(USE (\Sent))" */
		const struct imap_arg *params = &cmd->args[1], *uses;
		if (params->type != IMAP_ARG_LIST || params->count != 2 ||
		    !imap_arg_atom_equals(&params->list[0], "USE") ||
		    params->list[1].type != IMAP_ARG_LIST) {
			imap_cmd_reply(cmd, "BAD", NULL, "CREATE parameters must be (USE (attributes))");
			return 1;
		}
		uses = &params->list[1];
		for (size_t i = 0; i < uses->count; i++) {
			unsigned bit = uses->list[i].type == IMAP_ARG_ATOM
					       ? imap_special_use_parse(uses->list[i].str)
					       : 0;
			if (bit == 0) {
				imap_cmd_reply(cmd, "NO", "USEATTR", "Unknown special-use attribute");
				return 1;
			}
			use |= bit;
		}
	}
	/* RFC 9051 6.3.4: a trailing separator means the client intends to create children */
	while (raw_len > 1 && raw[raw_len - 1] == IMAP_HIERARCHY_SEP)
		raw_len--;
	if (imap_mailbox_from_client(raw, raw_len, imap_session_utf8(s), false, cmd->pool, &name,
				     &err) < 0) {
		imap_cmd_reply(cmd, "NO", "CANNOT", "%s", err);
		return 1;
	}
	if (strcmp(name, "INBOX") == 0) {
		imap_cmd_reply(cmd, "NO", "ALREADYEXISTS", "INBOX always exists");
		return 1;
	}
	if (store_mailbox_create(s->store, name, use, &err) < 0) {
		imap_cmd_reply(cmd, "NO", imap_store_error_code(store_last_error(s->store)), "%s", err);
		return 1;
	}
	imap_cmd_reply(cmd, "OK", NULL, "CREATE completed");
	return 1;
}
