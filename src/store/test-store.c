/* test-store.c: unit tests of the embedded store (store.h): mailboxes, names, messages, flags,
 * expunge, copy/move, listeners, crash leftovers, check and repair. Each test works in its own
 * temporary folder. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/pool.h"
#include "lib/test.h"
#include "store/store.h"

/* ---- helpers ---- */

static char test_root[128];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void root_new(void)
{
	snprintf(test_root, sizeof(test_root), "/tmp/kura-test-store-XXXXXX");
	if (mkdtemp(test_root) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
}

static void root_free(void)
{
	nftw(test_root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static struct store *open_store(void)
{
	struct store *store = NULL;
	const char *error = NULL;
	if (store_open(test_root, "alice", &store, &error) < 0) {
		printf("  store_open: %s\n", error);
		return NULL;
	}
	return store;
}

static uint64_t mailbox_id(struct store *store, const char *name)
{
	struct store_mailbox mb;
	if (store_mailbox_get(store, name, &mb) != 1)
		return 0;
	return mb.id;
}

static struct store_mailbox mb_buf;
static const struct store_mailbox *mb_get(struct store *store, const char *name)
{
	memset(&mb_buf, 0, sizeof(mb_buf));
	if (store_mailbox_get(store, name, &mb_buf) != 1)
		memset(&mb_buf, 0, sizeof(mb_buf));
	return &mb_buf;
}

/* A small message whose body makes it unique. */
static char msg_text[4][1024];
static const char *make_msg(int slot, const char *subject, const char *body)
{
	snprintf(msg_text[slot], sizeof(msg_text[slot]),
		 "From: Alice <alice@example.org>\r\nTo: bob@example.org\r\nSubject: %s\r\n"
		 "Date: Wed, 17 Jul 1996 02:44:25 -0700\r\nMessage-ID: <%s@example.org>\r\n"
		 "\r\n%s\r\n",
		 subject, subject, body);
	return msg_text[slot];
}

static int append1(struct store *store, uint64_t mbid, const char *text, uint8_t flags,
		   const char *const *kws, size_t kwn, uint32_t *uid_r)
{
	struct store_append a = {
		.data = (const unsigned char *)text, .size = strlen(text), .flags = flags,
		.keywords = kws, .keyword_count = kwn,
	};
	uint32_t uid = 0, uidv = 0;
	const char *error;
	int r = store_append(store, mbid, &a, 1, &uid, &uidv, &error);
	if (r < 0)
		printf("  store_append: %s\n", error);
	if (uid_r != NULL)
		*uid_r = uid;
	return r;
}

static int count_files_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)path;
	(void)st;
	(void)ftw;
	return flag == FTW_F ? 1 : 0;
}

/* number of regular files under ROOT/alice/bodies */
static int body_files(void)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/alice/bodies", test_root);
	DIR *d = opendir(path);
	int n = 0;
	if (d == NULL)
		return -1;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		char sub[1024];
		snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
		DIR *s = opendir(sub);
		if (s == NULL)
			continue;
		struct dirent *e;
		while ((e = readdir(s)) != NULL) {
			if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
				n++;
		}
		closedir(s);
	}
	closedir(d);
	(void)count_files_cb;
	return n;
}

static void body_path(const char *hash, char *out, size_t size)
{
	snprintf(out, size, "%s/alice/bodies/%.2s/%s", test_root, hash, hash);
}

static int file_mode(const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return -1;
	return (int)(st.st_mode & 07777);
}

/* message_info body id of a UID */
static int body_id_of(struct store *store, uint64_t mbid, uint32_t uid, char out[65])
{
	struct pool *pool = pool_create(4096);
	struct store_msg_info info;
	const char *error;
	int r = store_message_info(store, mbid, uid, pool, &info, &error);
	if (r == 1)
		memcpy(out, info.body_id, 65);
	pool_destroy(&pool);
	return r;
}

/* ---- collectors ---- */

struct names {
	char v[32][STORE_MAILBOX_NAME_MAX + 1];
	unsigned special[32];
	bool subscribed[32];
	int n;
};

static int names_mb_cb(void *ctx, const struct store_mailbox *mb)
{
	struct names *n = ctx;
	if (n->n < 32) {
		memcpy(n->v[n->n], mb->name, sizeof(mb->name));
		n->special[n->n] = mb->special_use;
		n->subscribed[n->n] = mb->subscribed;
		n->n++;
	}
	return 0;
}

static int names_cb(void *ctx, const char *name)
{
	struct names *n = ctx;
	if (n->n < 32) {
		snprintf(n->v[n->n], sizeof(n->v[n->n]), "%s", name);
		n->n++;
	}
	return 0;
}

static bool names_has(const struct names *n, const char *name)
{
	for (int i = 0; i < n->n; i++) {
		if (strcmp(n->v[i], name) == 0)
			return true;
	}
	return false;
}

