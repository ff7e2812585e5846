/* test-store-search.c: the search index and store_search (store-search.h): every key, text
 * keys through the index (3+ characters), the vocabulary (1-2) and the scan fallback, HEADER
 * verification, dates around midnight in other zones, bodies shared by COPY, the index
 * following expunges (the rows of dropped bodies deleted later: schema 8), slices of no time
 * at all, a rebuild, and stores migrated from schema 4 (getting their index) and 7. */
#include "test-store-util.h"

#include <sqlite3.h>

#include "lib/xmalloc.h"
#include "store/store-search.h"

static struct pool *tp;

static struct store_search_node *N(enum store_search_key key)
{
	struct store_search_node *n = pool_alloc(tp, sizeof(*n));
	n->key = key;
	return n;
}

static struct store_search_node *TXT(enum store_search_key key, const char *s)
{
	struct store_search_node *n = N(key);
	n->str = s;
	n->len = strlen(s);
	return n;
}

static struct store_search_node *HDR(const char *field, const char *s)
{
	struct store_search_node *n = TXT(STORE_SEARCH_HEADER, s);
	n->field = field;
	return n;
}

static struct store_search_node *NUM(enum store_search_key key, uint64_t v)
{
	struct store_search_node *n = N(key);
	n->number = v;
	return n;
}

static struct store_search_node *FLAG(uint8_t f)
{
	struct store_search_node *n = N(STORE_SEARCH_FLAG);
	n->flag = f;
	return n;
}

static struct store_search_node *KW(const char *kw)
{
	return TXT(STORE_SEARCH_KEYWORD, kw);
}

static struct store_search_node *NOT(struct store_search_node *a)
{
	struct store_search_node *n = N(STORE_SEARCH_NOT);
	n->child = a;
	return n;
}

static struct store_search_node *OP2(enum store_search_key key, struct store_search_node *a,
				     struct store_search_node *b)
{
	struct store_search_node *n = N(key);
	n->child = a;
	a->next = b;
	return n;
}

static struct store_search_node *UIDS(uint32_t lo, uint32_t hi)
{
	struct store_search_node *n = N(STORE_SEARCH_UIDS);
	struct store_uid_range *r = pool_alloc(tp, sizeof(*r));
	r->lo = lo;
	r->hi = hi;
	n->ranges = r;
	n->range_count = 1;
	return n;
}

struct collect {
	char text[4096];
	size_t len;
};

static int collect_cb(void *ctx, uint32_t uid)
{
	struct collect *c = ctx;
	c->len += (size_t)snprintf(c->text + c->len, sizeof(c->text) - c->len, "%s%u",
				   c->len > 0 ? "," : "", uid);
	return 0;
}

/* The UIDs found, as "1,3,5"; also checks that slices of no time give the same. */
static const char *run(struct store *store, uint64_t mbid, const struct store_search_node *n)
{
	static struct collect whole;
	struct collect sliced;
	const char *error;
	memset(&whole, 0, sizeof(whole));
	memset(&sliced, 0, sizeof(sliced));
	if (store_search(store, mbid, n, collect_cb, &whole, &error) < 0) {
		printf("  store_search: %s\n", error);
		return "ERROR";
	}
	struct store_search *s;
	CHECK(store_search_begin(store, mbid, n, &s, &error) == 0);
	int r, rounds = 0;
	while ((r = store_search_run(s, 0, collect_cb, &sliced, &error)) == 0)
		rounds++;
	store_search_end(&s);
	CHECK(r == 1);
	CHECK_STR(sliced.text, whole.text);
	return whole.text;
}

static uint32_t add(struct store *store, uint64_t mbid, const char *text, uint8_t flags,
		    time_t date, int tz)
{
	struct store_append a = {
		.data = (const unsigned char *)text, .size = strlen(text), .flags = flags,
		.internal_date = date, .internal_tz = tz,
	};
	uint32_t uid = 0, uidv = 0;
	const char *error;
	if (store_append(store, mbid, &a, 1, &uid, &uidv, &error) < 0)
		printf("  store_append: %s\n", error);
	return uid;
}

/* 2024-03-10 00:00:00 UTC */
#define T0 1710028800

static const char *const msgs[] = {
	/* 1 */
	"From: =?UTF-8?B?5bGx55Sw5aSq6YOO?= <yamada@example.jp>\r\n"
	"To: team@example.jp\r\n"
	"Subject: =?ISO-2022-JP?B?GyRCMnE1RDVEO3ZPPxsoQg==?=\r\n"
	"Date: Sun, 10 Mar 2024 08:30:00 +0900\r\n"
	"X-Foo: bar baz\r\n"
	"\r\n"
	"ＩＭＡＰの会議は明日です。\r\n",
	/* 2 */
	"From: Bob <bob@example.com>\r\n"
	"To: alice@example.com\r\n"
	"Cc: carol@example.com\r\n"
	"Subject: Lunch?\r\n"
	"Date: Sat, 9 Mar 2024 23:59:59 -0000\r\n"
	"X-Other: bar\r\n"
	"Content-Type: text/html; charset=iso-8859-1\r\n"
	"\r\n"
	"<p>Caf\xe9 at noon</p><p>&#xFF90;&#xFF70;&#xFF83;&#xFF68;&#xFF9D;&#xFF78;&#xFF9E;</p>\r\n",
	/* 3: no Date: (SENT* use the internal date) */
	"From: carol@example.com\r\n"
	"Bcc: secret@example.com\r\n"
	"Subject: report\r\n"
	"Content-Type: multipart/mixed; boundary=b\r\n"
	"\r\n"
	"--b\r\n"
	"Content-Type: text/plain; charset=shift_jis\r\n"
	"\r\n"
	"\x8b\x63\x8e\x96\x98\x5e x\r\n"
	"--b\r\n"
	"Content-Type: application/pdf; name=\"q1-numbers.pdf\"\r\n"
	"Content-Transfer-Encoding: base64\r\n"
	"\r\n"
	"JVBERi0=\r\n"
	"--b--\r\n",
};

