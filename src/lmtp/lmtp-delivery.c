/* lmtp-delivery.c: one message into one store (see lmtp-delivery.h). Traps: the stored bytes
 * are the prefix plus the spool mapping, so the size limit counts both; a preferred mailbox that
 * vanished between store_mailbox_get and store_append (deleted by the user meanwhile) must not
 * turn into a failure: the message goes to INBOX instead. */
#include "lmtp/lmtp-delivery.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xmalloc.h"

bool lmtp_delivery_over_quota(struct store *store, uint64_t size)
{
	/* No quota in the store yet: this is where the check goes once there is one. */
	(void)store;
	(void)size;
	return false;
}

void lmtp_received_field(struct buf *out, const char *helo, const char *ip, const char *hostname,
			 const char *session_id, const char *sender, const char *rcpt, bool utf8,
			 time_t now)
{
	char date[64];
	struct tm tm;
	localtime_r(&now, &tm);
	/* RFC 5322 3.3 date-time */
	if (strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm) == 0)
		date[0] = '\0';
	buf_printf(out, "Received: from %s", helo[0] != '\0' ? helo : "unknown");
	if (ip != NULL)
		buf_printf(out, " ([%s])", ip);
	else
		buf_append_str(out, " (local)");
	buf_printf(out, "\r\n\tby %s with %s id %s\r\n\t(envelope-from <%s>)", hostname,
		   utf8 ? "UTF8LMTP" : "LMTP", session_id, sender);
	if (rcpt != NULL)
		buf_printf(out, "\r\n\tfor <%s>", rcpt);
	buf_printf(out, "; %s\r\n", date);
}

void lmtp_delivery_prefix(struct buf *prefix, const struct lmtp_delivery *d)
{
	if (d->return_path != NULL)
		buf_printf(prefix, "Return-Path: <%s>\r\n", d->return_path);
	if (d->delivered_to != NULL)
		buf_printf(prefix, "Delivered-To: %s\r\n", d->delivered_to);
	if (d->received != NULL)
		buf_append_str(prefix, d->received);
}

int lmtp_delivery_view(struct spool *spool, const struct buf *prefix, uint64_t max_size,
		       const unsigned char **data_r, size_t *size_r,
		       struct lmtp_delivery_result *r)
{
	const char *err = NULL;
	memset(r, 0, sizeof(*r));
	if (spool_view(spool, prefix->data != NULL ? prefix->data : (unsigned char *)"",
		       prefix->len, data_r, size_r, &err) < 0) {
		r->status = LMTP_DELIVERY_TEMPFAIL;
		r->error = err;
		return -1;
	}
	if (max_size > 0 && spool_size(spool) > max_size) {
		r->status = LMTP_DELIVERY_TOOBIG;
		r->error = "message too big";
		return -1;
	}
	return 0;
}

int lmtp_deliver_bytes(struct store *store, const unsigned char *data, size_t size,
		       const struct lmtp_staged *staged, const struct lmtp_delivery *d,
		       struct lmtp_delivery_result *r)
{
	memset(r, 0, sizeof(*r));
	const char *err = NULL;
	int ret = -1;
	struct store_mailbox *mb = xmalloc(sizeof(*mb));
	bool preferred = false;
	if (lmtp_delivery_over_quota(store, size)) {
		r->status = LMTP_DELIVERY_OVERQUOTA;
		r->error = "over quota";
		goto out;
	}
	if (d->mailbox != NULL && d->mailbox[0] != '\0') {
		int found = store_mailbox_get(store, d->mailbox, mb);
		if (found < 0) {
			r->status = LMTP_DELIVERY_TEMPFAIL;
			r->error = "cannot look up the mailbox";
			goto out;
		}
		preferred = found > 0;
	}
	for (int attempt = 0; attempt < 2; attempt++) {
		if (!preferred) {
			int found = store_mailbox_get(store, "INBOX", mb);
			if (found <= 0) {
				r->status = LMTP_DELIVERY_TEMPFAIL;
				r->error = "cannot find INBOX";
				break;
			}
		}
		struct store_append a = {.data = data, .size = size};
		int ok = staged != NULL
			? store_append_staged(store, mb->id, &a, staged->stage, staged->body,
					      staged->created, &r->uid, &r->uidvalidity, &err)
			: store_append(store, mb->id, &a, 1, &r->uid, &r->uidvalidity, &err);
		if (ok == 0) {
			r->status = LMTP_DELIVERED;
			snprintf(r->mailbox, sizeof(r->mailbox), "%s", mb->name);
			ret = 0;
			break;
		}
		r->status = store_last_error(store) == STORE_ERR_TOOBIG ? LMTP_DELIVERY_TOOBIG
									 : LMTP_DELIVERY_TEMPFAIL;
		r->error = err;
		if (!preferred || store_last_error(store) != STORE_ERR_NOT_FOUND)
			break;
		preferred = false; /* the detail mailbox went away meanwhile: INBOX */
	}
out:
	free(mb);
	return ret;
}

int lmtp_deliver(struct store *store, struct spool *spool, const struct lmtp_delivery *d,
		 struct lmtp_delivery_result *r)
{
	struct buf prefix;
	buf_init(&prefix, SPOOL_PREFIX_MAX);
	lmtp_delivery_prefix(&prefix, d);
	const unsigned char *data;
	size_t size;
	int ret = -1;
	if (lmtp_delivery_view(spool, &prefix, d->max_size, &data, &size, r) == 0)
		ret = lmtp_deliver_bytes(store, data, size, NULL, d, r);
	buf_free(&prefix);
	return ret;
}