struct msgs {
	struct store_msg v[256];
	int n;
	int stop_after;
};

static int msgs_cb(void *ctx, const struct store_msg *msg)
{
	struct msgs *m = ctx;
	if (m->n < 256)
		m->v[m->n++] = *msg;
	if (m->stop_after > 0 && m->n >= m->stop_after)
		return -1;
	return 0;
}

struct uids {
	uint32_t v[256];
	int n;
};

static int uids_cb(void *ctx, uint32_t uid)
{
	struct uids *u = ctx;
	if (u->n < 256)
		u->v[u->n++] = uid;
	return 0;
}

/* ---- tests: opening ---- */

static void test_open_close_reopen(void)
{
	root_new();
	struct store *store = open_store();
	CHECK(store != NULL);
	char path[512];
	snprintf(path, sizeof(path), "%s/alice", test_root);
	CHECK(file_mode(path) == 0700);
	snprintf(path, sizeof(path), "%s/alice/store.db", test_root);
	CHECK(file_mode(path) == 0600);
	snprintf(path, sizeof(path), "%s/alice/bodies", test_root);
	CHECK(file_mode(path) == 0700);
	CHECK(store_last_error(store) == STORE_ERR_NONE);
	uint32_t uidv = mb_get(store, "INBOX")->uidvalidity;
	CHECK(uidv != 0);
	store_close(&store);
	CHECK(store == NULL);
	store_close(&store); /* twice is harmless */

	store = open_store();
	CHECK(store != NULL);
	/* reopened, not recreated */
	CHECK(mb_get(store, "INBOX")->uidvalidity == uidv);
	store_close(&store);

	struct store *bad = NULL;
	const char *error = NULL;
	CHECK(store_open(test_root, "a/b", &bad, &error) < 0 && bad == NULL && error != NULL);
	CHECK(store_open(test_root, ".hidden", &bad, &error) < 0);
	CHECK(store_open(test_root, "..", &bad, &error) < 0);
	CHECK(store_open(test_root, "", &bad, &error) < 0);
	/* a schema newer than this code is refused */
	sqlite3 *db;
	snprintf(path, sizeof(path), "%s/alice/store.db", test_root);
	CHECK(sqlite3_open(path, &db) == SQLITE_OK);
	CHECK(sqlite3_exec(db, "UPDATE schema_version SET version = 999", NULL, NULL, NULL) ==
	      SQLITE_OK);
	sqlite3_close(db);
	CHECK(store_open(test_root, "alice", &bad, &error) < 0 && strstr(error, "newer") != NULL);
	root_free();
}

static void test_default_mailboxes(void)
{
	root_new();
	struct store *store = open_store();
	struct names n = { 0 };
	const char *error;
	CHECK(store_mailbox_list(store, names_mb_cb, &n, &error) == 0);
	CHECK(n.n == 6);
	static const char *const want[] = { "Archive", "Drafts", "INBOX", "Junk", "Sent", "Trash" };
	static const unsigned special[] = { STORE_SPECIAL_ARCHIVE, STORE_SPECIAL_DRAFTS, 0,
					    STORE_SPECIAL_JUNK, STORE_SPECIAL_SENT,
					    STORE_SPECIAL_TRASH };
	for (int i = 0; i < 6 && i < n.n; i++) {
		CHECK_STR(n.v[i], want[i]);
		CHECK(n.special[i] == special[i]);
		CHECK(n.subscribed[i]);
	}
	struct names subs = { 0 };
	CHECK(store_subscriptions(store, names_cb, &subs, &error) == 0);
	CHECK(subs.n == 6);
	const struct store_mailbox *mb = mb_get(store, "INBOX");
	CHECK(mb->uidnext == 1 && mb->messages == 0 && mb->highestmodseq >= 1);
	/* every mailbox has its own UIDVALIDITY */
	uint32_t a = mb_get(store, "Sent")->uidvalidity, b = mb_get(store, "Trash")->uidvalidity;
	CHECK(a != 0 && b != 0 && a != b);
	store_close(&store);
	root_free();
}

/* ---- tests: names ---- */

