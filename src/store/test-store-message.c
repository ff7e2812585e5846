/* test-store-message.c: unit tests of the embedded store's messages (store.h): append and
 * MULTIAPPEND, FETCH data, the view listing, flags and keywords, expunge, copy and move,
 * listeners. Each test works in its own temporary folder. */
#include <poll.h>
#include <sqlite3.h>
#include <strings.h>

#include "lib/log.h"
#include "lib/xmalloc.h"
#include "store/test-store-util.h"

/* ---- tests: messages ---- */

static void test_append(void)
{
	root_new();
	struct store *store = open_store();
	const char *error;
	uint64_t inbox = mailbox_id(store, "INBOX");
	const char *text = make_msg(0, "Hello", "Body text");
	struct store_append a = {
		.data = (const unsigned char *)text, .size = strlen(text),
		.flags = STORE_FLAG_FLAGGED, .internal_date = 837596665, .internal_tz = -420,
	};
	uint32_t uid = 0, uidv = 0;
	time_t before = time(NULL);
	CHECK(store_append(store, inbox, &a, 1, &uid, &uidv, &error) == 0);
	CHECK(uid == 1 && uidv == mb_get(store, "INBOX")->uidvalidity);
	const struct store_mailbox *mb = mb_get(store, "INBOX");
	CHECK(mb->messages == 1 && mb->unseen == 1 && mb->deleted == 0 && mb->size == strlen(text));
	CHECK(mb->uidnext == 2);

	struct pool *pool = pool_create(4096);
	struct store_msg_info info;
	CHECK(store_message_info(store, inbox, 1, pool, &info, &error) == 1);
	CHECK(info.uid == 1 && info.size == strlen(text));
	CHECK(info.internal_date == 837596665 && info.internal_tz == -420);
	CHECK(info.saved_date >= before && info.saved_date <= time(NULL));
	CHECK(strstr(info.envelope, "\"Hello\"") != NULL);
	CHECK(strncmp(info.envelope, "(\"Wed, 17 Jul 1996 02:44:25 -0700\" \"Hello\"", 42) == 0);
	CHECK(strncmp(info.bodystructure, "(\"text\" \"plain\"", 15) == 0);
	CHECK(strncmp(info.body, "(\"text\" \"plain\"", 15) == 0);
	CHECK(strlen(info.body) < strlen(info.bodystructure));
	CHECK(info.bodystructure_rev1 == info.bodystructure && info.body_rev1 == info.body);
	CHECK(strlen(info.body_id) == 64);
	/* the file: named by the hash, 0600, exactly the bytes */
	char path[512];
	body_path(info.body_id, path, sizeof(path));
	CHECK(file_mode(path) == 0600);
	int fd = store_body_open(store, info.body_id, &error);
	CHECK(fd >= 0);
	char buf[2048];
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf)) : -1;
	CHECK(n == (ssize_t)strlen(text) && memcmp(buf, text, strlen(text)) == 0);
	if (fd >= 0)
		close(fd);
	CHECK(store_body_open(store, "../../etc/passwd", &error) < 0);
	CHECK(store_last_error(store) == STORE_ERR_INVALID);
	CHECK(store_body_open(store, "0000000000000000000000000000000000000000000000000000000000000000",
			      &error) < 0);
	CHECK(store_last_error(store) == STORE_ERR_NOT_FOUND);
	CHECK(store_message_info(store, inbox, 99, pool, &info, &error) == 0);

	/* MULTIAPPEND; internal_date 0 is now; an identical body is stored once */
	struct store_append multi[3] = {
		{ .data = (const unsigned char *)make_msg(1, "m1", "x"), .size = strlen(msg_text[1]) },
		{ .data = (const unsigned char *)make_msg(2, "m2", "y"), .size = strlen(msg_text[2]),
		  .flags = STORE_FLAG_SEEN | STORE_FLAG_DELETED },
		{ .data = (const unsigned char *)text, .size = strlen(text), .internal_tz = 540 },
	};
	uint32_t uids[3];
	before = time(NULL);
	CHECK(store_append(store, inbox, multi, 3, uids, &uidv, &error) == 0);
	CHECK(uids[0] == 2 && uids[1] == 3 && uids[2] == 4);
	CHECK(body_files() == 3);
	CHECK(store_message_info(store, inbox, 4, pool, &info, &error) == 1);
	CHECK(info.internal_date >= before && info.internal_date <= time(NULL) &&
	      info.internal_tz == 540);
	char h1[65], h4[65];
	CHECK(body_id_of(store, inbox, 1, h1) == 1 && body_id_of(store, inbox, 4, h4) == 1);
	CHECK(strcmp(h1, h4) == 0);
	mb = mb_get(store, "INBOX");
	CHECK(mb->messages == 4 && mb->unseen == 3 && mb->deleted == 1);

	/* all or nothing: an invalid keyword, before any file is written */
	static const char *const badkw[] = { "ok", "bad keyword" };
	struct store_append two[2] = {
		{ .data = (const unsigned char *)make_msg(1, "n1", "new one"),
		  .size = strlen(msg_text[1]) },
		{ .data = (const unsigned char *)make_msg(2, "n2", "new two"),
		  .size = strlen(msg_text[2]), .keywords = badkw, .keyword_count = 2 },
	};
	CHECK(store_append(store, inbox, two, 2, uids, &uidv, &error) < 0);
	CHECK(store_last_error(store) == STORE_ERR_INVALID);
	CHECK(body_files() == 3);
	/* all or nothing: the keyword limit found inside the transaction, after the files */
	static char kwbuf[70][16];
	static const char *kwa[40], *kwb[30];
	for (int i = 0; i < 70; i++)
		snprintf(kwbuf[i], sizeof(kwbuf[i]), "kw%d", i);
	for (int i = 0; i < 40; i++)
		kwa[i] = kwbuf[i];
	for (int i = 0; i < 30; i++)
		kwb[i] = kwbuf[40 + i];
	two[0].keywords = kwa;
	two[0].keyword_count = 40;
	two[1].keywords = kwb;
	two[1].keyword_count = 30;
	CHECK(store_append(store, inbox, two, 2, uids, &uidv, &error) < 0);
	CHECK(store_last_error(store) == STORE_ERR_LIMIT);
	CHECK(body_files() == 3);
	mb = mb_get(store, "INBOX");
	CHECK(mb->messages == 4 && mb->uidnext == 5 && mb->keyword_count == 0);
	/* nothing was left behind, and what failed can succeed */
	two[1].keyword_count = 20;
	CHECK(store_append(store, inbox, two, 2, uids, &uidv, &error) == 0);
	CHECK(uids[0] == 5 && uids[1] == 6);
	CHECK(mb_get(store, "INBOX")->keyword_count == 60);

	/* the same new body twice in one MULTIAPPEND: one file, two messages */
	struct store_append dup[2] = {
		{ .data = (const unsigned char *)make_msg(3, "dup", "twice"),
		  .size = strlen(msg_text[3]) },
		{ .data = (const unsigned char *)msg_text[3], .size = strlen(msg_text[3]) },
	};
	int files_before = body_files();
	CHECK(store_append(store, inbox, dup, 2, uids, &uidv, &error) == 0);
	CHECK(body_files() == files_before + 1);
	char d1[65], d2[65];
	CHECK(body_id_of(store, inbox, uids[0], d1) == 1 && body_id_of(store, inbox, uids[1], d2) == 1);
	CHECK(strcmp(d1, d2) == 0);
	/* expunging one keeps the file for the other */
	CHECK(store_expunge(store, inbox, uids, 1, NULL, NULL, &error) == 0);
	CHECK(body_files() == files_before + 1);
	CHECK(store_expunge(store, inbox, uids + 1, 1, NULL, NULL, &error) == 0);
	CHECK(body_files() == files_before);

	/* a batch big enough for one syncfs instead of an fsync per file; first failing late
	 * (keyword limit in the transaction), then succeeding */
	static char big_text[12][128];
	struct store_append big[12];
	uint32_t big_uids[12];
	for (int i = 0; i < 12; i++) {
		snprintf(big_text[i], sizeof(big_text[i]), "Subject: batch %d\r\n\r\nbody %d\r\n",
			 i, i);
		big[i] = (struct store_append){ .data = (const unsigned char *)big_text[i],
						.size = strlen(big_text[i]) };
	}
	big[11].keywords = kwb;
	big[11].keyword_count = 30; /* 60 + 30 > 64 */
	files_before = body_files();
	CHECK(store_append(store, inbox, big, 12, big_uids, &uidv, &error) < 0);
	CHECK(store_last_error(store) == STORE_ERR_LIMIT);
	CHECK(body_files() == files_before);
	big[11].keyword_count = 0;
	CHECK(store_append(store, inbox, big, 12, big_uids, &uidv, &error) == 0);
	CHECK(body_files() == files_before + 12 && big_uids[11] == big_uids[0] + 11);
	CHECK(store_message_info(store, inbox, big_uids[11], pool, &info, &error) == 1);
	CHECK(info.size == strlen(big_text[11]));

	/* bad arguments */
	CHECK(store_append(store, 999999, multi, 1, uids, &uidv, &error) < 0);
	CHECK(store_last_error(store) == STORE_ERR_NOT_FOUND);
	multi[0].flags = 0x80;
	CHECK(store_append(store, inbox, multi, 1, uids, &uidv, &error) < 0);
	CHECK(store_last_error(store) == STORE_ERR_INVALID);
	CHECK(store_append(store, inbox, multi, 0, uids, &uidv, &error) < 0);
	/* an empty message is a message */
	struct store_append empty = { .data = NULL, .size = 0 };
	CHECK(store_append(store, inbox, &empty, 1, uids, &uidv, &error) == 0);
	CHECK(store_message_info(store, inbox, uids[0], pool, &info, &error) == 1 &&
	      info.size == 0);
	unsigned problems = 99;
	CHECK(store_check(store, false, NULL, NULL, &problems, &error) == 0 && problems == 0);
	pool_destroy(&pool);
	store_close(&store);
	root_free();
}