static void test_search_keys(void)
{
	root_new();
	struct store *store = open_store();
	uint64_t inbox = mailbox_id(store, "INBOX");
	/* 1: 2024-03-10 23:30 -0500 (2024-03-11 04:30 UTC) */
	CHECK(add(store, inbox, msgs[0], STORE_FLAG_SEEN, T0 + 86400 + 4 * 3600 + 1800, -300) == 1);
	/* 2: 2024-03-10 00:10 +0900 (2024-03-09 15:10 UTC) */
	CHECK(add(store, inbox, msgs[1], STORE_FLAG_FLAGGED | STORE_FLAG_ANSWERED,
		  T0 - 9 * 3600 + 600, 540) == 2);
	/* 3: 2024-03-12 12:00 UTC */
	CHECK(add(store, inbox, msgs[2], STORE_FLAG_DELETED | STORE_FLAG_DRAFT,
		  T0 + 2 * 86400 + 12 * 3600, 0) == 3);
	const char *kw[] = {"$Work"};
	struct store_flag_change ch = {.mode = STORE_FLAGS_ADD, .keywords = kw, .keyword_count = 1};
	uint32_t one = 3;
	const char *error;
	CHECK(store_set_flags(store, inbox, &one, 1, &ch, NULL, NULL, NULL, &error) == 0);

	int64_t d0 = store_search_day(2024, 3, 10);
	CHECK(d0 == T0 / 86400);
	CHECK(store_search_day(1970, 1, 1) == 0);
	CHECK(store_search_day(1969, 12, 31) == -1);
	CHECK(store_search_day(2000, 3, 1) - store_search_day(2000, 2, 28) == 2);

	CHECK_STR(run(store, inbox, N(STORE_SEARCH_ALL)), "1,2,3");
	CHECK_STR(run(store, inbox, N(STORE_SEARCH_AND)), "1,2,3");
	CHECK_STR(run(store, inbox, FLAG(STORE_FLAG_SEEN)), "1");
	CHECK_STR(run(store, inbox, NOT(FLAG(STORE_FLAG_SEEN))), "2,3");
	CHECK_STR(run(store, inbox, FLAG(STORE_FLAG_ANSWERED)), "2");
	CHECK_STR(run(store, inbox, FLAG(STORE_FLAG_DELETED)), "3");
	CHECK_STR(run(store, inbox, FLAG(STORE_FLAG_DRAFT)), "3");
	CHECK_STR(run(store, inbox, FLAG(STORE_FLAG_FLAGGED)), "2");
	CHECK_STR(run(store, inbox, KW("$work")), "3");
	CHECK_STR(run(store, inbox, KW("$Unknown")), "");
	CHECK_STR(run(store, inbox, NOT(KW("$Unknown"))), "1,2,3");
	CHECK_STR(run(store, inbox, UIDS(2, 9)), "2,3");
	CHECK_STR(run(store, inbox, OP2(STORE_SEARCH_OR, UIDS(1, 1), FLAG(STORE_FLAG_DELETED))),
		  "1,3");
	CHECK_STR(run(store, inbox, NUM(STORE_SEARCH_LARGER, strlen(msgs[1]))), "3");
	CHECK_STR(run(store, inbox, NUM(STORE_SEARCH_SMALLER, strlen(msgs[1]))), "1");
	CHECK_STR(run(store, inbox, NUM(STORE_SEARCH_MODSEQ, 4)), "3");
	/* internal dates, each in its own zone */
	CHECK_STR(run(store, inbox, NUM(STORE_SEARCH_ON, (uint64_t)d0)), "1,2");
	CHECK_STR(run(store, inbox, NUM(STORE_SEARCH_BEFORE, (uint64_t)d0)), "");
	CHECK_STR(run(store, inbox, NUM(STORE_SEARCH_BEFORE, (uint64_t)d0 + 1)), "1,2");
	CHECK_STR(run(store, inbox, NUM(STORE_SEARCH_SINCE, (uint64_t)d0 + 1)), "3");
	CHECK_STR(run(store, inbox, NUM(STORE_SEARCH_ON, (uint64_t)d0 + 2)), "3");
	/* sent dates: 1 is 03-10 in +0900, 2 is 03-09 in -0000, 3 has none: 03-12 */
	CHECK_STR(run(store, inbox, NUM(STORE_SEARCH_SENTON, (uint64_t)d0)), "1");
	CHECK_STR(run(store, inbox, NUM(STORE_SEARCH_SENTBEFORE, (uint64_t)d0)), "2");
	CHECK_STR(run(store, inbox, NUM(STORE_SEARCH_SENTSINCE, (uint64_t)d0)), "1,3");
	CHECK_STR(run(store, inbox, NUM(STORE_SEARCH_SENTON, (uint64_t)d0 + 2)), "3");
	/* WITHIN: every message is years old by now */
	CHECK_STR(run(store, inbox, NUM(STORE_SEARCH_OLDER, 3600)), "1,2,3");
	CHECK_STR(run(store, inbox, NUM(STORE_SEARCH_YOUNGER, 3600)), "");

	/* text through the index: 3+ characters */
	CHECK_STR(run(store, inbox, TXT(STORE_SEARCH_SUBJECT, "議事録")), "1");
	CHECK_STR(run(store, inbox, TXT(STORE_SEARCH_SUBJECT, "会議議事録")), "1");
	CHECK_STR(run(store, inbox, TXT(STORE_SEARCH_FROM, "山田太郎")), "1");
	CHECK_STR(run(store, inbox, TXT(STORE_SEARCH_FROM, "EXAMPLE.COM")), "2,3");
	CHECK_STR(run(store, inbox, TXT(STORE_SEARCH_TO, "alice@")), "2");
	CHECK_STR(run(store, inbox, TXT(STORE_SEARCH_CC, "carol")), "2");
	CHECK_STR(run(store, inbox, TXT(STORE_SEARCH_BCC, "secret")), "3");
	CHECK_STR(run(store, inbox, TXT(STORE_SEARCH_BODY, "imap")), "1");
	CHECK_STR(run(store, inbox, TXT(STORE_SEARCH_BODY, "ＩＭＡＰの")), "1");
	CHECK_STR(run(store, inbox, TXT(STORE_SEARCH_BODY, "ミーティング")), "2");
	CHECK_STR(run(store, inbox, TXT(STORE_SEARCH_BODY, "café at")), "2");
	CHECK_STR(run(store, inbox, TXT(STORE_SEARCH_BODY, "<p>")), "");
	CHECK_STR(run(store, inbox, TXT(STORE_SEARCH_BODY, "q1-numbers")), "3");
	CHECK_STR(run(store, inbox, TXT(STORE_SEARCH_BODY, "議事録 x")), "3");
	CHECK_STR(run(store, inbox, TXT(STORE_SEARCH_BODY, "lunch")), "");
	CHECK_STR(run(store, inbox, TXT(STORE_SEARCH_TEXT, "lunch")), "2");
	CHECK_STR(run(store, inbox, TXT(STORE_SEARCH_TEXT, "議事録")), "1,3");
	/* ... 1 and 2 characters: the vocabulary */
	CHECK_STR(run(store, inbox, TXT(STORE_SEARCH_SUBJECT, "会議")), "1");
	CHECK_STR(run(store, inbox, TXT(STORE_SEARCH_BODY, "会議")), "1");
	CHECK_STR(run(store, inbox, TXT(STORE_SEARCH_BODY, "会")), "1");
	CHECK_STR(run(store, inbox, TXT(STORE_SEARCH_BODY, "録")), "3");
	CHECK_STR(run(store, inbox, TXT(STORE_SEARCH_BODY, "x")), "3");
	CHECK_STR(run(store, inbox, TXT(STORE_SEARCH_SUBJECT, "?")), "2");
	CHECK_STR(run(store, inbox, TXT(STORE_SEARCH_SUBJECT, "t")), "3");
	CHECK_STR(run(store, inbox, TXT(STORE_SEARCH_TEXT, "ﾐｰ")), "2");
	CHECK_STR(run(store, inbox, TXT(STORE_SEARCH_BODY, "\"")), "");
	/* empty strings */
	CHECK_STR(run(store, inbox, TXT(STORE_SEARCH_BODY, "")), "1,2,3");
	CHECK_STR(run(store, inbox, TXT(STORE_SEARCH_TEXT, "")), "1,2,3");
	CHECK_STR(run(store, inbox, TXT(STORE_SEARCH_CC, "")), "2");
	CHECK_STR(run(store, inbox, TXT(STORE_SEARCH_SUBJECT, "")), "1,2,3");
	/* HEADER: the named field only */
	CHECK_STR(run(store, inbox, HDR("X-Foo", "")), "1");
	CHECK_STR(run(store, inbox, HDR("x-foo", "bar")), "1");
	CHECK_STR(run(store, inbox, HDR("X-FOO", "ba")), "1");
	CHECK_STR(run(store, inbox, HDR("X-Foo", "b")), "1");
	CHECK_STR(run(store, inbox, HDR("X-Other", "baz")), "");
	CHECK_STR(run(store, inbox, HDR("X-Other", "")), "2");
	CHECK_STR(run(store, inbox, HDR("X-Fo", "")), "");
	CHECK_STR(run(store, inbox, HDR("Subject", "report")), "3");
	CHECK_STR(run(store, inbox, HDR("content-type", "html")), "2");
	CHECK_STR(run(store, inbox, HDR("Date", "+0900")), "1");
	CHECK_STR(run(store, inbox, HDR("", "")), "");
	/* combinations */
	CHECK_STR(run(store, inbox, OP2(STORE_SEARCH_AND, TXT(STORE_SEARCH_TEXT, "example"),
					NOT(FLAG(STORE_FLAG_DELETED)))),
		  "1,2");
	CHECK_STR(run(store, inbox, OP2(STORE_SEARCH_OR, TXT(STORE_SEARCH_BODY, "会"),
					TXT(STORE_SEARCH_SUBJECT, "lunch"))),
		  "1,2");
	CHECK_STR(run(store, inbox, NOT(OP2(STORE_SEARCH_OR, TXT(STORE_SEARCH_BODY, "会"),
					    TXT(STORE_SEARCH_SUBJECT, "lunch")))),
		  "3");
	CHECK_STR(run(store, inbox, OP2(STORE_SEARCH_AND, UIDS(2, 3),
					TXT(STORE_SEARCH_FROM, "example"))),
		  "2,3");
	/* a malformed program */
	struct store_search *s;
	CHECK(store_search_begin(store, inbox, N(STORE_SEARCH_NOT), &s, &error) == -1);
	CHECK(store_last_error(store) == STORE_ERR_INVALID);
	CHECK(store_search_begin(store, 9999, N(STORE_SEARCH_ALL), &s, &error) == -1);
	CHECK(store_last_error(store) == STORE_ERR_NOT_FOUND);
	store_close(&store);
	root_free();
}