static void test_name_validation(void)
{
	const char *error;
	static const char *const valid[] = {
		"a", "a/b", "INBOX/x", "x y", "受信箱/会議", "Ünïcödé", "a.b", "...", ".a", "a~b",
		"&-", "[Gmail]/All",
	};
	for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
		if (store_mailbox_name_valid(valid[i], &error) != 1) {
			printf("  valid name refused: %s (%s)\n", valid[i], error);
			CHECK(0);
		}
	}
	static const char *const invalid[] = {
		"", "/", "/a", "a/", "a//b", ".", "..", "a/..", "../a", "a/./b", "a\x01", "a\tb",
		"a\x7f", "a\xc2\x85", "a*", "a%", "\xff", "\xc0\xaf", "\xed\xa0\x80", "\xe3\x81",
		"\xf4\x90\x80\x80",
	};
	for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
		error = NULL;
		if (store_mailbox_name_valid(invalid[i], &error) != 0 || error == NULL) {
			printf("  invalid name accepted: case %zu\n", i);
			CHECK(0);
		}
	}
	char name[STORE_MAILBOX_NAME_MAX + 2];
	memset(name, 'x', STORE_MAILBOX_NAME_MAX);
	name[STORE_MAILBOX_NAME_MAX] = '\0';
	CHECK(store_mailbox_name_valid(name, &error) == 1);
	name[STORE_MAILBOX_NAME_MAX] = 'x';
	name[STORE_MAILBOX_NAME_MAX + 1] = '\0';
	CHECK(store_mailbox_name_valid(name, &error) == 0);
	/* 32 levels fine, 33 too deep */
	char deep[128] = "";
	size_t len = 0;
	for (int i = 0; i < 32; i++)
		len += (size_t)snprintf(deep + len, sizeof(deep) - len, i == 0 ? "a" : "/a");
	CHECK(store_mailbox_name_valid(deep, &error) == 1);
	snprintf(deep + len, sizeof(deep) - len, "/a");
	CHECK(store_mailbox_name_valid(deep, &error) == 0);

	/* through create: the error codes */
	root_new();
	struct store *store = open_store();
	CHECK(store_mailbox_create(store, "a/../b", 0, &error) < 0);
	CHECK(store_last_error(store) == STORE_ERR_INVALID);
	CHECK(store_mailbox_create(store, deep, 0, &error) < 0);
	CHECK(store_last_error(store) == STORE_ERR_LIMIT);
	CHECK(store_mailbox_create(store, name, 0, &error) < 0);
	CHECK(store_last_error(store) == STORE_ERR_LIMIT);
	CHECK(store_mailbox_create(store, "a\xff", 0, &error) < 0);
	CHECK(store_last_error(store) == STORE_ERR_INVALID);
	CHECK(store_mailbox_create(store, "x", 0x1000, &error) < 0);
	CHECK(store_last_error(store) == STORE_ERR_INVALID);
	CHECK(store_mailbox_create(store, "受信箱/会議", 0, &error) == 0);
	struct names n = { 0 };
	CHECK(store_mailbox_list(store, names_mb_cb, &n, &error) == 0);
	CHECK(names_has(&n, "受信箱") && names_has(&n, "受信箱/会議"));
	store_close(&store);
	root_free();
}

/* ---- tests: mailboxes ---- */

static void test_create(void)
{
	root_new();
	struct store *store = open_store();
	const char *error;
	CHECK(store_mailbox_create(store, "a/b/c", 0, &error) == 0);
	CHECK(mailbox_id(store, "a") != 0 && mailbox_id(store, "a/b") != 0 &&
	      mailbox_id(store, "a/b/c") != 0);
	CHECK(store_mailbox_create(store, "a/b/c", 0, &error) < 0);
	CHECK(store_last_error(store) == STORE_ERR_EXISTS);
	CHECK(store_mailbox_create(store, "a", 0, &error) < 0);
	CHECK(store_last_error(store) == STORE_ERR_EXISTS);
	CHECK(store_mailbox_create(store, "INBOX", 0, &error) < 0);
	CHECK(store_last_error(store) == STORE_ERR_EXISTS);
	CHECK(store_mailbox_create(store, "inbox", 0, &error) < 0);
	CHECK(store_last_error(store) == STORE_ERR_EXISTS);
	/* INBOX as a first level is INBOX */
	CHECK(store_mailbox_create(store, "inbox/sub", 0, &error) == 0);
	CHECK_STR(mb_get(store, "INBOX/sub")->name, "INBOX/sub");
	CHECK(mailbox_id(store, "Inbox/sub") == mailbox_id(store, "INBOX/sub"));
	CHECK_STR(mb_get(store, "iNbOx")->name, "INBOX");
	/* other names are case-sensitive */
	CHECK(mailbox_id(store, "A") == 0);
	CHECK(store_mailbox_create(store, "Flagged", STORE_SPECIAL_FLAGGED, &error) == 0);
	CHECK(mb_get(store, "Flagged")->special_use == STORE_SPECIAL_FLAGGED);
	CHECK(!mb_get(store, "Flagged")->subscribed);
	struct store_mailbox mb;
	CHECK(store_mailbox_get_by_id(store, mailbox_id(store, "a/b"), &mb) == 1);
	CHECK_STR(mb.name, "a/b");
	CHECK(store_mailbox_get_by_id(store, 999999, &mb) == 0);
	CHECK(store_mailbox_get(store, "a//b", &mb) == 0);
	store_close(&store);
	root_free();
}