static void test_message_info_rev1(void)
{
	root_new();
	struct store *store = open_store();
	const char *error;
	uint64_t inbox = mailbox_id(store, "INBOX");
	const char *text = "Subject: outer\r\nMIME-Version: 1.0\r\n"
			   "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
			   "--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n"
			   "--b\r\nContent-Type: message/global\r\n\r\n"
			   "Subject: inner\r\n\r\nbody\r\n--b--\r\n";
	CHECK(append1(store, inbox, text, 0, NULL, 0, NULL) == 0);
	struct pool *pool = pool_create(4096);
	struct store_msg_info info;
	CHECK(store_message_info(store, inbox, 1, pool, &info, &error) == 1);
	CHECK(info.bodystructure_rev1 != info.bodystructure);
	CHECK(strcmp(info.bodystructure_rev1, info.bodystructure) != 0);
	CHECK(strcmp(info.body_rev1, info.body) != 0);
	CHECK(strstr(info.bodystructure, "\"inner\"") != NULL);
	CHECK(strstr(info.bodystructure_rev1, "\"inner\"") == NULL);
	pool_destroy(&pool);
	store_close(&store);
	root_free();
}

struct nest {
	struct store *store;
	uint64_t id;
	int r;
	const char *error;
};

static int nest_cb(void *ctx, const struct store_msg *msg)
{
	struct nest *n = ctx;
	struct msgs inner = { 0 };
	(void)msg;
	n->r = store_messages(n->store, n->id, msgs_cb, &inner, &n->error);
	return -1;
}

static void test_messages_listing(void)
{
	root_new();
	struct store *store = open_store();
	const char *error;
	uint64_t inbox = mailbox_id(store, "INBOX");
	char body[32];
	for (int i = 0; i < 10; i++) {
		snprintf(body, sizeof(body), "message %d", i);
		CHECK(append1(store, inbox, make_msg(0, "list", body),
			      i % 2 == 0 ? STORE_FLAG_SEEN : 0, NULL, 0, NULL) == 0);
	}
	struct msgs m = { 0 };
	CHECK(store_messages(store, inbox, msgs_cb, &m, &error) == 0);
	CHECK(m.n == 10);
	for (int i = 0; i < m.n; i++) {
		CHECK(m.v[i].uid == (uint32_t)i + 1);
		CHECK(m.v[i].flags == (i % 2 == 0 ? STORE_FLAG_SEEN : 0));
		CHECK(m.v[i].modseq > 1);
		if (i > 0)
			CHECK(m.v[i].modseq > m.v[i - 1].modseq);
	}
	CHECK(mb_get(store, "INBOX")->highestmodseq == m.v[9].modseq);
	/* a listing callback may not start the same listing */
	struct nest nest = { store, inbox, 0, NULL };
	CHECK(store_messages(store, inbox, nest_cb, &nest, &error) == 0);
	CHECK(nest.r == -1 && nest.error != NULL);
	/* a callback may stop the listing */
	struct msgs s = { .stop_after = 3 };
	CHECK(store_messages(store, inbox, msgs_cb, &s, &error) == 0 && s.n == 3);
	/* and the statement is usable again at once */
	struct msgs again = { 0 };
	CHECK(store_messages(store, inbox, msgs_cb, &again, &error) == 0 && again.n == 10);
	struct msgs none = { 0 };
	CHECK(store_messages(store, mailbox_id(store, "Sent"), msgs_cb, &none, &error) == 0 &&
	      none.n == 0);
	store_close(&store);
	root_free();
}

/* ---- tests: flags ---- */

static void test_set_flags(void)
{
	root_new();
	struct store *store = open_store();
	const char *error;
	uint64_t inbox = mailbox_id(store, "INBOX");
	for (int i = 0; i < 3; i++)
		CHECK(append1(store, inbox, make_msg(0, "f", i == 0 ? "a" : i == 1 ? "b" : "c"), 0,
			      NULL, 0, NULL) == 0);
	uint64_t hms = mb_get(store, "INBOX")->highestmodseq;

	uint32_t uids[] = { 1, 2, 99 };
	struct store_flag_change ch = { .mode = STORE_FLAGS_ADD, .flags = STORE_FLAG_SEEN };
	struct msgs changed = { 0 }, failed = { 0 };
	CHECK(store_set_flags(store, inbox, uids, 3, &ch, msgs_cb, NULL, &changed, &error) == 0);
	CHECK(changed.n == 2 && changed.v[0].uid == 1 && changed.v[1].uid == 2);
	CHECK(changed.v[0].flags == STORE_FLAG_SEEN && changed.v[0].modseq == hms + 1);
	const struct store_mailbox *mb = mb_get(store, "INBOX");
	CHECK(mb->unseen == 1 && mb->highestmodseq == hms + 1);

	/* touched but unchanged: reported, no new modseq */
	changed.n = 0;
	CHECK(store_set_flags(store, inbox, uids, 1, &ch, msgs_cb, NULL, &changed, &error) == 0);
	CHECK(changed.n == 1 && changed.v[0].modseq == hms + 1);
	CHECK(mb_get(store, "INBOX")->highestmodseq == hms + 1);

	/* keywords: created as needed, case-insensitive, first spelling kept */
	static const char *const kw1[] = { "$Important", "todo" };
	ch = (struct store_flag_change){ .mode = STORE_FLAGS_ADD, .flags = STORE_FLAG_DELETED,
					 .keywords = kw1, .keyword_count = 2 };
	changed.n = 0;
	CHECK(store_set_flags(store, inbox, uids, 2, &ch, msgs_cb, NULL, &changed, &error) == 0);
	CHECK(changed.n == 2 && changed.v[0].keywords == 3);
	mb = mb_get(store, "INBOX");
	CHECK(mb->keyword_count == 2 && strcmp(mb->keywords[0], "$Important") == 0 &&
	      strcmp(mb->keywords[1], "todo") == 0 && mb->deleted == 2);
	static const char *const kw2[] = { "TODO" };
	ch = (struct store_flag_change){ .mode = STORE_FLAGS_REMOVE, .keywords = kw2,
					 .keyword_count = 1, .flags = STORE_FLAG_DELETED };
	changed.n = 0;
	CHECK(store_set_flags(store, inbox, uids, 1, &ch, msgs_cb, NULL, &changed, &error) == 0);
	CHECK(changed.n == 1 && changed.v[0].keywords == 1 &&
	      changed.v[0].flags == STORE_FLAG_SEEN);
	CHECK(mb_get(store, "INBOX")->deleted == 1);
	/* removing an unknown keyword creates nothing */
	static const char *const kw3[] = { "never-seen" };
	ch = (struct store_flag_change){ .mode = STORE_FLAGS_REMOVE, .keywords = kw3,
					 .keyword_count = 1 };
	CHECK(store_set_flags(store, inbox, uids, 2, &ch, NULL, NULL, NULL, &error) == 0);
	CHECK(mb_get(store, "INBOX")->keyword_count == 2);
	/* replace */
	static const char *const kw4[] = { "todo", "later" };
	ch = (struct store_flag_change){ .mode = STORE_FLAGS_REPLACE, .flags = STORE_FLAG_ANSWERED,
					 .keywords = kw4, .keyword_count = 2 };
	changed.n = 0;
	uint32_t u2[] = { 2 };
	CHECK(store_set_flags(store, inbox, u2, 1, &ch, msgs_cb, NULL, &changed, &error) == 0);
	CHECK(changed.n == 1 && changed.v[0].flags == STORE_FLAG_ANSWERED &&
	      changed.v[0].keywords == (2 | 4));
	mb = mb_get(store, "INBOX");
	CHECK(mb->unseen == 2 && mb->deleted == 0);
	/* invalid keyword, unknown flag */
	static const char *const bad[] = { "a]b" };
	ch = (struct store_flag_change){ .mode = STORE_FLAGS_ADD, .keywords = bad,
					 .keyword_count = 1 };
	CHECK(store_set_flags(store, inbox, u2, 1, &ch, NULL, NULL, NULL, &error) < 0);
	CHECK(store_last_error(store) == STORE_ERR_INVALID);
	ch = (struct store_flag_change){ .mode = STORE_FLAGS_ADD, .flags = 0x40 };
	CHECK(store_set_flags(store, inbox, u2, 1, &ch, NULL, NULL, NULL, &error) < 0);

	/* UNCHANGEDSINCE: message 2 changed after the given modseq fails, 3 goes through */
	uint64_t m2 = 0;
	struct msgs all = { 0 };
	CHECK(store_messages(store, inbox, msgs_cb, &all, &error) == 0);
	m2 = all.v[1].modseq;
	CHECK(all.v[2].modseq < m2);
	ch = (struct store_flag_change){ .mode = STORE_FLAGS_ADD, .flags = STORE_FLAG_FLAGGED,
					 .unchanged_since = m2 - 1 };
	uint32_t u23[] = { 2, 3 };
	changed.n = 0;
	CHECK(store_set_flags(store, inbox, u23, 2, &ch, msgs_cb, msgs_cb, &changed, &error) == 0);
	(void)failed;
	/* one list gets both: the failed one (2, unchanged) and the changed one (3) */
	CHECK(changed.n == 2);
	CHECK(changed.v[0].uid == 2 && (changed.v[0].flags & STORE_FLAG_FLAGGED) == 0);
	CHECK(changed.v[1].uid == 3 && (changed.v[1].flags & STORE_FLAG_FLAGGED) != 0);

	/* the 64-keyword limit */
	static char names[70][16];
	static const char *kws[70];
	for (int i = 0; i < 70; i++) {
		snprintf(names[i], sizeof(names[i]), "k%d", i);
		kws[i] = names[i];
	}
	/* 3 known ($Important, todo, later) + 61 = 64 */
	ch = (struct store_flag_change){ .mode = STORE_FLAGS_ADD, .keywords = kws,
					 .keyword_count = 61 };
	CHECK(store_set_flags(store, inbox, u2, 1, &ch, NULL, NULL, NULL, &error) == 0);
	CHECK(mb_get(store, "INBOX")->keyword_count == 64);
	ch.keyword_count = 62;
	CHECK(store_set_flags(store, inbox, u2, 1, &ch, NULL, NULL, NULL, &error) < 0);
	CHECK(store_last_error(store) == STORE_ERR_LIMIT);
	all.n = 0;
	CHECK(store_messages(store, inbox, msgs_cb, &all, &error) == 0);
	CHECK(all.v[1].keywords == UINT64_MAX - 1); /* all but $Important (bit 0) */
	/* known keywords still work at the limit */
	ch.keyword_count = 1;
	CHECK(store_set_flags(store, inbox, uids, 1, &ch, NULL, NULL, NULL, &error) == 0);
	unsigned problems = 99;
	CHECK(store_check(store, false, NULL, NULL, &problems, &error) == 0 && problems == 0);
	store_close(&store);
	root_free();
}