static int64_t sql_int(struct store *store, const char *sql)
{
	(void)store;
	char path[512];
	snprintf(path, sizeof(path), "%s/alice/store.db", test_root);
	sqlite3 *db;
	int64_t v = -1;
	if (sqlite3_open(path, &db) != SQLITE_OK)
		return -2;
	sqlite3_stmt *stmt;
	if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) == SQLITE_OK) {
		if (sqlite3_step(stmt) == SQLITE_ROW)
			v = sqlite3_column_int64(stmt, 0);
		sqlite3_finalize(stmt);
	} else {
		v = -3;
	}
	sqlite3_close(db);
	return v;
}

static void test_shared_bodies(void)
{
	root_new();
	struct store *store = open_store();
	uint64_t inbox = mailbox_id(store, "INBOX"), archive = mailbox_id(store, "Archive");
	add(store, inbox, make_msg(0, "alpha", "shared words here"), 0, 0, 0);
	add(store, inbox, make_msg(1, "beta", "other words"), 0, 0, 0);
	uint32_t uids[1] = {1}, src[1], dst[1];
	size_t copied;
	const char *error;
	CHECK(store_copy(store, inbox, uids, 1, archive, false, src, dst, &copied, NULL, &error) == 0);
	/* appends leave the bodies unindexed; the first search indexes them */
	CHECK(sql_int(store, "SELECT COUNT(*) FROM search_text") == 0);
	CHECK_STR(run(store, archive, TXT(STORE_SEARCH_BODY, "shared")), "1");
	CHECK_STR(run(store, inbox, TXT(STORE_SEARCH_BODY, "words")), "1,2");
	CHECK_STR(run(store, archive, TXT(STORE_SEARCH_BODY, "words")), "1");
	/* the original goes: the copy is still found */
	CHECK(store_expunge(store, inbox, uids, 1, NULL, NULL, &error) == 0);
	CHECK_STR(run(store, inbox, TXT(STORE_SEARCH_BODY, "shared")), "");
	CHECK_STR(run(store, archive, TXT(STORE_SEARCH_BODY, "shared")), "1");
	CHECK(sql_int(store, "SELECT COUNT(*) FROM search_text") == 2);
	/* the last reference goes: so does the index row, later (store_index_gc) */
	CHECK(store_expunge(store, archive, uids, 1, NULL, NULL, &error) == 0);
	CHECK(sql_int(store, "SELECT COUNT(*) FROM search_text") == 2);
	CHECK(sql_int(store, "SELECT COUNT(*) FROM search_gc") == 1);
	CHECK(store_index_pending(store, 8, &error) == 1);
	CHECK(sql_int(store, "SELECT COUNT(*) FROM search_gc") == 0);
	CHECK(sql_int(store, "SELECT COUNT(*) FROM search_text") == 1);
	CHECK(sql_int(store, "SELECT COUNT(*) FROM search_text WHERE search_text MATCH '\"shared\"'")
	      == 0);
	/* the same bytes appended again are indexed again */
	add(store, inbox, make_msg(0, "alpha", "shared words here"), 0, 0, 0);
	CHECK_STR(run(store, inbox, TXT(STORE_SEARCH_BODY, "shared")), "3");
	/* a rebuild gives the same answers */
	unsigned count = 0;
	CHECK(store_search_reindex(store, NULL, NULL, &count, &error) == 0);
	CHECK(count == 2);
	CHECK_STR(run(store, inbox, TXT(STORE_SEARCH_BODY, "words")), "2,3");
	CHECK_STR(run(store, inbox, TXT(STORE_SEARCH_BODY, "sh")), "3");
	CHECK(sql_int(store, "SELECT COUNT(*) FROM body WHERE search_state != 1") == 0);
	store_close(&store);
	root_free();
}