static void test_delete(void)
{
	root_new();
	struct store *store = open_store();
	const char *error;
	CHECK(store_mailbox_delete(store, "INBOX", &error) < 0);
	CHECK(store_last_error(store) == STORE_ERR_INUSE);
	CHECK(store_mailbox_delete(store, "inbox", &error) < 0);
	CHECK(store_last_error(store) == STORE_ERR_INUSE);
	CHECK(store_mailbox_delete(store, "nope", &error) < 0);
	CHECK(store_last_error(store) == STORE_ERR_NOT_FOUND);
	CHECK(store_mailbox_create(store, "a/b", 0, &error) == 0);
	uint64_t a = mailbox_id(store, "a");
	CHECK(store_mailbox_delete(store, "a", &error) == 0);
	CHECK(mailbox_id(store, "a") == 0);
	CHECK(mailbox_id(store, "a/b") != 0); /* children stay */

	/* messages go with the mailbox; a body shared with another mailbox stays */
	uint64_t inbox = mailbox_id(store, "INBOX"), b = mailbox_id(store, "a/b");
	CHECK(append1(store, b, make_msg(0, "one", "shared body"), 0, NULL, 0, NULL) == 0);
	CHECK(append1(store, b, make_msg(1, "two", "only here"), 0, NULL, 0, NULL) == 0);
	CHECK(append1(store, inbox, make_msg(0, "one", "shared body"), 0, NULL, 0, NULL) == 0);
	CHECK(body_files() == 2);
	CHECK(store_mailbox_delete(store, "a/b", &error) == 0);
	CHECK(body_files() == 1);
	char hash[65];
	CHECK(body_id_of(store, inbox, 1, hash) == 1);
	int fd = store_body_open(store, hash, &error);
	CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);
	/* a deleted mailbox's id does not come back */
	CHECK(store_mailbox_create(store, "a", 0, &error) == 0);
	CHECK(mailbox_id(store, "a") != a);
	/* subscriptions outlive mailboxes */
	CHECK(store_mailbox_delete(store, "Trash", &error) == 0);
	struct names subs = { 0 };
	CHECK(store_subscriptions(store, names_cb, &subs, &error) == 0);
	CHECK(names_has(&subs, "Trash"));
	unsigned problems = 99;
	CHECK(store_check(store, false, NULL, NULL, &problems, &error) == 0 && problems == 0);
	store_close(&store);
	root_free();
}