/* ---- tests: expunge, copy, move ---- */

static void test_expunge(void)
{
	root_new();
	struct store *store = open_store();
	const char *error;
	uint64_t inbox = mailbox_id(store, "INBOX"), sent = mailbox_id(store, "Sent");
	CHECK(append1(store, inbox, make_msg(0, "e1", "one"), STORE_FLAG_DELETED, NULL, 0, NULL) ==
	      0);
	CHECK(append1(store, inbox, make_msg(0, "e2", "two"), STORE_FLAG_SEEN, NULL, 0, NULL) == 0);
	CHECK(append1(store, inbox, make_msg(0, "e3", "three"), 0, NULL, 0, NULL) == 0);
	CHECK(append1(store, sent, make_msg(0, "e2", "two"), 0, NULL, 0, NULL) == 0);
	CHECK(body_files() == 3);
	uint64_t hms = mb_get(store, "INBOX")->highestmodseq;

	uint32_t uids[] = { 1, 2, 7 };
	struct uids gone = { 0 };
	CHECK(store_expunge(store, inbox, uids, 3, uids_cb, &gone, &error) == 0);
	CHECK(gone.n == 2 && gone.v[0] == 1 && gone.v[1] == 2);
	const struct store_mailbox *mb = mb_get(store, "INBOX");
	CHECK(mb->messages == 1 && mb->unseen == 1 && mb->deleted == 0 &&
	      mb->size == strlen(make_msg(0, "e3", "three")));
	CHECK(mb->highestmodseq == hms + 1);
	/* e1's body had one reference: gone; e2's is still Sent's */
	CHECK(body_files() == 2);
	char h[65];
	CHECK(body_id_of(store, sent, 1, h) == 1);
	int fd = store_body_open(store, h, &error);
	CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);
	/* expunging again is a no-op */
	gone.n = 0;
	CHECK(store_expunge(store, inbox, uids, 3, uids_cb, &gone, &error) == 0 && gone.n == 0);
	CHECK(mb_get(store, "INBOX")->highestmodseq == hms + 1);

	/* UIDs are never reused, not even after the highest is expunged and the store reopened */
	uint32_t u3[] = { 3 };
	CHECK(store_expunge(store, inbox, u3, 1, NULL, NULL, &error) == 0);
	CHECK(mb_get(store, "INBOX")->messages == 0);
	store_close(&store);
	store = open_store();
	uint32_t uid = 0;
	CHECK(append1(store, inbox, make_msg(0, "e4", "four"), 0, NULL, 0, &uid) == 0 && uid == 4);
	unsigned problems = 99;
	CHECK(store_check(store, false, NULL, NULL, &problems, &error) == 0 && problems == 0);
	store_close(&store);
	root_free();
}

static void test_copy_move(void)
{
	root_new();
	struct store *store = open_store();
	const char *error;
	uint64_t inbox = mailbox_id(store, "INBOX"), arch = mailbox_id(store, "Archive");
	/* Archive knows "bar" first: bit 0 there, bit 1 in INBOX */
	static const char *const bar[] = { "bar" };
	CHECK(append1(store, arch, make_msg(0, "c0", "zero"), 0, bar, 1, NULL) == 0);
	static const char *const kw[] = { "$Foo", "BAR" };
	CHECK(append1(store, inbox, make_msg(0, "c1", "one"), STORE_FLAG_SEEN, kw, 2, NULL) == 0);
	CHECK(append1(store, inbox, make_msg(0, "c2", "two"), STORE_FLAG_DELETED, kw, 1, NULL) == 0);
	CHECK(append1(store, inbox, make_msg(0, "c3", "three"), 0, NULL, 0, NULL) == 0);
	CHECK(body_files() == 4);

	uint32_t src[] = { 1, 2, 5 }, src_r[3], new_r[3], uidv = 0;
	size_t copied = 0;
	CHECK(store_copy(store, inbox, src, 3, arch, false, src_r, new_r, &copied, &uidv,
			 &error) == 0);
	CHECK(copied == 2 && src_r[0] == 1 && src_r[1] == 2 && new_r[0] == 2 && new_r[1] == 3);
	CHECK(uidv == mb_get(store, "Archive")->uidvalidity);
	CHECK(body_files() == 4); /* shared, not copied */
	const struct store_mailbox *mb = mb_get(store, "Archive");
	CHECK(mb->messages == 3 && mb->unseen == 2 && mb->deleted == 1);
	CHECK(mb->keyword_count == 2 && strcmp(mb->keywords[0], "bar") == 0 &&
	      strcmp(mb->keywords[1], "$Foo") == 0);
	struct msgs m = { 0 };
	CHECK(store_messages(store, arch, msgs_cb, &m, &error) == 0);
	CHECK(m.n == 3 && m.v[1].keywords == 3 && m.v[2].keywords == 2);
	CHECK(m.v[1].flags == STORE_FLAG_SEEN && m.v[2].flags == STORE_FLAG_DELETED);
	char h1[65], h2[65];
	CHECK(body_id_of(store, inbox, 1, h1) == 1 && body_id_of(store, arch, 2, h2) == 1);
	CHECK(strcmp(h1, h2) == 0);
	/* the copy holds the body after the original is expunged */
	uint32_t one[] = { 1 };
	CHECK(store_expunge(store, inbox, one, 1, NULL, NULL, &error) == 0);
	CHECK(body_files() == 4);
	CHECK(store_expunge(store, arch, (uint32_t[]){ 2 }, 1, NULL, NULL, &error) == 0);
	CHECK(body_files() == 3);

	/* move: the sources go, the destination gets them, references unchanged */
	uint64_t trash = mailbox_id(store, "Trash");
	uint32_t mv[] = { 2, 3 };
	CHECK(store_copy(store, inbox, mv, 2, trash, true, src_r, new_r, &copied, &uidv,
			 &error) == 0);
	CHECK(copied == 2 && new_r[0] == 1 && new_r[1] == 2);
	CHECK(mb_get(store, "INBOX")->messages == 0 && mb_get(store, "INBOX")->size == 0);
	mb = mb_get(store, "Trash");
	CHECK(mb->messages == 2 && mb->deleted == 1 && mb->unseen == 2);
	CHECK(body_files() == 3);
	/* copy within one mailbox */
	CHECK(store_copy(store, trash, (uint32_t[]){ 1 }, 1, trash, false, src_r, new_r, &copied,
			 &uidv, &error) == 0);
	CHECK(copied == 1 && new_r[0] == 3 && mb_get(store, "Trash")->messages == 3);
	/* move within one mailbox: a new UID */
	CHECK(store_copy(store, trash, (uint32_t[]){ 3 }, 1, trash, true, src_r, new_r, &copied,
			 &uidv, &error) == 0);
	CHECK(copied == 1 && new_r[0] == 4 && mb_get(store, "Trash")->messages == 3);
	/* missing destination */
	CHECK(store_copy(store, trash, (uint32_t[]){ 1 }, 1, 999999, false, src_r, new_r, &copied,
			 &uidv, &error) < 0);
	CHECK(store_last_error(store) == STORE_ERR_NOT_FOUND);

	/* keyword limit in the destination: nothing copied */
	CHECK(store_mailbox_create(store, "Full", 0, &error) == 0);
	uint64_t full = mailbox_id(store, "Full");
	static char names[64][16];
	static const char *kws[64];
	for (int i = 0; i < 64; i++) {
		snprintf(names[i], sizeof(names[i]), "f%d", i);
		kws[i] = names[i];
	}
	CHECK(append1(store, full, make_msg(0, "full", "full"), 0, kws, 64, NULL) == 0);
	CHECK(store_copy(store, trash, (uint32_t[]){ 1, 2 }, 2, full, false, src_r, new_r,
			 &copied, &uidv, &error) < 0);
	CHECK(store_last_error(store) == STORE_ERR_LIMIT);
	CHECK(mb_get(store, "Full")->messages == 1 && copied == 0);
	unsigned problems = 99;
	CHECK(store_check(store, false, NULL, NULL, &problems, &error) == 0 && problems == 0);
	store_close(&store);
	root_free();
}

/* ---- tests: listeners ---- */

struct heard {
	int told;
	uint64_t last_mailbox;
	struct store *store;
	struct store_listener *self, *other;
	bool remove_self, remove_other, flag_it;
};