static void test_scan_fallback(void)
{
	/* one message with more than 2000 distinct trigrams starting with "q": a search for "q"
	 * is checked message by message instead of through the vocabulary */
	root_new();
	struct store *store = open_store();
	uint64_t inbox = mailbox_id(store, "INBOX");
	static char body[64 * 1024];
	size_t len = (size_t)snprintf(body, sizeof(body), "Subject: many\r\n\r\n");
	const char *alpha = "abcdefghijklmnoprstuvwxyz0123456789ABCDEFGHIJKLMNOP";
	for (size_t i = 0; alpha[i] != '\0'; i++)
		for (size_t j = 0; alpha[j] != '\0'; j++)
			len += (size_t)snprintf(body + len, sizeof(body) - len, "q%c%c ", alpha[i],
						alpha[j]);
	add(store, inbox, body, 0, 0, 0);
	add(store, inbox, make_msg(1, "none", "nothing here"), 0, 0, 0);
	add(store, inbox, make_msg(2, "quiet", "Q at the end: q"), 0, 0, 0);
	CHECK_STR(run(store, inbox, TXT(STORE_SEARCH_BODY, "q")), "1,3");
	CHECK_STR(run(store, inbox, TXT(STORE_SEARCH_TEXT, "Q")), "1,3");
	CHECK_STR(run(store, inbox, NOT(TXT(STORE_SEARCH_BODY, "q"))), "2");
	CHECK_STR(run(store, inbox, HDR("Subject", "q")), "3");
	CHECK_STR(run(store, inbox, TXT(STORE_SEARCH_BODY, "qa")), "1");
	CHECK_STR(run(store, inbox, TXT(STORE_SEARCH_BODY, ": q")), "3");
	store_close(&store);
	root_free();
}