static void test_rename(void)
{
	root_new();
	struct store *store = open_store();
	const char *error;
	CHECK(store_mailbox_create(store, "a/b/c", 0, &error) == 0);
	CHECK(store_subscribe(store, "a/b", true, &error) == 0);
	uint32_t uidv = mb_get(store, "a/b")->uidvalidity;
	uint64_t id = mailbox_id(store, "a/b");
	CHECK(store_mailbox_rename(store, "a", "x/y", &error) == 0);
	CHECK(mailbox_id(store, "a") == 0 && mailbox_id(store, "a/b") == 0);
	CHECK(mailbox_id(store, "x") != 0);
	CHECK(mailbox_id(store, "x/y") != 0 && mailbox_id(store, "x/y/b/c") != 0);
	CHECK(mailbox_id(store, "x/y/b") == id);
	CHECK(mb_get(store, "x/y/b")->uidvalidity == uidv);
	CHECK(mb_get(store, "x/y/b")->subscribed);
	struct names subs = { 0 };
	CHECK(store_subscriptions(store, names_cb, &subs, &error) == 0);
	CHECK(names_has(&subs, "x/y/b") && !names_has(&subs, "a/b"));

	CHECK(store_mailbox_rename(store, "x/y", "x/y/z", &error) < 0);
	CHECK(store_last_error(store) == STORE_ERR_INVALID);
	CHECK(store_mailbox_rename(store, "x/y", "Sent", &error) < 0);
	CHECK(store_last_error(store) == STORE_ERR_EXISTS);
	CHECK(store_mailbox_rename(store, "x/y", "inbox", &error) < 0);
	CHECK(store_last_error(store) == STORE_ERR_EXISTS);
	CHECK(store_mailbox_rename(store, "nope", "q", &error) < 0);
	CHECK(store_last_error(store) == STORE_ERR_NOT_FOUND);
	CHECK(store_mailbox_rename(store, "x/y", "bad//name", &error) < 0);
	CHECK(store_last_error(store) == STORE_ERR_INVALID);
	/* a child's new name taken: nothing moves */
	CHECK(store_mailbox_create(store, "q/b/c", 0, &error) == 0);
	CHECK(store_mailbox_delete(store, "q", &error) == 0);
	CHECK(store_mailbox_rename(store, "x/y", "q", &error) < 0);
	CHECK(store_last_error(store) == STORE_ERR_EXISTS);
	CHECK(mailbox_id(store, "x/y/b") == id);

	/* a rename onto names the same rename frees: "m/n" to "m" with child "m/n/n" */
	CHECK(store_mailbox_create(store, "m/n/n", 0, &error) == 0);
	CHECK(store_mailbox_delete(store, "m", &error) == 0);
	uint64_t mn = mailbox_id(store, "m/n"), mnn = mailbox_id(store, "m/n/n");
	CHECK(store_mailbox_rename(store, "m/n", "m", &error) == 0);
	CHECK(mailbox_id(store, "m") == mn && mailbox_id(store, "m/n") == mnn);

	/* INBOX: messages move to a new mailbox, INBOX stays, empty, children untouched */
	uint64_t inbox = mailbox_id(store, "INBOX");
	CHECK(store_mailbox_create(store, "INBOX/kid", 0, &error) == 0);
	static const char *const kw[] = { "$Work" };
	CHECK(append1(store, inbox, make_msg(0, "r1", "one"), STORE_FLAG_SEEN, kw, 1, NULL) == 0);
	CHECK(append1(store, inbox, make_msg(1, "r2", "two"), 0, NULL, 0, NULL) == 0);
	CHECK(append1(store, inbox, make_msg(2, "r3", "three"), 0, NULL, 0, NULL) == 0);
	uint32_t inbox_uidv = mb_get(store, "INBOX")->uidvalidity;
	CHECK(store_mailbox_rename(store, "INBOX", "Old/Inbox", &error) == 0);
	const struct store_mailbox *old = mb_get(store, "Old/Inbox");
	CHECK(old->messages == 3 && old->unseen == 2 && old->uidnext == 4);
	CHECK(old->uidvalidity != inbox_uidv && old->uidvalidity != 0);
	CHECK(old->keyword_count == 1 && strcmp(old->keywords[0], "$Work") == 0);
	struct msgs m = { 0 };
	CHECK(store_messages(store, old->id, msgs_cb, &m, &error) == 0);
	CHECK(m.n == 3 && m.v[0].uid == 1 && m.v[2].uid == 3 && m.v[0].keywords == 1);
	const struct store_mailbox *in = mb_get(store, "INBOX");
	CHECK(in->id == inbox && in->messages == 0 && in->unseen == 0 && in->size == 0);
	CHECK(in->uidvalidity == inbox_uidv && in->uidnext == 4);
	CHECK(mailbox_id(store, "INBOX/kid") != 0 && mailbox_id(store, "Old/Inbox/kid") == 0);
	uint32_t uid;
	CHECK(append1(store, inbox, make_msg(0, "r4", "four"), 0, NULL, 0, &uid) == 0 && uid == 4);
	unsigned problems = 99;
	CHECK(store_check(store, false, NULL, NULL, &problems, &error) == 0 && problems == 0);
	store_close(&store);
	root_free();
}

static void test_subscriptions(void)
{
	root_new();
	struct store *store = open_store();
	const char *error;
	CHECK(store_subscribe(store, "not/there", true, &error) == 0);
	CHECK(store_subscribe(store, "not/there", true, &error) == 0);
	CHECK(store_subscribe(store, "Sent", false, &error) == 0);
	CHECK(store_subscribe(store, "Sent", false, &error) == 0);
	CHECK(store_subscribe(store, "inbox", false, &error) == 0);
	CHECK(store_subscribe(store, "a//b", true, &error) < 0);
	CHECK(store_last_error(store) == STORE_ERR_INVALID);
	struct names subs = { 0 };
	CHECK(store_subscriptions(store, names_cb, &subs, &error) == 0);
	CHECK(names_has(&subs, "not/there") && !names_has(&subs, "Sent") &&
	      !names_has(&subs, "INBOX") && subs.n == 5);
	CHECK(!mb_get(store, "Sent")->subscribed && mb_get(store, "Trash")->subscribed);
	CHECK(store_mailbox_create(store, "not/there", 0, &error) == 0);
	CHECK(mb_get(store, "not/there")->subscribed && !mb_get(store, "not")->subscribed);
	store_close(&store);
	root_free();
}

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

static void test_uidvalidity(void)
{
	root_new();
	struct store *store = open_store();
	const char *error;
	CHECK(store_mailbox_create(store, "X", 0, &error) == 0);
	uint32_t first = mb_get(store, "X")->uidvalidity;
	CHECK(store_mailbox_delete(store, "X", &error) == 0);
	CHECK(store_mailbox_create(store, "X", 0, &error) == 0);
	uint32_t second = mb_get(store, "X")->uidvalidity;
	CHECK(second != first && second > first);
	CHECK(mb_get(store, "X")->uidnext == 1);
	/* and across a rename away and back */
	CHECK(store_mailbox_rename(store, "X", "Y", &error) == 0);
	CHECK(store_mailbox_create(store, "X", 0, &error) == 0);
	CHECK(mb_get(store, "X")->uidvalidity > second);
	store_close(&store);
	root_free();
}