static void heard_changed(void *ctx, uint64_t mailbox_id)
{
	struct heard *h = ctx;
	h->told++;
	h->last_mailbox = mailbox_id;
	if (h->remove_self)
		store_listener_remove(h->store, h->self);
	if (h->remove_other)
		store_listener_remove(h->store, h->other);
	if (h->flag_it) {
		/* a listener may change the store from its callback (and hears that too) */
		h->flag_it = false;
		struct store_flag_change ch = { .mode = STORE_FLAGS_ADD, .flags = STORE_FLAG_FLAGGED };
		const char *error;
		CHECK(store_set_flags(h->store, h->self->mailbox_id, (uint32_t[]){ 1 }, 1, &ch, NULL,
				      NULL, NULL, &error) == 0);
	}
}

static void test_listeners(void)
{
	root_new();
	struct store *store = open_store();
	const char *error;
	uint64_t inbox = mailbox_id(store, "INBOX"), sent = mailbox_id(store, "Sent");
	struct heard ha = { .store = store }, hb = { .store = store }, hs = { .store = store },
		     hall = { .store = store };
	struct store_listener la = { .mailbox_id = inbox, .changed = heard_changed, .ctx = &ha };
	struct store_listener lb = la, ls = la, lall = la;
	lb.ctx = &hb;
	ls.mailbox_id = sent;
	ls.ctx = &hs;
	lall.mailbox_id = 0;
	lall.ctx = &hall;
	ha.self = &la;
	hb.self = &lb;
	store_listener_add(store, &la);
	store_listener_add(store, &lb);
	store_listener_add(store, &ls);
	store_listener_add(store, &lall);

	/* one change, one notice per listener, however many messages */
	struct store_append two[2] = {
		{ .data = (const unsigned char *)make_msg(0, "l1", "one"), .size = strlen(msg_text[0]) },
		{ .data = (const unsigned char *)make_msg(1, "l2", "two"), .size = strlen(msg_text[1]) },
	};
	uint32_t uids[2], uidv;
	CHECK(store_append(store, inbox, two, 2, uids, &uidv, &error) == 0);
	CHECK(ha.told == 1 && hb.told == 1 && hs.told == 0 && hall.told == 1);
	CHECK(ha.last_mailbox == inbox && hall.last_mailbox == inbox);

	/* only real changes are told */
	struct store_flag_change ch = { .mode = STORE_FLAGS_ADD, .flags = STORE_FLAG_SEEN };
	CHECK(store_set_flags(store, inbox, (uint32_t[]){ 2 }, 1, &ch, NULL, NULL, NULL, &error) ==
	      0);
	CHECK(ha.told == 2);
	CHECK(store_set_flags(store, inbox, (uint32_t[]){ 2 }, 1, &ch, NULL, NULL, NULL, &error) ==
	      0);
	CHECK(ha.told == 2 && hb.told == 2);

	/* a failed change is not told */
	CHECK(store_append(store, inbox, two, 0, uids, &uidv, &error) < 0);
	CHECK(ha.told == 2);

	/* a move is told to both mailboxes' listeners, once each */
	size_t copied;
	uint32_t src_r[1], new_r[1];
	CHECK(store_copy(store, inbox, (uint32_t[]){ 1 }, 1, sent, true, src_r, new_r, &copied,
			 &uidv, &error) == 0);
	CHECK(ha.told == 3 && hs.told == 1 && hall.told == 4);

	/* a listener that removes itself, and one that removes the next one, mid-delivery */
	ha.remove_self = true;
	hb.remove_other = true;
	hb.other = &la;
	int a_before = ha.told, b_before = hb.told;
	CHECK(append1(store, inbox, make_msg(0, "l3", "three"), 0, NULL, 0, NULL) == 0);
	/* lb was added after la, so it is called first, and removes la before la's turn */
	CHECK(hb.told == b_before + 1 && ha.told == a_before);
	hb.remove_other = false;
	hb.remove_self = true;
	CHECK(append1(store, inbox, make_msg(0, "l4", "four"), 0, NULL, 0, NULL) == 0);
	CHECK(hb.told == b_before + 2);
	CHECK(append1(store, inbox, make_msg(0, "l5", "five"), 0, NULL, 0, NULL) == 0);
	CHECK(hb.told == b_before + 2 && ha.told == a_before);

	/* a listener may change the store from its callback: it is told of that change too */
	struct heard ht = { .store = store, .flag_it = true };
	struct store_listener lt = { .mailbox_id = mailbox_id(store, "Trash"),
				     .changed = heard_changed, .ctx = &ht };
	ht.self = &lt;
	store_listener_add(store, &lt);
	CHECK(append1(store, lt.mailbox_id, make_msg(0, "l7", "seven"), 0, NULL, 0, NULL) == 0);
	CHECK(ht.told == 2);
	struct msgs m = { .n = 0 };
	CHECK(store_messages(store, lt.mailbox_id, msgs_cb, &m, &error) == 0);
	CHECK(m.n == 1 && m.v[0].flags == STORE_FLAG_FLAGGED);
	store_listener_remove(store, &lt);

	/* expunge and a deleted mailbox */
	CHECK(store_expunge(store, sent, (uint32_t[]){ 1 }, 1, NULL, NULL, &error) == 0);
	CHECK(hs.told == 2);
	CHECK(append1(store, sent, make_msg(0, "l6", "six"), 0, NULL, 0, NULL) == 0);
	CHECK(store_mailbox_delete(store, "Sent", &error) == 0);
	CHECK(hs.told == 4);
	store_listener_remove(store, &ls);
	store_listener_remove(store, &ls); /* not there: harmless */
	store_listener_remove(store, &lall);
	store_close(&store);
	root_free();
}

/* store_changes_since: what a view or a QRESYNC client reads after a MODSEQ */
static void test_changes_since(void)
{
	root_new();
	struct store *store = open_store();
	const char *error;
	uint64_t inbox = mailbox_id(store, "INBOX");
	for (int i = 0; i < 5; i++)
		CHECK(append1(store, inbox, make_msg(0, "c", "x"), 0, NULL, 0, NULL) == 0);
	struct store_mailbox mb;
	CHECK(store_mailbox_get(store, "INBOX", &mb) == 1);
	uint64_t base = mb.highestmodseq;

	/* nothing since now */
	struct msgs m = { .n = 0 };
	struct uids u = { .n = 0 };
	CHECK(store_changes_since(store, inbox, base, &mb, msgs_cb, uids_cb, &m, &error) == 1);
	CHECK(m.n == 0 && mb.highestmodseq == base);
	/* everything since 0 */
	CHECK(store_changes_since(store, inbox, 0, &mb, msgs_cb, NULL, &m, &error) == 1);
	CHECK(m.n == 5);

	/* a flag change, an expunge and a new message */
	struct store_flag_change ch = { .mode = STORE_FLAGS_ADD, .flags = STORE_FLAG_DELETED };
	CHECK(store_set_flags(store, inbox, (uint32_t[]){ 2, 4 }, 2, &ch, NULL, NULL, NULL,
			      &error) == 0);
	CHECK(store_expunge(store, inbox, (uint32_t[]){ 4 }, 1, NULL, NULL, &error) == 0);
	CHECK(append1(store, inbox, make_msg(0, "c", "y"), 0, NULL, 0, NULL) == 0);
	m.n = 0;
	CHECK(store_changes_since(store, inbox, base, &mb, msgs_cb, NULL, &m, &error) == 1);
	CHECK(store_changes_since(store, inbox, base, &mb, NULL, uids_cb, &u, &error) == 1);
	CHECK(m.n == 2 && u.n == 1 && u.v[0] == 4);
	bool saw2 = false, saw6 = false;
	for (int i = 0; i < m.n; i++) {
		saw2 |= m.v[i].uid == 2 && m.v[i].flags == STORE_FLAG_DELETED;
		saw6 |= m.v[i].uid == 6 && m.v[i].modseq == mb.highestmodseq;
	}
	CHECK(saw2 && saw6 && mb.highestmodseq == base + 3);

	/* a deleted mailbox */
	CHECK(store_mailbox_create(store, "Gone", 0, &error) == 0);
	uint64_t gone = mailbox_id(store, "Gone");
	CHECK(store_mailbox_delete(store, "Gone", &error) == 0);
	CHECK(store_changes_since(store, gone, 0, &mb, msgs_cb, uids_cb, &m, &error) == 0);
	store_close(&store);
	root_free();
}

/* The expunge history QRESYNC relies on (store.h): every expunge keeps its UID and MODSEQ for as
 * long as the mailbox exists (across reopening and store_check), so "expunged after x" is exact
 * for every x; a deleted mailbox takes its history along, and a new mailbox of the same name
 * starts empty. MODSEQs start at 1 for a new mailbox, and a STORE that changes nothing keeps
 * the MODSEQ (RFC 7162 3.1.11). */
