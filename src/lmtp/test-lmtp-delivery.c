/* test-lmtp-delivery.c: unit tests for local delivery (lmtp-delivery.h) of a spooled message
 * (lib/spool.h, tested in src/lib/test-spool.c) against a real store in a temporary folder:
 * the trace fields in front of the message exactly as documented, the preferred (detail)
 * mailbox and its fallback to INBOX, the size limit, and the Received field. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/spool.h"
#include "lmtp/lmtp-delivery.h"
#include "store/test-store-util.h"

static struct spool *spool_with(const void *data, size_t size)
{
	struct spool *sp = NULL;
	const char *err = NULL;
	CHECK(spool_create(test_root, &sp, &err) == 0);
	if (sp == NULL)
		return NULL;
	/* in uneven pieces, as the session writes decoded chunks */
	size_t pos = 0, step = 1;
	while (pos < size) {
		size_t n = size - pos < step ? size - pos : step;
		CHECK(spool_write(sp, (const unsigned char *)data + pos, n, &err) == 0);
		pos += n;
		step = step * 3 + 1;
	}
	CHECK(spool_size(sp) == size);
	return sp;
}

/* The stored bytes of the newest message in mailbox name. */
static size_t stored_newest(struct store *store, const char *name, unsigned char *out,
			    size_t out_size)
{
	const struct store_mailbox *mb = mb_get(store, name);
	if (mb->id == 0 || mb->uidnext < 2)
		return (size_t)-1;
	struct pool *pool = pool_create(4096);
	struct store_msg_info info;
	const char *err;
	size_t n = (size_t)-1;
	if (store_message_info(store, mb->id, mb->uidnext - 1, pool, &info, &err) == 1) {
		int fd = store_body_open(store, info.body_id, &err);
		if (fd >= 0) {
			ssize_t r = pread(fd, out, out_size, 0);
			n = r < 0 ? (size_t)-1 : (size_t)r;
			close(fd);
		}
	}
	pool_destroy(&pool);
	return n;
}

static void test_deliver_trace_fields(void)
{
	root_new();
	struct store *store = open_store();
	static const char body[] = "Subject: hi\r\n\r\nhello\r\n";
	struct spool *sp = spool_with(body, sizeof(body) - 1);
	struct lmtp_delivery d = {
		.return_path = "bob@example.org",
		.delivered_to = "alice@example.com",
		.received = "Received: from x\r\n\tby y with LMTP id z; date\r\n",
	};
	struct lmtp_delivery_result r;
	CHECK(lmtp_deliver(store, sp, &d, &r) == 0);
	CHECK(r.status == LMTP_DELIVERED);
	CHECK_STR(r.mailbox, "INBOX");
	CHECK(r.uid == 1 && r.uidvalidity != 0);
	unsigned char got[4096];
	size_t n = stored_newest(store, "INBOX", got, sizeof(got));
	static const char want[] = "Return-Path: <bob@example.org>\r\n"
				   "Delivered-To: alice@example.com\r\n"
				   "Received: from x\r\n\tby y with LMTP id z; date\r\n"
				   "Subject: hi\r\n\r\nhello\r\n";
	CHECK_MEM(got, n, want, sizeof(want) - 1);

	/* the same spool again, for another recipient: a second view with another prefix; the
	 * null sender is "<>"; no Delivered-To or Received when not asked for */
	struct lmtp_delivery d2 = {.return_path = ""};
	CHECK(lmtp_deliver(store, sp, &d2, &r) == 0);
	CHECK(r.uid == 2);
	n = stored_newest(store, "INBOX", got, sizeof(got));
	static const char want2[] = "Return-Path: <>\r\nSubject: hi\r\n\r\nhello\r\n";
	CHECK_MEM(got, n, want2, sizeof(want2) - 1);

	/* nothing at all in front */
	struct lmtp_delivery d3 = {0};
	CHECK(lmtp_deliver(store, sp, &d3, &r) == 0);
	n = stored_newest(store, "INBOX", got, sizeof(got));
	CHECK_MEM(got, n, body, sizeof(body) - 1);
	spool_destroy(&sp);

	/* an empty message: just the trace fields */
	sp = spool_with("", 0);
	struct lmtp_delivery d4 = {.return_path = "a@b", .delivered_to = "alice@x"};
	CHECK(lmtp_deliver(store, sp, &d4, &r) == 0);
	n = stored_newest(store, "INBOX", got, sizeof(got));
	static const char want4[] = "Return-Path: <a@b>\r\nDelivered-To: alice@x\r\n";
	CHECK_MEM(got, n, want4, sizeof(want4) - 1);
	spool_destroy(&sp);
	CHECK(mb_get(store, "INBOX")->messages == 4);
	store_close(&store);
	root_free();
}