/* ---- tests: listeners ---- */

struct heard {
	int appended, changed, expunged;
	uint32_t last_uid;
	uint8_t last_flags;
	struct store *store;
	struct store_listener *self, *other;
	bool remove_self, remove_other;
};

static void heard_appended(void *ctx, const struct store_msg *msg)
{
	struct heard *h = ctx;
	h->appended++;
	h->last_uid = msg->uid;
	if (h->remove_self)
		store_listener_remove(h->store, h->self);
	if (h->remove_other)
		store_listener_remove(h->store, h->other);
}

static void heard_changed(void *ctx, const struct store_msg *msg)
{
	struct heard *h = ctx;
	h->changed++;
	h->last_uid = msg->uid;
	h->last_flags = msg->flags;
}

static void heard_expunged(void *ctx, uint32_t uid)
{
	struct heard *h = ctx;
	h->expunged++;
	h->last_uid = uid;
}

static void test_listeners(void)
{
	root_new();
	struct store *store = open_store();
	const char *error;
	uint64_t inbox = mailbox_id(store, "INBOX"), sent = mailbox_id(store, "Sent");
	struct heard ha = { .store = store }, hb = { .store = store }, hs = { .store = store };
	struct store_listener la = { .mailbox_id = inbox, .flags_changed = heard_changed,
				     .expunged = heard_expunged, .appended = heard_appended,
				     .ctx = &ha };
	struct store_listener lb = la, ls = la;
	lb.ctx = &hb;
	ls.mailbox_id = sent;
	ls.ctx = &hs;
	ha.self = &la;
	hb.self = &lb;
	store_listener_add(store, &la);
	store_listener_add(store, &lb);
	store_listener_add(store, &ls);

	struct store_append two[2] = {
		{ .data = (const unsigned char *)make_msg(0, "l1", "one"), .size = strlen(msg_text[0]) },
		{ .data = (const unsigned char *)make_msg(1, "l2", "two"), .size = strlen(msg_text[1]) },
	};
	uint32_t uids[2], uidv;
	CHECK(store_append(store, inbox, two, 2, uids, &uidv, &error) == 0);
	CHECK(ha.appended == 2 && hb.appended == 2 && hs.appended == 0 && ha.last_uid == 2);

	/* only real changes are heard */
	struct store_flag_change ch = { .mode = STORE_FLAGS_ADD, .flags = STORE_FLAG_SEEN };
	CHECK(store_set_flags(store, inbox, (uint32_t[]){ 2 }, 1, &ch, NULL, NULL, NULL, &error) ==
	      0);
	CHECK(ha.changed == 1 && ha.last_uid == 2 && ha.last_flags == STORE_FLAG_SEEN);
	CHECK(store_set_flags(store, inbox, (uint32_t[]){ 2 }, 1, &ch, NULL, NULL, NULL, &error) ==
	      0);
	CHECK(ha.changed == 1 && hb.changed == 1);

	/* a failed change is not heard */
	CHECK(store_append(store, inbox, two, 0, uids, &uidv, &error) < 0);
	CHECK(ha.appended == 2);

	/* move: the source's listeners hear expunges, the destination's appends */
	size_t copied;
	uint32_t src_r[1], new_r[1];
	CHECK(store_copy(store, inbox, (uint32_t[]){ 1 }, 1, sent, true, src_r, new_r, &copied,
			 &uidv, &error) == 0);
	CHECK(ha.expunged == 1 && ha.last_uid == 1 && hs.appended == 1 && hs.expunged == 0);

	/* a listener that removes itself, and one that removes the next one, mid-delivery */
	ha.remove_self = true;
	hb.remove_other = true;
	hb.other = &la;
	int a_before = ha.appended, b_before = hb.appended;
	CHECK(append1(store, inbox, make_msg(0, "l3", "three"), 0, NULL, 0, NULL) == 0);
	/* lb was added last, so it is called first, and removes la before la's turn */
	CHECK(hb.appended == b_before + 1 && ha.appended == a_before);
	hb.remove_other = false;
	hb.remove_self = true;
	CHECK(append1(store, inbox, make_msg(0, "l4", "four"), 0, NULL, 0, NULL) == 0);
	CHECK(hb.appended == b_before + 2);
	CHECK(append1(store, inbox, make_msg(0, "l5", "five"), 0, NULL, 0, NULL) == 0);
	CHECK(hb.appended == b_before + 2 && ha.appended == a_before);

	/* expunge and a deleted mailbox */
	CHECK(store_expunge(store, sent, (uint32_t[]){ 1 }, 1, NULL, NULL, &error) == 0);
	CHECK(hs.expunged == 1);
	CHECK(append1(store, sent, make_msg(0, "l6", "six"), 0, NULL, 0, NULL) == 0);
	CHECK(store_mailbox_delete(store, "Sent", &error) == 0);
	CHECK(hs.expunged == 2);
	store_listener_remove(store, &ls);
	store_listener_remove(store, &ls); /* not there: harmless */
	store_close(&store);
	root_free();
}