static void test_expunge_history(void)
{
	root_new();
	struct store *store = open_store();
	const char *error;
	CHECK(store_mailbox_create(store, "H", 0, &error) == 0);
	uint64_t h = mailbox_id(store, "H");
	CHECK(mb_get(store, "H")->highestmodseq == 1);
	for (int i = 0; i < 8; i++)
		CHECK(append1(store, h, make_msg(0, "h", "x"), 0, NULL, 0, NULL) == 0);
	/* 1, 2, 3 one at a time, then 5 and 7 together */
	uint64_t after[4];
	for (uint32_t uid = 1; uid <= 3; uid++) {
		CHECK(store_expunge(store, h, &uid, 1, NULL, NULL, &error) == 0);
		after[uid - 1] = mb_get(store, "H")->highestmodseq;
	}
	CHECK(store_expunge(store, h, (uint32_t[]){ 5, 7 }, 2, NULL, NULL, &error) == 0);
	after[3] = mb_get(store, "H")->highestmodseq;
	CHECK(after[0] == 10 && after[1] == 11 && after[2] == 12 && after[3] == 13);
	/* a flag already set: no new MODSEQ */
	struct store_flag_change ch = { .mode = STORE_FLAGS_ADD, .flags = STORE_FLAG_SEEN };
	CHECK(store_set_flags(store, h, (uint32_t[]){ 4 }, 1, &ch, NULL, NULL, NULL, &error) == 0);
	uint64_t seen = mb_get(store, "H")->highestmodseq;
	CHECK(seen == 14);
	CHECK(store_set_flags(store, h, (uint32_t[]){ 4 }, 1, &ch, NULL, NULL, NULL, &error) == 0);
	CHECK(mb_get(store, "H")->highestmodseq == seen);
	store_close(&store);

	store = open_store();
	unsigned problems;
	CHECK(store_check(store, false, NULL, NULL, &problems, &error) == 0 && problems == 0);
	struct store_mailbox mb;
	struct uids u = { .n = 0 };
	CHECK(store_changes_since(store, h, 0, &mb, NULL, uids_cb, &u, &error) == 1);
	CHECK(u.n == 5 && u.v[0] == 1 && u.v[1] == 2 && u.v[2] == 3 && u.v[3] == 5 && u.v[4] == 7);
	u.n = 0;
	CHECK(store_changes_since(store, h, after[0], &mb, NULL, uids_cb, &u, &error) == 1);
	CHECK(u.n == 4 && u.v[0] == 2 && u.v[3] == 7);
	u.n = 0;
	CHECK(store_changes_since(store, h, after[2], &mb, NULL, uids_cb, &u, &error) == 1);
	CHECK(u.n == 2 && u.v[0] == 5 && u.v[1] == 7);
	u.n = 0;
	CHECK(store_changes_since(store, h, after[3], &mb, NULL, uids_cb, &u, &error) == 1);
	CHECK(u.n == 0);

	/* deleted and created again: a new UIDVALIDITY and no history */
	uint32_t uidvalidity = mb.uidvalidity;
	CHECK(store_mailbox_delete(store, "H", &error) == 0);
	CHECK(store_mailbox_create(store, "H", 0, &error) == 0);
	uint64_t h2 = mailbox_id(store, "H");
	u.n = 0;
	CHECK(store_changes_since(store, h2, 0, &mb, NULL, uids_cb, &u, &error) == 1);
	CHECK(u.n == 0 && mb.highestmodseq == 1 && mb.uidvalidity != uidvalidity);
	store_close(&store);
	root_free();
}

/* Two handles on one store (as two processes have): store_refresh tells one handle's
 * listeners about the other's commits, and only about those; the watch names the user. */
static void watch_cb(void *ctx, const char *user)
{
	int *n = ctx;
	if (user != NULL && strcmp(user, "alice") == 0)
		(*n)++;
}

static void test_refresh_and_watch(void)
{
	root_new();
	const char *error;
	int wfd = store_watch_open(test_root, &error);
	CHECK(wfd >= 0);
	struct store *a = open_store(), *b = open_store();
	CHECK(a != NULL && b != NULL);
	uint64_t inbox = mailbox_id(a, "INBOX");
	struct heard ha = { .store = a };
	struct store_listener la = { .mailbox_id = inbox, .changed = heard_changed, .ctx = &ha };
	store_listener_add(a, &la);
	int events = 0;
	CHECK(store_watch_read(wfd, watch_cb, &events) == 0);
	events = 0;

	CHECK(store_refresh(a) == 0 && ha.told == 0);
	/* a's own commit: told directly, not again by refresh */
	CHECK(append1(a, inbox, make_msg(0, "r", "x"), 0, NULL, 0, NULL) == 0);
	CHECK(ha.told == 1);
	CHECK(store_refresh(a) == 0 && ha.told == 1);
	/* b's commit: a hears nothing until it refreshes (its process saw the inotify event) */
	CHECK(append1(b, inbox, make_msg(0, "r", "y"), 0, NULL, 0, NULL) == 0);
	CHECK(ha.told == 1);
	CHECK(store_refresh(a) == 1 && ha.told == 2 && ha.last_mailbox == 0);
	CHECK(store_refresh(a) == 0 && ha.told == 2);
	CHECK(store_watch_read(wfd, watch_cb, &events) == 0);
	CHECK(events >= 1); /* the kernel merges identical events not yet read */
	events = 0;
	CHECK(store_watch_read(wfd, watch_cb, &events) == 0 && events == 0);
	store_listener_remove(a, &la);
	store_close(&a);
	store_close(&b);
	close(wfd);
	root_free();
}

/* ---- the packed state (store-state.c) against the rows ---- */

struct msg_list {
	struct store_msg *v;
	size_t n, alloc;
};

static int msg_list_cb(void *ctx, const struct store_msg *msg)
{
	struct msg_list *l = ctx;
	if (l->n == l->alloc) {
		l->alloc = l->alloc ? l->alloc * 2 : 256;
		l->v = xrealloc(l->v, l->alloc * sizeof(*l->v));
	}
	l->v[l->n++] = *msg;
	return 0;
}

static int msg_cmp(const void *a, const void *b)
{
	uint32_t x = ((const struct store_msg *)a)->uid, y = ((const struct store_msg *)b)->uid;
	return x < y ? -1 : x > y;
}

/* The UIDs of a mailbox's rows, read with a connection of ours. */
static void row_uids(uint64_t mbid, struct msg_list *l)
{
	char path[512];
	sqlite3 *db;
	sqlite3_stmt *stmt;
	l->n = 0;
	snprintf(path, sizeof(path), "%s/alice/store.db", test_root);
	CHECK(sqlite3_open(path, &db) == SQLITE_OK);
	CHECK(sqlite3_prepare_v2(db, "SELECT uid FROM message WHERE mailbox_id = ?1 ORDER BY uid",
				 -1, &stmt, NULL) == SQLITE_OK);
	sqlite3_bind_int64(stmt, 1, (sqlite3_int64)mbid);
	while (sqlite3_step(stmt) == SQLITE_ROW) {
		struct store_msg m = { .uid = (uint32_t)sqlite3_column_int64(stmt, 0) };
		msg_list_cb(l, &m);
	}
	sqlite3_finalize(stmt);
	sqlite3_close(db);
}

/* The listing has an entry per row, and "changed since x" is the listing's MODSEQs above x. */
static bool state_matches(struct store *store, uint64_t mbid)
{
	struct msg_list all = { 0 }, rows = { 0 }, got = { 0 };
	struct store_mailbox mb;
	const char *error;
	bool ok = store_messages(store, mbid, msg_list_cb, &all, &error) == 0;
	row_uids(mbid, &rows);
	ok = ok && all.n == rows.n;
	for (size_t i = 0; ok && i < all.n; i++)
		ok = all.v[i].uid == rows.v[i].uid && (i == 0 || all.v[i - 1].uid < all.v[i].uid);
	ok = ok && store_mailbox_get_by_id(store, mbid, &mb) == 1;
	uint64_t sinces[] = { 0, mb.highestmodseq / 2, mb.highestmodseq - 1, mb.highestmodseq };
	for (size_t k = 0; ok && k < 4; k++) {
		got.n = 0;
		ok = store_changes_since(store, mbid, sinces[k], &mb, msg_list_cb, NULL, &got,
					 &error) == 1;
		qsort(got.v, got.n, sizeof(*got.v), msg_cmp);
		size_t j = 0;
		for (size_t i = 0; ok && i < all.n; i++) {
			ok = all.v[i].modseq <= mb.highestmodseq;
			if (all.v[i].modseq <= sinces[k])
				continue;
			ok = ok && j < got.n && all.v[i].uid == got.v[j].uid &&
			     all.v[i].flags == got.v[j].flags &&
			     all.v[i].keywords == got.v[j].keywords &&
			     all.v[i].modseq == got.v[j].modseq;
			j++;
		}
		ok = ok && j == got.n;
	}
	free(all.v);
	free(rows.v);
	free(got.v);
	return ok;
}

/* Bit mask of the names in the mailbox's keyword list. */
static uint64_t kw_mask(const struct store_mailbox *mb, const char *const *names, size_t n)
{
	uint64_t mask = 0;
	for (size_t i = 0; i < n; i++) {
		for (unsigned b = 0; b < mb->keyword_count; b++) {
			if (strcasecmp(mb->keywords[b], names[i]) == 0)
				mask |= (uint64_t)1 << b;
		}
	}
	return mask;
}

/* After store_set_flags(uids, ch) took the mailbox from before to after (new HIGHESTMODSEQ
 * hms): every message asked for took the change (a new MODSEQ if that changed anything),
 * failed UNCHANGEDSINCE, or is gone; every other message is as it was. */
static bool flags_applied(const struct msg_list *before, const struct msg_list *after,
			  const uint32_t *uids, size_t n, const struct store_flag_change *ch,
			  uint64_t mask, uint64_t hms)
{
	if (before->n != after->n)
		return false;
	size_t k = 0;
	for (size_t i = 0; i < before->n; i++) {
		const struct store_msg *b = &before->v[i], *a = &after->v[i];
		if (a->uid != b->uid)
			return false;
		while (k < n && uids[k] < b->uid)
			k++;
		struct store_msg want = *b;
		if (k < n && uids[k] == b->uid &&
		    (ch->unchanged_since == 0 || b->modseq <= ch->unchanged_since)) {
			if (ch->mode == STORE_FLAGS_REPLACE) {
				want.flags = ch->flags;
				want.keywords = mask;
			} else if (ch->mode == STORE_FLAGS_ADD) {
				want.flags |= ch->flags;
				want.keywords |= mask;
			} else {
				want.flags &= (uint8_t)~ch->flags;
				want.keywords &= ~mask;
			}
			if (want.flags != b->flags || want.keywords != b->keywords)
				want.modseq = hms;
		}
		if (a->flags != want.flags || a->keywords != want.keywords ||
		    a->modseq != want.modseq)
			return false;
	}
	return true;
}

