/* envelope.c: ENVELOPE rendering from a header block.
 * Traps: only the first occurrence of each field counts; Sender/Reply-To fall back to From
 * when they hold no address at all (not only when absent); an address must never get a NIL
 * host, which would turn it into a group marker. */
#include "envelope.h"

#include <stdbool.h>

#include "mail/address.h"
#include "mail/header.h"
#include "mail/mail-string.h"

enum env_field {
	ENV_DATE, ENV_SUBJECT, ENV_FROM, ENV_SENDER, ENV_REPLY_TO,
	ENV_TO, ENV_CC, ENV_BCC, ENV_IN_REPLY_TO, ENV_MESSAGE_ID, ENV_COUNT
};

static const char *const env_names[ENV_COUNT] = {
	"date", "subject", "from", "sender", "reply-to",
	"to", "cc", "bcc", "in-reply-to", "message-id",
};

static int env_append_value(struct buf *out, struct pool *pool,
			    const struct mail_header_field *f)
{
	if (f == NULL)
		return buf_append(out, "NIL", 3);
	size_t len;
	const char *v = mail_header_unfold(pool, f->value, f->value_len, &len);
	return mail_string_append(out, v, len);
}

static int env_append_addresses(struct buf *out, const struct mail_address *list)
{
	if (list == NULL)
		return buf_append(out, "NIL", 3);
	if (buf_append_byte(out, '(') < 0)
		return -1;
	for (const struct mail_address *a = list; a != NULL; a = a->next) {
		int r = buf_append_byte(out, '(');
		switch (a->type) {
		case MAIL_ADDRESS_MAILBOX:
			if (r < 0 || mail_string_append_nstring(out, a->name, a->name_len) < 0 ||
			    buf_append_byte(out, ' ') < 0 ||
			    mail_string_append_nstring(out, a->route, a->route_len) < 0 ||
			    buf_append_byte(out, ' ') < 0 ||
			    mail_string_append(out, a->mailbox, a->mailbox_len) < 0 ||
			    buf_append_byte(out, ' ') < 0)
				return -1;
			if (a->domain != NULL)
				r = mail_string_append(out, a->domain, a->domain_len);
			else
				r = mail_string_append(out, ENVELOPE_MISSING_HOST,
						       sizeof(ENVELOPE_MISSING_HOST) - 1);
			break;
		case MAIL_ADDRESS_GROUP_START:
			if (r < 0 || buf_append_str(out, "NIL NIL ") < 0 ||
			    mail_string_append(out, a->mailbox, a->mailbox_len) < 0)
				return -1;
			r = buf_append_str(out, " NIL");
			break;
		case MAIL_ADDRESS_GROUP_END:
			if (r >= 0)
				r = buf_append_str(out, "NIL NIL NIL NIL");
			break;
		}
		if (r < 0 || buf_append_byte(out, ')') < 0)
			return -1;
	}
	return buf_append_byte(out, ')');
}

int envelope_render(struct buf *out, struct pool *pool, const void *header, size_t len)
{
	struct mail_header_field fields[ENV_COUNT];
	bool found[ENV_COUNT] = { false };
	struct mail_header_iter iter;
	struct mail_header_field f;
	size_t start = out->len;

	mail_header_iter_init(&iter, header, len);
	while (mail_header_iter_next(&iter, &f) > 0) {
		for (int i = 0; i < ENV_COUNT; i++) {
			if (!found[i] && mail_header_name_is(&f, env_names[i])) {
				fields[i] = f;
				found[i] = true;
				break;
			}
		}
	}

	struct mail_address *addrs[ENV_COUNT] = { NULL };
	for (int i = ENV_FROM; i <= ENV_BCC; i++) {
		if (found[i])
			addrs[i] = mail_address_parse(pool, fields[i].value, fields[i].value_len);
	}
	/* RFC 9051 7.5.2: absent or empty Sender / Reply-To are set to From */
	if (addrs[ENV_SENDER] == NULL)
		addrs[ENV_SENDER] = addrs[ENV_FROM];
	if (addrs[ENV_REPLY_TO] == NULL)
		addrs[ENV_REPLY_TO] = addrs[ENV_FROM];

	int r = buf_append_byte(out, '(');
	for (int i = 0; i < ENV_COUNT && r >= 0; i++) {
		if (i > 0 && buf_append_byte(out, ' ') < 0) {
			r = -1;
			break;
		}
		if (i >= ENV_FROM && i <= ENV_BCC)
			r = env_append_addresses(out, addrs[i]);
		else
			r = env_append_value(out, pool, found[i] ? &fields[i] : NULL);
	}
	if (r >= 0)
		r = buf_append_byte(out, ')');
	if (r < 0) {
		mail_string_truncate(out, start);
		return -1;
	}
	return 0;
}