/* ---- tests: crashes, check, repair ---- */

static void write_file(const char *path, const char *data)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd >= 0) {
		if (write(fd, data, strlen(data)) < 0)
			perror("write");
		close(fd);
	}
}

static bool exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

static void test_crash_sweep(void)
{
	root_new();
	struct store *store = open_store();
	const char *error;
	uint64_t inbox = mailbox_id(store, "INBOX");
	CHECK(append1(store, inbox, make_msg(0, "keep", "keep me"), 0, NULL, 0, NULL) == 0);
	store_close(&store);
	/* what a crash leaves: a temporary file, and a complete body file never committed;
	 * they appear while another handle is open (as if its process were mid-append) */
	struct store *other = open_store();
	CHECK(other != NULL);
	char tmp[1024], orphan[1024], dir[512];
	snprintf(dir, sizeof(dir), "%s/alice/bodies/ab", test_root);
	mkdir(dir, 0700);
	snprintf(tmp, sizeof(tmp), "%s/.tmp.abcdef.123.1", dir);
	write_file(tmp, "partial");
	snprintf(orphan, sizeof(orphan), "%s/ab%062d", dir, 7);
	write_file(orphan, "never committed");
	CHECK(body_files() == 3);
	/* while another handle is open the sweep must not run (an append may be in flight) */
	store = open_store();
	CHECK(store != NULL);
	CHECK(exists(tmp) && exists(orphan));
	store_close(&store);
	store_close(&other);
	/* the first opener sweeps */
	store = open_store();
	CHECK(!exists(tmp) && !exists(orphan));
	CHECK(body_files() == 1);
	char h[65];
	CHECK(body_id_of(store, inbox, 1, h) == 1);
	int fd = store_body_open(store, h, &error);
	CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);
	store_close(&store);
	root_free();
}

struct report {
	int lines;
	char text[4096];
};

static void report_cb(void *ctx, const char *line)
{
	struct report *r = ctx;
	r->lines++;
	size_t len = strlen(r->text);
	snprintf(r->text + len, sizeof(r->text) - len, "%s\n", line);
}