static uint32_t test_rand_state = 12345;
static uint32_t test_rand(uint32_t n)
{
	test_rand_state = test_rand_state * 1103515245u + 12345u;
	return (test_rand_state >> 8) % n;
}

/* Random appends, flag changes (every mode, keywords, UNCHANGEDSINCE), expunges, copies and
 * moves over more than two chunks of UIDs: after each, the listing and "changed since" agree
 * with the rows, and store_check finds nothing. */
static void test_state_random(void)
{
	root_new();
	struct store *store = open_store();
	const char *error;
	uint64_t inbox = mailbox_id(store, "INBOX"), arch = mailbox_id(store, "Archive");
	enum { N = 2600 };
	char (*texts)[64] = xmalloc(N * sizeof(*texts));
	struct store_append *msgs = xcalloc(N, sizeof(*msgs));
	static const char *const kws[] = { "$Label1", "todo", "later" };
	for (int i = 0; i < N; i++) {
		int len = snprintf(texts[i], sizeof(texts[i]), "Subject: %d\r\n\r\nbody %d\r\n", i,
				   i % 700);
		msgs[i] = (struct store_append){ .data = (const unsigned char *)texts[i],
						 .size = (size_t)len,
						 .flags = (uint8_t)(i % 3 == 0 ? STORE_FLAG_SEEN : 0),
						 .keywords = kws, .keyword_count = i % 5 == 0 };
	}
	uint32_t *uids = xcalloc(N, sizeof(*uids)), *uids2 = xcalloc(N, sizeof(*uids2));
	uint32_t uidv;
	CHECK(store_append(store, inbox, msgs, N, uids, &uidv, &error) == 0);
	CHECK(state_matches(store, inbox));
	for (int round = 0; round < 40; round++) {
		struct msg_list cur = { 0 };
		uint64_t mbid = test_rand(4) == 0 ? arch : inbox;
		CHECK(store_messages(store, mbid, msg_list_cb, &cur, &error) == 0);
		/* a random subset: a run, or scattered UIDs, some of them not existing */
		size_t n = 0;
		uint32_t top = cur.n > 0 ? cur.v[cur.n - 1].uid + 3 : 5;
		uint32_t lo = test_rand(top) + 1, step = 1 + test_rand(3);
		for (uint32_t u = lo; u <= top && n < N; u += step) {
			if (step == 1 || test_rand(2) == 0)
				uids[n++] = u;
		}
		struct store_mailbox mb;
		CHECK(store_mailbox_get_by_id(store, mbid, &mb) == 1);
		struct store_flag_change ch = {
			.mode = (enum store_flag_mode)test_rand(3),
			.flags = (uint8_t)test_rand(32),
			.keywords = kws + test_rand(2),
			.keyword_count = test_rand(2),
			.unchanged_since = test_rand(3) == 0 ? mb.highestmodseq - test_rand(3) : 0,
		};
		switch (test_rand(6)) {
		case 0:
		case 1:
		case 2: {
			CHECK(store_set_flags(store, mbid, uids, n, &ch, NULL, NULL, NULL, &error) ==
			      0);
			struct msg_list after = { 0 };
			CHECK(store_messages(store, mbid, msg_list_cb, &after, &error) == 0);
			CHECK(store_mailbox_get_by_id(store, mbid, &mb) == 1);
			CHECK(flags_applied(&cur, &after, uids, n, &ch,
					    kw_mask(&mb, ch.keywords, ch.keyword_count),
					    mb.highestmodseq));
			free(after.v);
			break;
		}
		case 3:
			CHECK(store_expunge(store, mbid, uids, n < 50 ? n : 50, NULL, NULL,
					    &error) == 0);
			break;
		case 4: {
			size_t copied;
			bool move = test_rand(2) == 0;
			uint64_t dst = mbid == inbox ? arch : inbox;
			CHECK(store_copy(store, mbid, uids, n < 700 ? n : 700, dst, move, uids2,
					 uids2, &copied, &uidv, &error) == 0);
			CHECK(state_matches(store, dst));
			break;
		}
		default:
			CHECK(store_append(store, mbid, msgs + test_rand(N - 10), 1 + test_rand(9),
					   NULL, NULL, &error) == 0);
			break;
		}
		CHECK(state_matches(store, mbid));
		free(cur.v);
		if (round % 10 == 9) {
			unsigned problems = 99;
			CHECK(store_check(store, false, NULL, NULL, &problems, &error) == 0 &&
			      problems == 0);
		}
	}
	/* a damaged chunk and a lost one are found; repair gives their messages an entry (no
	 * flags, a MODSEQ above all) and leaves the others as they were */
	struct msg_list before = { 0 }, after = { 0 };
	CHECK(store_messages(store, inbox, msg_list_cb, &before, &error) == 0);
	char path[512];
	sqlite3 *db;
	snprintf(path, sizeof(path), "%s/alice/store.db", test_root);
	CHECK(sqlite3_open(path, &db) == SQLITE_OK);
	CHECK(sqlite3_exec(db, "UPDATE msgstate SET data = x'0100' WHERE chunk = 1;"
			       "DELETE FROM msgstate WHERE chunk = 2",
			   NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(db);
	unsigned problems = 0;
	CHECK(store_messages(store, inbox, msg_list_cb, &after, &error) < 0);
	CHECK(store_check(store, false, NULL, NULL, &problems, &error) == 0 && problems > 0);
	CHECK(store_check(store, true, NULL, NULL, &problems, &error) == 0 && problems > 0);
	CHECK(store_check(store, false, NULL, NULL, &problems, &error) == 0 && problems == 0);
	CHECK(state_matches(store, inbox) && state_matches(store, arch));
	after.n = 0;
	CHECK(store_messages(store, inbox, msg_list_cb, &after, &error) == 0);
	struct store_mailbox mb;
	CHECK(store_mailbox_get_by_id(store, inbox, &mb) == 1);
	CHECK(after.n == before.n);
	for (size_t i = 0; i < after.n && i < before.n; i++) {
		const struct store_msg *a = &after.v[i], *b = &before.v[i];
		bool lost = a->uid / 1024 == 1 || a->uid / 1024 == 2;
		CHECK(a->uid == b->uid);
		if (lost)
			CHECK(a->flags == 0 && a->keywords == 0 && a->modseq == mb.highestmodseq);
		else
			CHECK(a->flags == b->flags && a->keywords == b->keywords &&
			      a->modseq == b->modseq);
	}
	free(before.v);
	free(after.v);
	struct store_flag_change all = { .mode = STORE_FLAGS_ADD, .flags = STORE_FLAG_FLAGGED };
	for (uint32_t u = 0; u < N; u++)
		uids[u] = u + 1;
	CHECK(store_set_flags(store, inbox, uids, N, &all, NULL, NULL, NULL, &error) == 0);
	CHECK(state_matches(store, inbox));
	free(texts);
	free(msgs);
	free(uids);
	free(uids2);
	store_close(&store);
	root_free();
}

/* Group commit (store-stage.c): one staged file, hard-linked into two users' stores; the
 * rows; a link removed between link and append is made again; a failed group's cleanup keeps
 * a file some row names; the staging folder is emptied at open. */
static void test_stage(void)
{
	root_new();
	const char *error = NULL;
	struct store *a = open_store(), *b = NULL;
	CHECK(store_open(test_root, "bob", &b, &error) == 0);
	struct store_stage *stage = NULL;
	CHECK(store_stage_open(test_root, "t1", &stage, &error) == 0);
	CHECK(store_stage_open(test_root, "../x", &stage, &error) < 0);
	const char *text = make_msg(0, "Staged", "one copy for two users");
	struct store_staged st;
	CHECK(store_stage_write(stage, text, strlen(text), &st, &error) == 0);
	CHECK(st.size == strlen(text) && strlen(st.hash) == 64);
	bool ca = false, cb = false;
	CHECK(store_stage_link(a, stage, &st, &ca, &error) == 0 && ca);
	CHECK(store_stage_link(b, stage, &st, &cb, &error) == 0 && cb);
	bool again = true;
	CHECK(store_stage_link(a, stage, &st, &again, &error) == 0 && !again); /* present */
	CHECK(store_stage_sync(stage, &error) == 0);
	struct store_append m = {.data = (const unsigned char *)text, .size = strlen(text)};
	uint32_t uid = 0, uidv = 0;
	CHECK(store_append_staged(a, mailbox_id(a, "INBOX"), &m, stage, &st, ca, &uid, &uidv,
				  &error) == 0 && uid == 1);
	/* bob's name goes away before his append (a concurrent failed append of the same
	 * bytes): linked again from the staged file */
	char pa[512], pb[512];
	snprintf(pa, sizeof(pa), "%s/alice/bodies/%.2s/%s", test_root, st.hash, st.hash);
	snprintf(pb, sizeof(pb), "%s/bob/bodies/%.2s/%s", test_root, st.hash, st.hash);
	CHECK(unlink(pb) == 0);
	CHECK(store_append_staged(b, mailbox_id(b, "INBOX"), &m, stage, &st, cb, &uid, &uidv,
				  &error) == 0 && uid == 1);
	CHECK(store_stage_sync(stage, &error) == 0);
	store_notify_flush(a);
	store_notify_flush(b);
	struct stat sa, sb;
	CHECK(stat(pa, &sa) == 0 && stat(pb, &sb) == 0);
	CHECK(sa.st_ino == sb.st_ino && sa.st_nlink >= 2); /* one file, two names */
	/* the wrong size is refused, not stored */
	struct store_append bad = {.data = (const unsigned char *)text, .size = strlen(text) - 1};
	CHECK(store_append_staged(a, mailbox_id(a, "INBOX"), &bad, stage, &st, false, &uid, &uidv,
				  &error) < 0);
	/* cleanup after a failed group: a name some row uses stays, an unused one goes */
	store_stage_unlink(a, &st);
	CHECK(access(pa, F_OK) == 0);
	const char *other = make_msg(1, "Unused", "linked, never appended");
	struct store_staged st2;
	bool c2 = false;
	CHECK(store_stage_write(stage, other, strlen(other), &st2, &error) == 0);
	CHECK(store_stage_link(a, stage, &st2, &c2, &error) == 0 && c2);
	char p2[512];
	snprintf(p2, sizeof(p2), "%s/alice/bodies/%.2s/%s", test_root, st2.hash, st2.hash);
	CHECK(access(p2, F_OK) == 0);
	store_stage_unlink(a, &st2);
	CHECK(access(p2, F_OK) != 0);
	store_stage_drop(stage, &st2);
	/* the message reads back in both stores */
	struct pool *pool = pool_create(4096);
	struct store_msg_info info;
	CHECK(store_message_info(b, mailbox_id(b, "INBOX"), 1, pool, &info, &error) == 1);
	CHECK(strcmp(info.body_id, st.hash) == 0 && info.size == strlen(text));
	pool_destroy(&pool);
	/* a staged file left behind (a crash) is gone at the next open */
	char left[512];
	snprintf(left, sizeof(left), "%s/.stage/t1/%lu", test_root, st.seq);
	CHECK(access(left, F_OK) == 0);
	store_stage_close(&stage);
	CHECK(store_stage_open(test_root, "t1", &stage, &error) == 0);
	CHECK(access(left, F_OK) != 0);
	store_stage_close(&stage);
	store_close(&a);
	store_close(&b);
	root_free();
}

/* Background syncs (store-sync.c): sets deduplicate and turn into one syncfs from
 * STORE_SYNCSET_MAX names; the syncer calls back on the caller's thread, in order, with the
 * error of a failed sync (a missing file) or none (a missing -wal: checkpointed); a callback
 * may submit again; destroy runs what is still submitted. */
struct sync_seen {
	int calls, errors, resubmit;
	char last_error[256];
	struct store_syncer *syncer;
	int order[16];
};
static void sync_done(void *ctx, const char *error)
{
	struct sync_seen *seen = ctx;
	if (seen->calls < 16)
		seen->order[seen->calls] = seen->calls;
	seen->calls++;
	if (error != NULL) {
		seen->errors++;
		snprintf(seen->last_error, sizeof(seen->last_error), "%s", error);
	}
	if (seen->resubmit > 0) {
		seen->resubmit--;
		struct store_syncset again = {0};
		store_syncset_add(&again, test_root, "alice");
		store_syncer_submit(seen->syncer, &again, sync_done, seen);
	}
}

static void sync_drain(struct store_syncer *syncer)
{
	while (store_syncer_busy(syncer) > 0) {
		store_syncer_wait(syncer);
		store_syncer_reap(syncer);
	}
}

static void test_syncer(void)
{
	root_new();
	const char *error = NULL;
	struct store *a = open_store();
	store_close(&a);
	struct store_syncset set = {0};
	CHECK(store_syncset_empty(&set));
	store_syncset_add(&set, test_root, "alice");
	store_syncset_add(&set, test_root, "alice");
	CHECK(set.count == 1 && !set.whole_fs && !store_syncset_empty(&set));
	store_syncset_remove(&set, test_root, "alice");
	CHECK(store_syncset_empty(&set));
	for (int i = 0; i < STORE_SYNCSET_MAX; i++) {
		char name[16];
		snprintf(name, sizeof(name), "f%d", i);
		store_syncset_add(&set, test_root, name);
	}
	CHECK(set.whole_fs && set.count == 0);
	int fd = open(test_root, O_RDONLY | O_DIRECTORY);
	CHECK(fd >= 0);
	CHECK(store_syncset_run(&set, fd, &error) == 0 && store_syncset_empty(&set));
	store_syncset_add(&set, test_root, "no-such-file");
	CHECK(store_syncset_run(&set, fd, &error) < 0 && strstr(error, "no-such-file") != NULL);

	struct store_syncer *syncer = NULL;
	CHECK(store_syncer_create(fd, &syncer, &error) == 0);
	close(fd); /* the syncer has its own */
	struct sync_seen seen = {.syncer = syncer};
	for (int i = 0; i < 5; i++) {
		store_syncset_add(&set, test_root, "alice");
		store_syncset_add(&set, test_root, "alice/store.db");
		store_syncer_submit(syncer, &set, sync_done, &seen);
		CHECK(store_syncset_empty(&set));
	}
	CHECK(store_syncer_busy(syncer) == 5);
	sync_drain(syncer);
	CHECK(seen.calls == 5 && seen.errors == 0);
	for (int i = 0; i < 5; i++)
		CHECK(seen.order[i] == i);
	/* a gone WAL is no error, a gone file is */
	store_syncset_add(&set, test_root, "alice/gone.db-wal");
	store_syncer_submit(syncer, &set, sync_done, &seen);
	sync_drain(syncer);
	CHECK(seen.calls == 6 && seen.errors == 0);
	store_syncset_add(&set, test_root, "alice/gone");
	store_syncer_submit(syncer, &set, sync_done, &seen);
	sync_drain(syncer);
	CHECK(seen.calls == 7 && seen.errors == 1 && strstr(seen.last_error, "alice/gone") != NULL);
	/* several names: fsynced side by side by the helpers, a bad one still fails the round */
	store_syncset_add(&set, test_root, "alice");
	store_syncset_add(&set, test_root, "alice/gone2");
	store_syncset_add(&set, test_root, "alice/store.db");
	CHECK(set.count == 3 && !set.whole_fs);
	store_syncer_submit(syncer, &set, sync_done, &seen);
	sync_drain(syncer);
	CHECK(seen.calls == 8 && seen.errors == 2 && strstr(seen.last_error, "alice/gone2") != NULL);
	seen.errors = 1;
	seen.calls = 7;
	/* the fd says when to reap; a callback submits again */
	seen.resubmit = 2;
	store_syncset_add(&set, test_root, "alice");
	store_syncer_submit(syncer, &set, sync_done, &seen);
	struct pollfd pfd = {.fd = store_syncer_fd(syncer), .events = POLLIN};
	while (seen.calls < 10) {
		CHECK(poll(&pfd, 1, 10000) == 1);
		store_syncer_reap(syncer);
	}
	CHECK(seen.calls == 10 && store_syncer_busy(syncer) == 0);
	/* submitted and never reaped: destroy runs it, calls nothing, leaks nothing */
	store_syncset_add(&set, test_root, "alice");
	store_syncer_submit(syncer, &set, sync_done, &seen);
	store_syncer_destroy(&syncer);
	CHECK(syncer == NULL && seen.calls == 10);
	store_syncset_free(&set);
	root_free();
}

static int hook_calls;
static void unlink_hook(void *ctx)
{
	(void)ctx;
	hook_calls++;
}

static bool body_exists(const char *hash)
{
	char path[512];
	body_path(hash, path, sizeof(path));
	return access(path, F_OK) == 0;
}

/* Deferred unlinks (store_set_unlink_hook): the files of expunged bodies stay until
 * store_unlink_pending, which keeps a file whose bytes were stored again meanwhile (the same
 * handle or another process's), and store_close unlinks what is left. */
static void test_deferred_unlink(void)
{
	root_new();
	struct store *store = open_store(), *other = open_store();
	const char *error;
	uint64_t inbox = mailbox_id(store, "INBOX");
	store_set_unlink_hook(store, unlink_hook, NULL);
	hook_calls = 0;
	char h1[65], h2[65], h3[65];
	uint32_t u1, u2, u3, u;
	CHECK(append1(store, inbox, make_msg(0, "d1", "one"), 0, NULL, 0, &u1) == 0);
	CHECK(append1(store, inbox, make_msg(1, "d2", "two"), 0, NULL, 0, &u2) == 0);
	CHECK(append1(store, inbox, make_msg(2, "d3", "three"), 0, NULL, 0, &u3) == 0);
	CHECK(body_id_of(store, inbox, u1, h1) == 1 && body_id_of(store, inbox, u2, h2) == 1 &&
	      body_id_of(store, inbox, u3, h3) == 1);
	uint32_t all[] = { u1, u2, u3 };
	CHECK(store_expunge(store, inbox, all, 3, NULL, NULL, &error) == 0);
	/* committed, the files still there, the owner told once */
	CHECK(mb_get(store, "INBOX")->messages == 0);
	CHECK(hook_calls == 1);
	CHECK(body_exists(h1) && body_exists(h2) && body_exists(h3));
	/* the same bytes again before the unlinks: d2 through this handle, d3 through another
	 * (an lmtp process); both find the file present and only add a row */
	CHECK(append1(store, inbox, make_msg(1, "d2", "two"), 0, NULL, 0, &u) == 0);
	CHECK(append1(other, inbox, make_msg(2, "d3", "three"), 0, NULL, 0, NULL) == 0);
	CHECK(store_unlink_pending(store, 1) == 2); /* a slice at a time */
	CHECK(store_unlink_pending(store, 100) == 0);
	CHECK(!body_exists(h1) && body_exists(h2) && body_exists(h3));
	CHECK(store_unlink_pending(store, 100) == 0 && hook_calls == 1);
	int fd = store_body_open(store, h2, &error);
	CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);
	unsigned problems = 99;
	CHECK(store_check(store, false, NULL, NULL, &problems, &error) == 0 && problems == 0);
	/* close unlinks what is still queued */
	uint32_t again[] = { u, u + 1 };
	CHECK(store_expunge(store, inbox, again, 2, NULL, NULL, &error) == 0 && hook_calls == 2);
	CHECK(body_exists(h2) && body_exists(h3));
	store_close(&store);
	CHECK(!body_exists(h2) && !body_exists(h3));
	CHECK(body_files() == 0);
	store_close(&other);
	root_free();
}

/* Deferred syncs (store.h): a window's commits wait for store_sync_submit, their dropped
 * bodies until its callback; commits outside a window sync themselves; a store closed with a
 * sync in flight syncs and unlinks itself, and the late callback finds the ticket detached. */
static int defer_calls;
static const char *defer_error;
static void defer_done(void *ctx, const char *error)
{
	defer_calls++;
	defer_error = error;
}

static void test_defer(void)
{
	root_new();
	struct store *store = open_store();
	const char *error;
	uint64_t inbox = mailbox_id(store, "INBOX");
	store_set_unlink_hook(store, unlink_hook, NULL);
	hook_calls = 0;
	defer_calls = 0;
	char h1[65], h2[65];
	uint32_t u1, u2;
	CHECK(append1(store, inbox, make_msg(0, "w1", "one"), 0, NULL, 0, &u1) == 0);
	CHECK(append1(store, inbox, make_msg(1, "w2", "two"), 0, NULL, 0, &u2) == 0);
	CHECK(!store_sync_pending(store)); /* outside a window: synced by the commit */
	CHECK(body_id_of(store, inbox, u1, h1) == 1 && body_id_of(store, inbox, u2, h2) == 1);
	int fd = open(test_root, O_RDONLY | O_DIRECTORY);
	struct store_syncer *syncer = NULL;
	CHECK(fd >= 0 && store_syncer_create(fd, &syncer, &error) == 0);
	close(fd);

	store_defer_begin(store);
	CHECK(store_expunge(store, inbox, &u1, 1, NULL, NULL, &error) == 0);
	store_defer_end(store);
	CHECK(store_sync_pending(store));
	CHECK(hook_calls == 0 && body_exists(h1)); /* not before the sync */
	CHECK(store_unlink_pending(store, 100) == 0 && body_exists(h1));
	CHECK(mb_get(store, "INBOX")->messages == 1); /* committed, readable */
	store_sync_submit(store, syncer, defer_done, NULL);
	CHECK(!store_sync_pending(store));
	sync_drain(syncer);
	CHECK(defer_calls == 1 && defer_error == NULL);
	CHECK(hook_calls == 1 && body_exists(h1)); /* now queued for after the reply */
	CHECK(store_unlink_pending(store, 100) == 0 && !body_exists(h1));

	/* a window without a commit has nothing to sync */
	store_defer_begin(store);
	CHECK(mb_get(store, "INBOX")->messages == 1);
	store_defer_end(store);
	CHECK(!store_sync_pending(store));

	/* nor one whose commits are quiet (a \Recent claim): the reply need not wait for them */
	uint32_t first = 0;
	store_defer_begin(store);
	CHECK(store_recent_claim(store, inbox, u2 + 1, &first, &error) == 0 && first == 1);
	store_defer_end(store);
	CHECK(!store_sync_pending(store));
	CHECK(mb_get(store, "INBOX")->first_recent_uid == u2 + 1);

	/* closed while the sync is in flight (or not even reaped): the close syncs and unlinks */
	store_defer_begin(store);
	CHECK(store_expunge(store, inbox, &u2, 1, NULL, NULL, &error) == 0);
	store_defer_end(store);
	store_sync_submit(store, syncer, defer_done, NULL);
	store_close(&store);
	CHECK(!body_exists(h2) && body_files() == 0);
	sync_drain(syncer);
	CHECK(defer_calls == 2 && defer_error == NULL);
	store_syncer_destroy(&syncer);
	/* everything committed is there */
	store = open_store();
	CHECK(mb_get(store, "INBOX")->messages == 0);
	unsigned problems = 99;
	CHECK(store_check(store, false, NULL, NULL, &problems, &error) == 0 && problems == 0);
	store_close(&store);
	root_free();
}

struct chunk_read {
	struct store_msg msgs[2100];
	uint32_t gone[64];
	size_t n, ngone;
};

static int chunk_msg_cb(void *ctx, const struct store_msg *m)
{
	struct chunk_read *c = ctx;
	if (c->n < 2100)
		c->msgs[c->n++] = *m;
	return 0;
}

static int chunk_gone_cb(void *ctx, uint32_t uid)
{
	struct chunk_read *c = ctx;
	if (c->ngone < 64)
		c->gone[c->ngone++] = uid;
	return 0;
}

/* Schema 7: each chunk's counts (store_mailbox_chunks) follow every change, and
 * store_chunk_messages gives a chunk's entries and the UIDs expunged from it after a MODSEQ. */
static void test_chunk_counts(void)
{
	root_new();
	struct store *store = open_store();
	const char *error;
	uint64_t inbox = mailbox_id(store, "INBOX");
	/* 1,100 messages: chunk 0 (UIDs 1-1023) and chunk 1 (1024-1100), one transaction */
	enum { N = 1100 };
	static struct store_append a[N];
	static char texts[N][96];
	static uint32_t uids[N];
	for (int i = 0; i < N; i++) {
		snprintf(texts[i], sizeof(texts[i]), "Subject: c%d\r\n\r\nbody %d\r\n", i, i);
		a[i] = (struct store_append){ .data = (const unsigned char *)texts[i],
					      .size = strlen(texts[i]),
					      .flags = i < 100 ? STORE_FLAG_SEEN : 0 };
	}
	uint32_t uidv;
	CHECK(store_append(store, inbox, a, N, uids, &uidv, &error) == 0);
	uint32_t del[] = { 5, 1030 };
	struct store_flag_change ch = { .mode = STORE_FLAGS_ADD, .flags = STORE_FLAG_DELETED };
	CHECK(store_set_flags(store, inbox, del, 2, &ch, NULL, NULL, NULL, &error) == 0);
	struct store_mailbox mb;
	struct store_chunk_info *c = NULL;
	size_t n = 0;
	CHECK(store_mailbox_chunks(store, inbox, &mb, &c, &n, &error) == 1);
	CHECK(n == 2 && mb.messages == N);
	if (n == 2) {
		CHECK(c[0].chunk == 0 && c[0].messages == 1023 && c[0].unseen == 923 &&
		      c[0].deleted == 1);
		CHECK(c[1].chunk == 1 && c[1].messages == 77 && c[1].unseen == 77 &&
		      c[1].deleted == 1 && c[1].max_modseq == mb.highestmodseq);
	}
	free(c);
	uint64_t since = mb.highestmodseq;
	uint32_t gone[] = { 1030, 1031 };
	CHECK(store_expunge(store, inbox, gone, 2, NULL, NULL, &error) == 0);
	CHECK(store_mailbox_chunks(store, inbox, &mb, &c, &n, &error) == 1);
	CHECK(n == 2 && n == 2 && c[1].messages == 75 && c[1].deleted == 0);
	free(c);
	static struct chunk_read r;
	memset(&r, 0, sizeof(r));
	CHECK(store_chunk_messages(store, inbox, 1, since, chunk_msg_cb, chunk_gone_cb, &r,
				   &error) == 0);
	CHECK(r.n == 75 && r.msgs[0].uid == 1024 && r.msgs[74].uid == 1100);
	CHECK(r.ngone == 2 && r.gone[0] == 1030 && r.gone[1] == 1031);
	memset(&r, 0, sizeof(r));
	CHECK(store_chunk_messages(store, inbox, 1, mb.highestmodseq, chunk_msg_cb, chunk_gone_cb,
				   &r, &error) == 0);
	CHECK(r.n == 75 && r.ngone == 0);
	/* kura check recounts a chunk whose counts are wrong */
	unsigned problems = 99;
	CHECK(store_check(store, false, NULL, NULL, &problems, &error) == 0 && problems == 0);
	store_close(&store);
	char path[512];
	snprintf(path, sizeof(path), "%s/alice/store.db", test_root);
	sqlite3 *db;
	CHECK(sqlite3_open(path, &db) == SQLITE_OK);
	CHECK(sqlite3_exec(db, "UPDATE msgcount SET unseen = 7 WHERE chunk = 0", NULL, NULL,
			   NULL) == SQLITE_OK);
	sqlite3_close(db);
	store = open_store();
	CHECK(store_check(store, false, NULL, NULL, &problems, &error) == 0 && problems > 0);
	CHECK(store_check(store, true, NULL, NULL, &problems, &error) == 0);
	CHECK(store_check(store, false, NULL, NULL, &problems, &error) == 0 && problems == 0);
	CHECK(store_mailbox_chunks(store, inbox, &mb, &c, &n, &error) == 1);
	CHECK(n == 2 && c[0].unseen == 923);
	free(c);
	store_close(&store);
	root_free();
}

int main(void)
{
	log_set_level(LOG_ERROR);
	TEST_RUN(test_append);
	TEST_RUN(test_message_info_rev1);
	TEST_RUN(test_messages_listing);
	TEST_RUN(test_set_flags);
	TEST_RUN(test_expunge);
	TEST_RUN(test_copy_move);
	TEST_RUN(test_listeners);
	TEST_RUN(test_changes_since);
	TEST_RUN(test_expunge_history);
	TEST_RUN(test_refresh_and_watch);
	TEST_RUN(test_state_random);
	TEST_RUN(test_stage);
	TEST_RUN(test_syncer);
	TEST_RUN(test_deferred_unlink);
	TEST_RUN(test_defer);
	TEST_RUN(test_chunk_counts);
	return test_finish();
}