static void test_migrate_v4(void)
{
	/* a store as schema 4 left it: no index, no sent dates */
	root_new();
	struct store *store = open_store();
	uint64_t inbox = mailbox_id(store, "INBOX");
	add(store, inbox, msgs[0], 0, 0, 0);
	add(store, inbox, msgs[2], 0, 0, 0);
	store_close(&store);
	char path[512];
	snprintf(path, sizeof(path), "%s/alice/store.db", test_root);
	sqlite3 *db;
	CHECK(sqlite3_open(path, &db) == SQLITE_OK);
	CHECK(sqlite3_exec(db, "DROP TRIGGER body_search_gc; DROP TRIGGER body_search_reuse;"
			       "DROP TABLE search_gc; DROP TABLE search_vocab;"
			       "DROP TABLE search_text; DROP INDEX body_unindexed;"
			       "ALTER TABLE body DROP COLUMN sent_date;"
			       "ALTER TABLE body DROP COLUMN sent_tz;"
			       "ALTER TABLE body DROP COLUMN search_state;"
			       "ALTER TABLE body DROP COLUMN sort_subject;"
			       "ALTER TABLE body DROP COLUMN sort_from;"
			       "ALTER TABLE body DROP COLUMN sort_to;"
			       "ALTER TABLE body DROP COLUMN sort_cc;"
			       "ALTER TABLE body DROP COLUMN sort_display_from;"
			       "ALTER TABLE body DROP COLUMN sort_display_to;"
			       "ALTER TABLE body DROP COLUMN thread_message_id;"
			       "ALTER TABLE body DROP COLUMN thread_references;"
			       "ALTER TABLE body DROP COLUMN thread_subject_reply;"
			       /* and flags back in the rows (version 6 moved them out) */
			       "DROP TABLE msgstate;"
			       "ALTER TABLE message ADD COLUMN flags INTEGER NOT NULL DEFAULT 0;"
			       "ALTER TABLE message ADD COLUMN keywords INTEGER NOT NULL DEFAULT 0;"
			       "ALTER TABLE message ADD COLUMN modseq INTEGER NOT NULL DEFAULT 1;"
			       "CREATE INDEX message_modseq ON message(mailbox_id, modseq);"
			       "UPDATE message SET flags = 1 WHERE uid = 2;"
			       "UPDATE mailbox SET unseen = unseen - 1 WHERE name = 'INBOX';"
			       "UPDATE schema_version SET version = 4;",
			   NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(db);
	store = open_store();
	CHECK(store != NULL);
	if (store == NULL) {
		root_free();
		return;
	}
	CHECK(sql_int(store, "SELECT version FROM schema_version") == 8);
	/* version 7 counted the chunks version 6 wrote: one message is \Seen */
	CHECK(sql_int(store, "SELECT SUM(messages) - SUM(unseen) FROM msgcount") == 1);
	/* the open does not index them (store.c); the first search does */
	CHECK(sql_int(store, "SELECT COUNT(*) FROM body WHERE search_state = 0") == 2);
	CHECK_STR(run(store, inbox, TXT(STORE_SEARCH_BODY, "会議")), "1");
	CHECK(sql_int(store, "SELECT COUNT(*) FROM body WHERE search_state = 1") == 2);
	CHECK(sql_int(store, "SELECT COUNT(*) FROM body WHERE sent_date IS NOT NULL") == 1);
	CHECK_STR(run(store, inbox, TXT(STORE_SEARCH_SUBJECT, "report")), "2");
	CHECK_STR(run(store, inbox, NUM(STORE_SEARCH_SENTON, (uint64_t)store_search_day(2024, 3, 10))),
		  "1");
	/* the flags came through version 6 (the packed state) */
	CHECK_STR(run(store, inbox, FLAG(STORE_FLAG_SEEN)), "2");
	/* new messages are indexed as they come */
	add(store, inbox, msgs[1], 0, 0, 0);
	CHECK_STR(run(store, inbox, TXT(STORE_SEARCH_BODY, "café")), "3");
	unsigned problems = 9;
	const char *error;
	CHECK(store_check(store, false, NULL, NULL, &problems, &error) == 0 && problems == 0);
	store_close(&store);
	root_free();
}

static void sql_exec(const char *sql)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/alice/store.db", test_root);
	sqlite3 *db;
	CHECK(sqlite3_open(path, &db) == SQLITE_OK);
	CHECK(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(db);
}

/* Flags come from the packed state (schema 6), read when matching starts and refreshed at
 * every later slice: a change committed between two slices is seen by the slices after it, as
 * when the rows held the flags. */
static int count_cb(void *ctx, uint32_t uid)
{
	uint32_t *v = ctx;
	v[0]++;
	v[1] = uid;
	return 0;
}

static void test_slices_state(void)
{
	root_new();
	struct store *store = open_store();
	uint64_t inbox = mailbox_id(store, "INBOX");
	const char *error;
	enum { N = 3000 };
	struct store_append *a = xcalloc(N, sizeof(*a));
	for (int i = 0; i < N; i++)
		a[i] = (struct store_append){ .data = (const unsigned char *)msgs[0],
					      .size = strlen(msgs[0]) };
	CHECK(store_append(store, inbox, a, N, NULL, NULL, &error) == 0);
	CHECK_STR(run(store, inbox, FLAG(STORE_FLAG_FLAGGED)), "");
	struct store_search *s;
	uint32_t found[2] = { 0, 0 };
	CHECK(store_search_begin(store, inbox, FLAG(STORE_FLAG_FLAGGED), &s, &error) == 0);
	/* no time: the first slice plans and reads the state, then one page of rows */
	CHECK(store_search_run(s, 0, count_cb, found, &error) == 0);
	struct store_flag_change ch = { .mode = STORE_FLAGS_ADD, .flags = STORE_FLAG_FLAGGED };
	CHECK(store_set_flags(store, inbox, (uint32_t[]){ 1, 2999 }, 2, &ch, NULL, NULL, NULL,
			      &error) == 0);
	int r;
	while ((r = store_search_run(s, 0, count_cb, found, &error)) == 0)
		;
	CHECK(r == 1);
	store_search_end(&s);
	/* UID 1 was behind the first slice already, 2999 was not */
	CHECK(found[0] == 1 && found[1] == 2999);
	CHECK_STR(run(store, inbox, FLAG(STORE_FLAG_FLAGGED)), "1,2999");
	CHECK_STR(run(store, inbox, NUM(STORE_SEARCH_MODSEQ, 3)), "1,2999");
	free(a);
	store_close(&store);
	root_free();
}

static void test_check_index(void)
{
	/* kura check finds a body missing from the index and a row without a body; --repair
	 * indexes the one and drops the other */
	root_new();
	struct store *store = open_store();
	uint64_t inbox = mailbox_id(store, "INBOX");
	add(store, inbox, make_msg(0, "one", "first words"), 0, 0, 0);
	add(store, inbox, make_msg(1, "two", "second words"), 0, 0, 0);
	const char *error;
	unsigned problems = 9;
	/* waiting to be indexed is not a problem */
	CHECK(store_check(store, false, NULL, NULL, &problems, &error) == 0 && problems == 0);
	CHECK(store_index_pending(store, 10, &error) == 2);
	CHECK(store_check(store, false, NULL, NULL, &problems, &error) == 0 && problems == 0);
	sql_exec("DELETE FROM search_text WHERE rowid = (SELECT MIN(id) FROM body);"
		 "INSERT INTO search_text (rowid, body) VALUES (999, 'ghost words');");
	CHECK_STR(run(store, inbox, TXT(STORE_SEARCH_BODY, "first")), "");
	CHECK(store_check(store, false, NULL, NULL, &problems, &error) == 0 && problems == 2);
	CHECK(store_check(store, true, NULL, NULL, &problems, &error) == 0 && problems == 2);
	CHECK(store_check(store, false, NULL, NULL, &problems, &error) == 0 && problems == 0);
	CHECK_STR(run(store, inbox, TXT(STORE_SEARCH_BODY, "first")), "1");
	CHECK_STR(run(store, inbox, TXT(STORE_SEARCH_BODY, "words")), "1,2");
	/* an indexed body listed in search_gc (its row would be deleted under it): repair
	 * indexes it again */
	sql_exec("INSERT INTO search_gc (id) SELECT MAX(id) FROM body;");
	CHECK(store_check(store, false, NULL, NULL, &problems, &error) == 0 && problems == 1);
	CHECK(store_check(store, true, NULL, NULL, &problems, &error) == 0 && problems == 1);
	CHECK(store_check(store, false, NULL, NULL, &problems, &error) == 0 && problems == 0);
	CHECK(sql_int(store, "SELECT COUNT(*) FROM search_gc") == 0);
	CHECK_STR(run(store, inbox, TXT(STORE_SEARCH_BODY, "second")), "2");
	store_close(&store);
	root_free();
}

/* Schema 8: an expunge that drops bodies leaves their index rows to store_index_gc; they
 * never match meanwhile, a new body never takes their ids, and they go at idle time
 * (store_index_pending) and a few per search. */
static void test_expunge_gc(void)
{
	root_new();
	struct store *store = open_store();
	uint64_t inbox = mailbox_id(store, "INBOX");
	const char *error;
	add(store, inbox, make_msg(0, "keeper", "persistent words"), 0, 0, 0); /* UID 1 */
	enum { N = 300 };
	static char texts[N][160];
	struct store_append *a = xcalloc(N, sizeof(*a));
	for (int i = 0; i < N; i++) {
		int len = snprintf(texts[i], sizeof(texts[i]),
				   "Subject: gone %d\r\n\r\nephemeral words %d\r\n", i, i);
		a[i] = (struct store_append){.data = (const unsigned char *)texts[i],
					     .size = (size_t)len};
	}
	CHECK(store_append(store, inbox, a, N, NULL, NULL, &error) == 0); /* UIDs 2..301 */
	free(a);
	CHECK(store_index_pending(store, 1000, &error) == N + 1);
	CHECK_STR(run(store, inbox, TXT(STORE_SEARCH_BODY, "ephemeral words 42")), "44");
	/* expunge them all: the body rows go, their index rows wait in search_gc */
	uint32_t *uids = xcalloc(N, sizeof(*uids));
	for (int i = 0; i < N; i++)
		uids[i] = (uint32_t)i + 2;
	CHECK(store_expunge(store, inbox, uids, N, NULL, NULL, &error) == 0);
	free(uids);
	CHECK(sql_int(store, "SELECT COUNT(*) FROM body") == 1);
	CHECK(sql_int(store, "SELECT COUNT(*) FROM search_gc") == N);
	CHECK(sql_int(store, "SELECT COUNT(*) FROM search_text") == N + 1);
	/* not a problem for kura check */
	unsigned problems = 9;
	CHECK(store_check(store, false, NULL, NULL, &problems, &error) == 0 && problems == 0);
	/* the orphan rows match nothing: each search deletes up to 32 of them first (run()
	 * makes several), the rest are still there while it answers */
	CHECK_STR(run(store, inbox, TXT(STORE_SEARCH_BODY, "ephemeral")), "");
	int64_t left = sql_int(store, "SELECT COUNT(*) FROM search_gc");
	CHECK(left > 0 && left < N);
	CHECK(sql_int(store, "SELECT COUNT(*) FROM search_text WHERE search_text MATCH"
			     " '\"ephemeral\"'") == left);
	/* a 1-2 character string: its trigrams are listed from the vocabulary, which still
	 * has those of the orphan rows */
	CHECK_STR(run(store, inbox, TXT(STORE_SEARCH_BODY, "ph")), "");
	/* the newest body went: SQLite would give a new body its id again; it gets one above
	 * every id waiting in search_gc, and its own index row */
	int64_t gc_max = sql_int(store, "SELECT MAX(id) FROM search_gc");
	CHECK(gc_max == N + 1 && sql_int(store, "SELECT MAX(id) FROM body") == 1);
	add(store, inbox, make_msg(1, "newcomer", "fresh words"), 0, 0, 0); /* UID 302 */
	CHECK(sql_int(store, "SELECT MAX(id) FROM body") == gc_max + 1);
	CHECK_STR(run(store, inbox, TXT(STORE_SEARCH_BODY, "words")), "1,302");
	/* should anything else insert a body under such an id, the orphan row goes with the
	 * insert (trigger body_search_reuse) */
	gc_max = sql_int(store, "SELECT MAX(id) FROM search_gc");
	char sql[512], q_text[128], q_gc[128];
	snprintf(sql, sizeof(sql),
		 "INSERT INTO body (id, hash, size, refs, envelope, bodystructure, body)"
		 " VALUES (%lld, 'reused', 0, 1, x'', x'', x'');", (long long)gc_max);
	snprintf(q_text, sizeof(q_text), "SELECT COUNT(*) FROM search_text WHERE rowid = %lld",
		 (long long)gc_max);
	snprintf(q_gc, sizeof(q_gc), "SELECT COUNT(*) FROM search_gc WHERE id = %lld",
		 (long long)gc_max);
	CHECK(sql_int(store, q_text) == 1 && sql_int(store, q_gc) == 1);
	sql_exec(sql);
	CHECK(sql_int(store, q_text) == 0 && sql_int(store, q_gc) == 0);
	/* never indexed (search_state 0): its deletion leaves nothing to delete */
	sql_exec("DELETE FROM body WHERE hash = 'reused'");
	CHECK(sql_int(store, q_gc) == 0);
	/* idle time deletes the rest: 8 bodies' worth of rows (32) per call */
	left = sql_int(store, "SELECT COUNT(*) FROM search_gc");
	CHECK(left > 32);
	int r, calls = 0;
	while ((r = store_index_pending(store, 8, &error)) == 8)
		calls++;
	CHECK(r >= 0 && r < 8 && calls >= left / 32 && calls <= left / 32 + 1);
	CHECK(sql_int(store, "SELECT COUNT(*) FROM search_gc") == 0);
	CHECK(sql_int(store, "SELECT COUNT(*) FROM search_text") == 2);
	CHECK(sql_int(store, "SELECT COUNT(*) FROM search_text WHERE search_text MATCH"
			     " '\"ephemeral\"'") == 0);
	CHECK(store_index_pending(store, 8, &error) == 0);
	/* with search_gc empty ids are reused (SQLite: the highest plus one, here 2, the id of
	 * UID 2's body): the new body gets its own row, no old one */
	CHECK(store_expunge(store, inbox, (uint32_t[]){ 302 }, 1, NULL, NULL, &error) == 0);
	CHECK(sql_int(store, "SELECT MAX(id) FROM search_gc") == N + 2);
	CHECK(store_index_pending(store, 8, &error) == 1);
	add(store, inbox, make_msg(2, "again", "reborn words"), 0, 0, 0); /* UID 303 */
	CHECK(sql_int(store, "SELECT MAX(id) FROM body") == 2);
	CHECK(store_index_pending(store, 8, &error) == 1);
	CHECK_STR(run(store, inbox, TXT(STORE_SEARCH_BODY, "reborn")), "303");
	CHECK_STR(run(store, inbox, TXT(STORE_SEARCH_BODY, "fresh")), "");
	CHECK_STR(run(store, inbox, TXT(STORE_SEARCH_BODY, "words")), "1,303");
	CHECK(store_check(store, false, NULL, NULL, &problems, &error) == 0 && problems == 0);
	store_close(&store);
	root_free();
}

/* A store of schema 7 (the trigger deleted the index row with the body) gets search_gc and
 * the new triggers at its first open; what it had indexed stays searchable. */
static void test_migrate_v7(void)
{
	root_new();
	struct store *store = open_store();
	uint64_t inbox = mailbox_id(store, "INBOX");
	const char *error;
	add(store, inbox, make_msg(0, "first", "older words"), 0, 0, 0);
	add(store, inbox, make_msg(1, "second", "other words"), 0, 0, 0);
	CHECK(store_index_pending(store, 8, &error) == 2);
	store_close(&store);
	sql_exec("DROP TRIGGER body_search_gc; DROP TRIGGER body_search_reuse;"
		 "DROP TABLE search_gc;"
		 "CREATE TRIGGER body_search_delete AFTER DELETE ON body"
		 " BEGIN DELETE FROM search_text WHERE rowid = old.id; END;"
		 "UPDATE schema_version SET version = 7;");
	CHECK(sql_int(NULL, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'search_gc'") == 0);
	store = open_store();
	CHECK(store != NULL);
	if (store == NULL) {
		root_free();
		return;
	}
	CHECK(sql_int(store, "SELECT version FROM schema_version") == 8);
	CHECK(sql_int(store, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger'"
			     " AND name = 'body_search_delete'") == 0);
	CHECK(sql_int(store, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger'"
			     " AND name IN ('body_search_gc', 'body_search_reuse')") == 2);
	CHECK(sql_int(store, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'"
			     " AND name = 'search_gc'") == 1);
	CHECK_STR(run(store, inbox, TXT(STORE_SEARCH_BODY, "words")), "1,2");
	CHECK(store_expunge(store, inbox, (uint32_t[]){ 1 }, 1, NULL, NULL, &error) == 0);
	CHECK(sql_int(store, "SELECT COUNT(*) FROM search_gc") == 1);
	CHECK(sql_int(store, "SELECT COUNT(*) FROM search_text") == 2);
	CHECK_STR(run(store, inbox, TXT(STORE_SEARCH_BODY, "older")), "");
	CHECK(sql_int(store, "SELECT COUNT(*) FROM search_gc") == 0);
	CHECK(sql_int(store, "SELECT COUNT(*) FROM search_text") == 1);
	unsigned problems = 9;
	CHECK(store_check(store, false, NULL, NULL, &problems, &error) == 0 && problems == 0);
	store_close(&store);
	root_free();
}

static const char *sorted(struct store *store, uint64_t mbid, const uint32_t *uids, size_t n,
			  const struct store_sort_criterion *crit, size_t ncrit)
{
	static char text[1024];
	struct store_sort *srt;
	const char *error;
	const uint32_t *out;
	size_t count = 0, len = 0;
	text[0] = '\0';
	CHECK(store_sort_begin(store, mbid, crit, ncrit, uids, n, &srt, &error) == 0);
	int r;
	while ((r = store_sort_run(srt, 0, &out, &count, &error)) == 0)
		;
	CHECK(r == 1);
	for (size_t i = 0; r == 1 && i < count; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len, "%s%u", i ? "," : "", out[i]);
	store_sort_end(&srt);
	return text;
}

static void test_sort(void)
{
	root_new();
	struct store *store = open_store();
	uint64_t inbox = mailbox_id(store, "INBOX");
	static const char *const m[] = {
		/* 1 */ "From: Zed <zed@b.example>\r\nTo: b@x\r\nSubject: Re: banana\r\n"
			"Date: Tue, 2 Jan 2024 10:00:00 +0000\r\n\r\nxx\r\n",
		/* 2 */ "From: =?UTF-8?B?5bGx55Sw?= <yamada@a.example>\r\nTo: a@x\r\n"
			"Subject: apple\r\nDate: Mon, 1 Jan 2024 23:00:00 -0500\r\n\r\nxxxxxxxx\r\n",
		/* 3 */ "From: alice@c.example\r\nCc: z@x\r\nSubject: [list] Apple\r\n"
			"\r\nx\r\n",
		/* 4 */ "From: bob@d.example\r\nTo: c@x\r\nSubject: Banana\r\n"
			"Date: Tue, 2 Jan 2024 03:00:00 +0000\r\n\r\nxxxx\r\n",
	};
	/* internal dates: 3 is the newest, its sent date falls back to it */
	add(store, inbox, m[0], 0, T0, 0);
	add(store, inbox, m[1], 0, T0 + 10, 0);
	add(store, inbox, m[2], 0, T0 + 86400 * 400, 0);
	add(store, inbox, m[3], 0, T0 + 5, 0);
	uint32_t all[4] = {1, 2, 3, 4};
	struct store_sort_criterion c[2];
	c[0] = (struct store_sort_criterion){STORE_SORT_SUBJECT, false};
	CHECK_STR(sorted(store, inbox, all, 4, c, 1), "2,3,1,4");
	c[1] = (struct store_sort_criterion){STORE_SORT_DATE, true};
	CHECK_STR(sorted(store, inbox, all, 4, c, 2), "3,2,1,4");
	c[0] = (struct store_sort_criterion){STORE_SORT_SUBJECT, true};
	CHECK_STR(sorted(store, inbox, all, 4, c, 1), "1,4,2,3");
	c[0] = (struct store_sort_criterion){STORE_SORT_ARRIVAL, false};
	CHECK_STR(sorted(store, inbox, all, 4, c, 1), "1,4,2,3");
	/* sent dates in UTC: 2 is 2024-01-02 04:00, 4 03:00, 1 10:00; 3 has none (internal) */
	c[0] = (struct store_sort_criterion){STORE_SORT_DATE, false};
	CHECK_STR(sorted(store, inbox, all, 4, c, 1), "4,2,1,3");
	c[0] = (struct store_sort_criterion){STORE_SORT_SIZE, false};
	CHECK_STR(sorted(store, inbox, all, 4, c, 1), "3,4,1,2");
	c[0] = (struct store_sort_criterion){STORE_SORT_FROM, false};
	CHECK_STR(sorted(store, inbox, all, 4, c, 1), "3,4,2,1");
	c[0] = (struct store_sort_criterion){STORE_SORT_DISPLAYFROM, false};
	CHECK_STR(sorted(store, inbox, all, 4, c, 1), "3,4,1,2");
	/* no To: sorts first; ties keep UID order */
	c[0] = (struct store_sort_criterion){STORE_SORT_TO, false};
	CHECK_STR(sorted(store, inbox, all, 4, c, 1), "3,2,1,4");
	c[0] = (struct store_sort_criterion){STORE_SORT_CC, true};
	CHECK_STR(sorted(store, inbox, all, 4, c, 1), "3,1,2,4");
	c[0] = (struct store_sort_criterion){STORE_SORT_DISPLAYTO, false};
	CHECK_STR(sorted(store, inbox, all, 4, c, 1), "3,2,1,4");
	/* a subset, sparse, with a UID that does not exist */
	uint32_t some[3] = {2, 4, 99};
	c[0] = (struct store_sort_criterion){STORE_SORT_SUBJECT, false};
	CHECK_STR(sorted(store, inbox, some, 3, c, 1), "2,4");
	CHECK_STR(sorted(store, inbox, some, 0, c, 1), "");
	struct store_sort *srt;
	const char *error;
	CHECK(store_sort_begin(store, inbox, c, 0, all, 4, &srt, &error) == -1);
	store_close(&store);
	root_free();
}

/* The index is written after the append, not with it (store-index.c): a new body stays at
 * search_state 0 until a search of its mailbox, a sort, or store_index_pending indexes it;
 * answers are never stale. */
static void test_deferred_index(void)
{
	root_new();
	struct store *store = open_store();
	uint64_t inbox = mailbox_id(store, "INBOX"), archive = mailbox_id(store, "Archive");
	const char *error;
	add(store, inbox, make_msg(0, "zebra", "deferred giraffe"), 0, 0, 0);
	add(store, inbox, make_msg(1, "apple", "deferred okapi"), 0, 0, 0);
	add(store, archive, make_msg(2, "mango", "deferred archive words"), 0, 0, 0);
	/* the append path wrote no index row, no sent date, no sort key */
	CHECK(sql_int(store, "SELECT COUNT(*) FROM body WHERE search_state = 0") == 3);
	CHECK(sql_int(store, "SELECT COUNT(*) FROM search_text") == 0);
	CHECK(sql_int(store, "SELECT COUNT(*) FROM body WHERE sent_date IS NOT NULL"
			     " OR sort_subject IS NOT NULL") == 0);
	/* not a problem for kura check */
	unsigned problems = 9;
	CHECK(store_check(store, false, NULL, NULL, &problems, &error) == 0 && problems == 0);
	/* SORT without a search before it gets the keys (subject order: apple, zebra) */
	struct store_sort_criterion subj = {STORE_SORT_SUBJECT, false};
	CHECK_STR(sorted(store, inbox, (uint32_t[]){1, 2}, 2, &subj, 1), "2,1");
	CHECK(sql_int(store, "SELECT COUNT(*) FROM body WHERE search_state = 0") == 1);
	/* a search indexes its mailbox only: the Archive body still waits */
	add(store, inbox, make_msg(3, "kiwi", "deferred giraffe again"), 0, 0, 0);
	CHECK_STR(run(store, inbox, TXT(STORE_SEARCH_BODY, "giraffe")), "1,3");
	CHECK_STR(run(store, inbox, NUM(STORE_SEARCH_SENTON,
					(uint64_t)store_search_day(1996, 7, 17))), "1,2,3");
	CHECK(sql_int(store, "SELECT COUNT(*) FROM body WHERE search_state = 0") == 1);
	CHECK_STR(run(store, archive, TXT(STORE_SEARCH_SUBJECT, "mango")), "1");
	CHECK(sql_int(store, "SELECT COUNT(*) FROM body WHERE search_state = 0") == 0);
	/* the idle-time API: counts, and 0 when nothing waits */
	CHECK(store_index_pending(store, 5, &error) == 0);
	for (int i = 0; i < 5; i++) {
		char subject[16];
		snprintf(subject, sizeof(subject), "idle%d", i);
		add(store, archive, make_msg(0, subject, i % 2 ? "odd words" : "even words"), 0, 0,
		    0);
	}
	CHECK(store_index_pending(store, 3, &error) == 3);
	CHECK(store_index_pending(store, 3, &error) == 2);
	CHECK(store_index_pending(store, 3, &error) == 0);
	CHECK_STR(run(store, archive, TXT(STORE_SEARCH_BODY, "odd")), "3,5");
	/* a search in slices of no time: the catch-up is sliced too, the answer the same */
	enum { N = 600 };
	static char texts[N][160];
	struct store_append *a = xcalloc(N, sizeof(*a));
	for (int i = 0; i < N; i++) {
		int len = snprintf(texts[i], sizeof(texts[i]),
				   "Subject: bulk %d\r\nDate: Wed, 17 Jul 1996 02:44:25 -0700\r\n\r\n"
				   "%s number %d\r\n", i, i % 100 == 7 ? "needle" : "hay", i);
		a[i] = (struct store_append){.data = (const unsigned char *)texts[i],
					     .size = (size_t)len};
	}
	CHECK(store_append(store, inbox, a, N, NULL, NULL, &error) == 0);
	free(a);
	struct store_search *srch;
	uint32_t found[2] = {0, 0};
	CHECK(store_search_begin(store, inbox, TXT(STORE_SEARCH_BODY, "needle"), &srch, &error) ==
	      0);
	int r, slices = 0;
	while ((r = store_search_run(srch, 0, count_cb, found, &error)) == 0)
		slices++;
	CHECK(r == 1 && slices > 1);
	store_search_end(&srch);
	CHECK(found[0] == N / 100 && found[1] == 3 + 507 + 1);
	CHECK(sql_int(store, "SELECT COUNT(*) FROM body WHERE search_state = 0") == 0);
	store_close(&store);
	root_free();
}

int main(void)
{
	tp = pool_create(4096);
	TEST_RUN(test_search_keys);
	TEST_RUN(test_shared_bodies);
	TEST_RUN(test_scan_fallback);
	TEST_RUN(test_migrate_v4);
	TEST_RUN(test_slices_state);
	TEST_RUN(test_check_index);
	TEST_RUN(test_sort);
	TEST_RUN(test_deferred_index);
	TEST_RUN(test_expunge_gc);
	TEST_RUN(test_migrate_v7);
	pool_destroy(&tp);
	return test_finish();
}