static void test_check_repair(void)
{
	root_new();
	struct store *store = open_store();
	const char *error;
	uint64_t inbox = mailbox_id(store, "INBOX"), arch = mailbox_id(store, "Archive");
	CHECK(append1(store, inbox, make_msg(0, "k1", "one"), 0, NULL, 0, NULL) == 0);
	CHECK(append1(store, inbox, make_msg(0, "k2", "two"), 0, NULL, 0, NULL) == 0);
	CHECK(append1(store, inbox, make_msg(0, "k3", "three"), 0, NULL, 0, NULL) == 0);
	CHECK(append1(store, arch, make_msg(0, "k2", "two"), 0, NULL, 0, NULL) == 0);
	unsigned problems = 99;
	struct report rep = { 0 };
	CHECK(store_check(store, false, report_cb, &rep, &problems, &error) == 0);
	CHECK(problems == 0 && rep.lines == 0);

	char h1[65], h2[65], path[512];
	CHECK(body_id_of(store, inbox, 1, h1) == 1 && body_id_of(store, inbox, 2, h2) == 1);
	/* body 1 deleted, body 2 corrupted with the same size */
	body_path(h1, path, sizeof(path));
	CHECK(unlink(path) == 0);
	body_path(h2, path, sizeof(path));
	int fd = open(path, O_WRONLY);
	CHECK(fd >= 0);
	if (fd >= 0) {
		CHECK(pwrite(fd, "X", 1, 10) == 1);
		close(fd);
	}
	/* and a counter and UIDNEXT out of step */
	store_close(&store);
	snprintf(path, sizeof(path), "%s/alice/store.db", test_root);
	sqlite3 *db;
	CHECK(sqlite3_open(path, &db) == SQLITE_OK);
	CHECK(sqlite3_exec(db, "UPDATE mailbox SET unseen = 42, uidnext = 2 WHERE name = 'INBOX'",
			   NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(db);
	store = open_store();

	memset(&rep, 0, sizeof(rep));
	CHECK(store_check(store, false, report_cb, &rep, &problems, &error) == 0);
	CHECK(problems == 4);
	CHECK(strstr(rep.text, "missing") != NULL && strstr(rep.text, "hash") != NULL);
	CHECK(strstr(rep.text, "UNSEEN") != NULL && strstr(rep.text, "UIDNEXT") != NULL);
	/* without repair nothing changed */
	CHECK(mb_get(store, "INBOX")->unseen == 42);

	memset(&rep, 0, sizeof(rep));
	CHECK(store_check(store, true, report_cb, &rep, &problems, &error) == 0);
	CHECK(problems >= 4);
	/* each removed message is reported: UID 1 and UID 2 of INBOX, UID 1 of Archive */
	CHECK(strstr(rep.text, "UID 1 in INBOX") != NULL && strstr(rep.text, "UID 2 in INBOX") != NULL);
	CHECK(strstr(rep.text, "UID 1 in Archive") != NULL);
	const struct store_mailbox *mb = mb_get(store, "INBOX");
	CHECK(mb->messages == 1 && mb->unseen == 1 && mb->uidnext == 4);
	CHECK(mb_get(store, "Archive")->messages == 0);
	struct msgs m = { 0 };
	CHECK(store_messages(store, inbox, msgs_cb, &m, &error) == 0 && m.n == 1 && m.v[0].uid == 3);
	/* the damaged file is kept aside, not in bodies/ */
	snprintf(path, sizeof(path), "%s/alice/damaged/%s", test_root, h2);
	CHECK(exists(path));
	CHECK(body_files() == 1);

	memset(&rep, 0, sizeof(rep));
	CHECK(store_check(store, false, report_cb, &rep, &problems, &error) == 0);
	CHECK(problems == 0 && rep.lines == 0);
	/* the store works on */
	uint32_t uid;
	CHECK(append1(store, inbox, make_msg(0, "k4", "four"), 0, NULL, 0, &uid) == 0 && uid == 4);

	/* an orphan file is a problem for check, and repaired */
	char orphan[512];
	snprintf(orphan, sizeof(orphan), "%s/alice/bodies/cd/cd%062d", test_root, 7);
	snprintf(path, sizeof(path), "%s/alice/bodies/cd", test_root);
	mkdir(path, 0700);
	write_file(orphan, "orphan");
	CHECK(store_check(store, false, NULL, NULL, &problems, &error) == 0 && problems == 1);
	CHECK(store_check(store, true, NULL, NULL, &problems, &error) == 0 && problems == 1);
	CHECK(!exists(orphan));
	CHECK(store_check(store, false, NULL, NULL, &problems, &error) == 0 && problems == 0);
	store_close(&store);
	root_free();
}

static void test_recover(void)
{
	root_new();
	struct store *store = open_store();
	const char *error;
	uint64_t inbox = mailbox_id(store, "INBOX");
	CHECK(append1(store, inbox, make_msg(0, "v1", "one"), STORE_FLAG_SEEN, NULL, 0, NULL) == 0);
	CHECK(append1(store, inbox, make_msg(1, "v2", "two"), 0, NULL, 0, NULL) == 0);
	store_close(&store);
	char path[512];
	static const char *const files[] = { "store.db", "store.db-wal", "store.db-shm" };
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/alice/%s", test_root, files[i]);
		unlink(path);
	}
	store = open_store();
	CHECK(store != NULL);
	const struct store_mailbox *mb = mb_get(store, "Recovered");
	CHECK(mb->messages == 2 && mb->unseen == 2);
	CHECK(mb_get(store, "INBOX")->messages == 0);
	uint64_t rec = mailbox_id(store, "Recovered");
	struct pool *pool = pool_create(4096);
	struct store_msg_info info;
	CHECK(store_message_info(store, rec, 1, pool, &info, &error) == 1);
	CHECK(strstr(info.envelope, "\"v1\"") != NULL || strstr(info.envelope, "\"v2\"") != NULL);
	pool_destroy(&pool);
	unsigned problems = 99;
	CHECK(store_check(store, false, NULL, NULL, &problems, &error) == 0 && problems == 0);
	store_close(&store);
	/* reopening does not recover again */
	store = open_store();
	CHECK(mb_get(store, "Recovered")->messages == 2);
	store_close(&store);
	root_free();
}

int main(void)
{
	log_set_level(LOG_ERROR); /* test_recover warns on purpose */
	TEST_RUN(test_open_close_reopen);
	TEST_RUN(test_default_mailboxes);
	TEST_RUN(test_name_validation);
	TEST_RUN(test_create);
	TEST_RUN(test_delete);
	TEST_RUN(test_rename);
	TEST_RUN(test_subscriptions);
	TEST_RUN(test_append);
	TEST_RUN(test_message_info_rev1);
	TEST_RUN(test_messages_listing);
	TEST_RUN(test_set_flags);
	TEST_RUN(test_expunge);
	TEST_RUN(test_copy_move);
	TEST_RUN(test_uidvalidity);
	TEST_RUN(test_listeners);
	TEST_RUN(test_crash_sweep);
	TEST_RUN(test_check_repair);
	TEST_RUN(test_recover);
	return test_finish();
}