static void test_deliver_mailbox(void)
{
	root_new();
	struct store *store = open_store();
	static const char body[] = "Subject: box\r\n\r\nx\r\n";
	struct spool *sp = spool_with(body, sizeof(body) - 1);
	struct lmtp_delivery_result r;
	const char *err;

	/* a preferred mailbox that does not exist: INBOX */
	struct lmtp_delivery d = {.mailbox = "Work"};
	CHECK(lmtp_deliver(store, sp, &d, &r) == 0);
	CHECK_STR(r.mailbox, "INBOX");
	CHECK(mb_get(store, "Work")->id == 0); /* not created */

	/* once it exists it is used, nested and UTF-8 names too */
	CHECK(store_mailbox_create(store, "Work", 0, &err) == 0);
	CHECK(lmtp_deliver(store, sp, &d, &r) == 0);
	CHECK_STR(r.mailbox, "Work");
	CHECK(mb_get(store, "Work")->messages == 1);
	CHECK(store_mailbox_create(store, "Lists/会議", 0, &err) == 0);
	struct lmtp_delivery d2 = {.mailbox = "Lists/会議"};
	CHECK(lmtp_deliver(store, sp, &d2, &r) == 0);
	CHECK_STR(r.mailbox, "Lists/会議");
	/* an invalid name is simply not found */
	struct lmtp_delivery d3 = {.mailbox = "../x"};
	CHECK(lmtp_deliver(store, sp, &d3, &r) == 0);
	CHECK_STR(r.mailbox, "INBOX");
	/* "inbox" is INBOX */
	struct lmtp_delivery d4 = {.mailbox = "inbox"};
	CHECK(lmtp_deliver(store, sp, &d4, &r) == 0);
	CHECK_STR(r.mailbox, "INBOX");
	CHECK(mb_get(store, "INBOX")->messages == 3);

	/* over the size limit: refused, nothing stored */
	struct lmtp_delivery d5 = {.max_size = sizeof(body) - 2};
	CHECK(lmtp_deliver(store, sp, &d5, &r) < 0);
	CHECK(r.status == LMTP_DELIVERY_TOOBIG);
	CHECK(r.error != NULL);
	CHECK(mb_get(store, "INBOX")->messages == 3);
	/* exactly the limit passes (the trace fields do not count) */
	struct lmtp_delivery d6 = {.max_size = sizeof(body) - 1, .return_path = "x@y"};
	CHECK(lmtp_deliver(store, sp, &d6, &r) == 0);
	CHECK(lmtp_delivery_over_quota(store, 1) == false);
	spool_destroy(&sp);
	store_close(&store);
	root_free();
}

static void test_received_field(void)
{
	struct buf b;
	buf_init(&b, 4096);
	/* 2001-09-09 01:46:40 UTC */
	setenv("TZ", "UTC", 1);
	lmtp_received_field(&b, "mx.example.org", "192.0.2.7", "imap.example.com", "abc123",
			    "bob@example.org", "alice@example.com", false, 1000000000);
	static const char want[] = "Received: from mx.example.org ([192.0.2.7])\r\n"
				   "\tby imap.example.com with LMTP id abc123\r\n"
				   "\t(envelope-from <bob@example.org>)\r\n"
				   "\tfor <alice@example.com>; Sun, 09 Sep 2001 01:46:40 +0000\r\n";
	CHECK_MEM(b.data, b.len, want, sizeof(want) - 1);
	buf_reset(&b);
	lmtp_received_field(&b, "", NULL, "h", "id", "", NULL, true, 1000000000);
	static const char want2[] = "Received: from unknown (local)\r\n"
				    "\tby h with UTF8LMTP id id\r\n"
				    "\t(envelope-from <>); Sun, 09 Sep 2001 01:46:40 +0000\r\n";
	CHECK_MEM(b.data, b.len, want2, sizeof(want2) - 1);
	buf_free(&b);
}

int main(void)
{
	TEST_RUN(test_deliver_trace_fields);
	TEST_RUN(test_deliver_mailbox);
	TEST_RUN(test_received_field);
	return test_finish();
}
