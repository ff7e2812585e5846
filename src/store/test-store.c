/* test-store.c: unit tests of the embedded store (store.h): opening, mailbox names, create,
 * delete, rename, subscriptions, UIDVALIDITY, crash leftovers, check, repair and recovery,
 * \Recent claims and the schema migrations from version 1 and from version 4.
 * Messages, flags, copy and listeners are in test-store-message.c. Each test works in its own
 * temporary folder. */
#include <sqlite3.h>
#include <sys/wait.h>

#include "lib/log.h"
#include "lib/xmalloc.h"
#include "store/store-private.h"
#include "store/test-store-util.h"

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
		"&-", "[Gmail]/All", "Caf\xc3\xa9", "\xe3\x82\xac", /* NFC: U+00E9, U+30AC */
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
		"Cafe\xcc\x81",         /* not NFC: e + U+0301 COMBINING ACUTE */
		"\xe3\x82\xab\xe3\x82\x99", /* not NFC: U+30AB + U+3099 (NFC is U+30AC) */
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

static int64_t sql_int(sqlite3 *db, const char *sql);

/* the count of open handles in alice's store.lock (store.c), -1 absent */
static int64_t open_handles(void)
{
	char path[512];
	unsigned char b[8];
	snprintf(path, sizeof(path), "%s/alice/store.lock", test_root);
	int fd = open(path, O_RDONLY);
	ssize_t n = fd >= 0 ? pread(fd, b, sizeof(b), 16) : -1;
	if (fd >= 0)
		close(fd);
	if (n != (ssize_t)sizeof(b))
		return -1;
	int64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | b[i];
	return v;
}

static void test_crash_sweep(void)
{
	root_new();
	struct store *store = open_store();
	const char *error;
	uint64_t inbox = mailbox_id(store, "INBOX");
	CHECK(append1(store, inbox, make_msg(0, "keep", "keep me"), 0, NULL, 0, NULL) == 0);
	CHECK(open_handles() == 1);
	store_close(&store);
	CHECK(open_handles() == 0);
	/* what a crash leaves: a temporary file, and a complete body file never committed, by a
	 * process that dies mid-append while another handle is open */
	struct store *other = open_store();
	CHECK(other != NULL);
	char tmp[1024], orphan[1024], dir[512];
	snprintf(dir, sizeof(dir), "%s/alice/bodies/ab", test_root);
	snprintf(tmp, sizeof(tmp), "%s/.tmp.abcdef.123.1", dir);
	snprintf(orphan, sizeof(orphan), "%s/ab%062d", dir, 7);
	pid_t pid = fork();
	if (pid == 0) {
		struct store *crashing = open_store();
		mkdir(dir, 0700);
		write_file(tmp, "partial");
		write_file(orphan, "never committed");
		_exit(crashing != NULL ? 0 : 1); /* no store_close: as if killed */
	}
	int status = -1;
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	      WEXITSTATUS(status) == 0);
	CHECK(body_files() == 3);
	CHECK(open_handles() == 2);
	/* while another handle is open the sweep must not run (an append may be in flight) */
	store = open_store();
	CHECK(store != NULL);
	CHECK(exists(tmp) && exists(orphan));
	store_close(&store);
	store_close(&other);
	/* the dead handle was never closed: the next first opener sweeps */
	CHECK(open_handles() == 1);
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
	/* after clean closes only, the first open does not read the body folders (an orphan
	 * made behind the store's back stays); a store from before the counter is swept */
	CHECK(open_handles() == 0);
	mkdir(dir, 0700);
	write_file(orphan, "never committed");
	store = open_store();
	CHECK(exists(orphan));
	store_close(&store);
	char path[512];
	snprintf(path, sizeof(path), "%s/alice/store.lock", test_root);
	CHECK(truncate(path, 0) == 0);
	CHECK(open_handles() == -1);
	write_file(orphan, "never committed");
	store = open_store();
	CHECK(!exists(orphan));
	CHECK(open_handles() == 1);
	store_close(&store);
	root_free();
}

/* Parking and the open-handle count: a parked handle holds no lock, so it is not counted
 * (parking takes its count back); another process may then open first without a sweep; the
 * reopen is read-only and counts nothing, the first write counts the handle again; closing a
 * parked handle writes nothing; a store whose write lock someone else holds is not parked. */
static void test_park_count(void)
{
	root_new();
	struct store *a = open_store();
	const char *error;
	uint64_t inbox = mailbox_id(a, "INBOX");
	CHECK(append1(a, inbox, make_msg(0, "one", "one"), 0, NULL, 0, NULL) == 0);
	CHECK(open_handles() == 1);
	/* another holds the write lock: not parked now, nothing waited for */
	char path[512];
	snprintf(path, sizeof(path), "%s/alice/store.lock", test_root);
	int fd = open(path, O_RDWR);
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 1, .l_len = 1 };
	CHECK(fd >= 0 && fcntl(fd, F_OFD_SETLK, &fl) == 0);
	CHECK(store_park(a) == 0 && !store_is_parked(a) && open_handles() == 1);
	close(fd);
	CHECK(store_park(a) == 1 && store_is_parked(a) && open_handles() == 0);
	/* b opens first (a holds no lock): a clean count, no sweep; an orphan stays */
	char dir[512], orphan[1024];
	snprintf(dir, sizeof(dir), "%s/alice/bodies/ab", test_root);
	snprintf(orphan, sizeof(orphan), "%s/ab%062d", dir, 7);
	mkdir(dir, 0700);
	write_file(orphan, "never committed");
	struct store *b = open_store();
	CHECK(b != NULL && exists(orphan) && open_handles() == 1);
	unlink(orphan);
	/* a reads: reopened, not counted */
	struct msgs m = { 0 };
	CHECK(store_messages(a, inbox, msgs_cb, &m, &error) == 0 && m.n == 1);
	CHECK(!store_is_parked(a) && open_handles() == 1);
	/* a writes: counted again before the body file */
	CHECK(append1(a, inbox, make_msg(1, "two", "two"), 0, NULL, 0, NULL) == 0);
	CHECK(open_handles() == 2);
	store_close(&b);
	CHECK(open_handles() == 1);
	/* parked again and closed parked: the count it took back is not taken twice */
	CHECK(store_park(a) == 1 && open_handles() == 0);
	store_close(&a);
	CHECK(open_handles() == 0);
	/* parked, reopened, closed without writing: nothing to take back either */
	a = open_store();
	CHECK(a != NULL && open_handles() == 1);
	CHECK(store_park(a) == 1 && open_handles() == 0);
	CHECK(mailbox_id(a, "INBOX") == inbox && open_handles() == 0);
	store_close(&a);
	CHECK(open_handles() == 0);
	a = open_store();
	unsigned problems = 99;
	CHECK(store_check(a, false, NULL, NULL, &problems, &error) == 0 && problems == 0);
	store_close(&a);
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

/* ---- tests: query plans ---- */

/* Every statement's plan, asked of SQLite itself: none walks all the rows of a table that grows
 * with the mail (an index the planner passes over costs nothing in a small test store and
 * everything at 100k messages), and the changes since a MODSEQ come through their own index. */
static void test_query_plans(void)
{
	root_new();
	struct store *store = open_store();
	static const char *const big[] = {"message", "expunged", "body", "msgstate", "msgcount"};
	for (int id = 0; id < STMT_COUNT; id++) {
		sqlite3_stmt *stmt = store_stmt(store, (enum store_stmt)id);
		CHECK(stmt != NULL);
		if (stmt == NULL)
			continue;
		char *sql = sqlite3_mprintf("EXPLAIN QUERY PLAN %s", sqlite3_sql(stmt));
		sqlite3_stmt *plan;
		CHECK(sqlite3_prepare_v2(store->db, sql, -1, &plan, NULL) == SQLITE_OK);
		bool modseq_index = false;
		while (sqlite3_step(plan) == SQLITE_ROW) {
			const char *d = (const char *)sqlite3_column_text(plan, 3);
			for (size_t k = 0; k < sizeof(big) / sizeof(big[0]); k++) {
				char scan[64];
				snprintf(scan, sizeof(scan), "SCAN %s", big[k]);
				/* body_unindexed is partial: only the bodies still to index */
				if (strncmp(d, scan, strlen(scan)) == 0 &&
				    (d[strlen(scan)] == '\0' || d[strlen(scan)] == ' ') &&
				    strstr(d, "USING INDEX body_unindexed") == NULL) {
					fprintf(stderr, "statement %d: %s\n", id, d);
					CHECK(!"a statement scans a whole table");
				}
			}
			if (strstr(d, "INDEX expunged_modseq (mailbox_id=? AND modseq>?)"))
				modseq_index = true;
		}
		sqlite3_finalize(plan);
		sqlite3_free(sql);
		if (id == STMT_EXPUNGED_SINCE)
			CHECK(modseq_index);
	}
	store_close(&store);
	root_free();
}

/* ---- tests: \Recent (store_recent_claim, store_recent_count) ---- */

static void test_recent_claim(void)
{
	root_new();
	struct store *store = open_store();
	const char *error;
	uint64_t inbox = mailbox_id(store, "INBOX");
	CHECK(mb_get(store, "INBOX")->first_recent_uid == 1);
	uint32_t first = 0, count = 99;
	/* upto 0 only reads; an empty mailbox has nothing to count */
	CHECK(store_recent_claim(store, inbox, 0, &first, &error) == 0 && first == 1);
	CHECK(store_recent_count(store, inbox, 1, &count, &error) == 0 && count == 0);
	uint32_t uid;
	for (int i = 0; i < 3; i++) {
		char subject[16];
		snprintf(subject, sizeof(subject), "r%d", i);
		CHECK(append1(store, inbox, make_msg(0, subject, "recent"), 0, NULL, 0, &uid) == 0);
	}
	CHECK(uid == 3);
	CHECK(store_recent_count(store, inbox, 1, &count, &error) == 0 && count == 3);
	CHECK(store_recent_count(store, inbox, 3, &count, &error) == 0 && count == 1);
	CHECK(store_recent_claim(store, inbox, 0, &first, &error) == 0 && first == 1);
	CHECK(mb_get(store, "INBOX")->first_recent_uid == 1);
	/* the claim returns the old first unclaimed UID: [1, 4) are the caller's */
	CHECK(store_recent_claim(store, inbox, 4, &first, &error) == 0 && first == 1);
	CHECK(mb_get(store, "INBOX")->first_recent_uid == 4);
	CHECK(store_recent_count(store, inbox, 4, &count, &error) == 0 && count == 0);
	/* claiming again gives nothing new, and a smaller upto never moves it back */
	CHECK(store_recent_claim(store, inbox, 4, &first, &error) == 0 && first == 4);
	CHECK(store_recent_claim(store, inbox, 2, &first, &error) == 0 && first == 4);
	CHECK(store_recent_claim(store, inbox, 0, &first, &error) == 0 && first == 4);
	CHECK(mb_get(store, "INBOX")->first_recent_uid == 4);
	/* new messages: counted until claimed; a claim covers only below upto */
	CHECK(append1(store, inbox, make_msg(0, "r4", "recent"), 0, NULL, 0, &uid) == 0 && uid == 4);
	CHECK(append1(store, inbox, make_msg(0, "r5", "recent"), 0, NULL, 0, &uid) == 0 && uid == 5);
	CHECK(append1(store, inbox, make_msg(0, "r6", "recent"), 0, NULL, 0, &uid) == 0 && uid == 6);
	CHECK(store_recent_count(store, inbox, 4, &count, &error) == 0 && count == 3);
	CHECK(store_recent_claim(store, inbox, 5, &first, &error) == 0 && first == 4);
	CHECK(mb_get(store, "INBOX")->first_recent_uid == 5);
	CHECK(store_recent_count(store, inbox, 5, &count, &error) == 0 && count == 2);
	/* expunged messages are not counted */
	uint32_t gone = 5;
	CHECK(store_expunge(store, inbox, &gone, 1, NULL, NULL, &error) == 0);
	CHECK(store_recent_count(store, inbox, 5, &count, &error) == 0 && count == 1);
	/* other mailboxes are apart */
	uint64_t sent = mailbox_id(store, "Sent");
	CHECK(store_recent_claim(store, sent, 0, &first, &error) == 0 && first == 1);
	CHECK(store_recent_count(store, sent, 1, &count, &error) == 0 && count == 0);
	/* an unknown mailbox */
	CHECK(store_recent_claim(store, 999999, 0, &first, &error) < 0 && error != NULL);
	CHECK(store_last_error(store) == STORE_ERR_NOT_FOUND);
	CHECK(store_recent_claim(store, 999999, 10, &first, &error) < 0);
	CHECK(store_last_error(store) == STORE_ERR_NOT_FOUND);
	/* the store still works (the claim's transaction was rolled back) */
	CHECK(store_recent_claim(store, inbox, 7, &first, &error) == 0 && first == 5);
	store_close(&store);
	/* the claim is kept across a reopen */
	store = open_store();
	CHECK(mb_get(store, "INBOX")->first_recent_uid == 7);
	CHECK(store_recent_count(store, inbox, 7, &count, &error) == 0 && count == 0);
	unsigned problems = 99;
	CHECK(store_check(store, false, NULL, NULL, &problems, &error) == 0 && problems == 0);
	store_close(&store);
	root_free();
}

/* The schema of version 1 (src/store/store-db.c, before first_recent_uid): a store written by
 * that kura must open, gain the column with 1 (every message recent once more) and keep the
 * rest. */
static const char store_schema_v1[] =
	"CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE mailbox ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" name TEXT NOT NULL UNIQUE,"
	" uidvalidity INTEGER NOT NULL,"
	" uidnext INTEGER NOT NULL,"
	" highestmodseq INTEGER NOT NULL,"
	" special_use INTEGER NOT NULL,"
	" keywords TEXT NOT NULL,"
	" messages INTEGER NOT NULL,"
	" unseen INTEGER NOT NULL,"
	" deleted INTEGER NOT NULL,"
	" size INTEGER NOT NULL,"
	" created INTEGER NOT NULL);"
	"CREATE TABLE body ("
	" id INTEGER PRIMARY KEY,"
	" hash TEXT NOT NULL UNIQUE,"
	" size INTEGER NOT NULL,"
	" refs INTEGER NOT NULL,"
	" envelope BLOB NOT NULL,"
	" bodystructure BLOB NOT NULL,"
	" body BLOB NOT NULL,"
	" bodystructure_rev1 BLOB,"
	" body_rev1 BLOB);"
	"CREATE INDEX body_unreferenced ON body(refs) WHERE refs <= 0;"
	"CREATE TABLE message ("
	" mailbox_id INTEGER NOT NULL REFERENCES mailbox(id),"
	" uid INTEGER NOT NULL,"
	" body_id INTEGER NOT NULL REFERENCES body(id),"
	" size INTEGER NOT NULL,"
	" flags INTEGER NOT NULL,"
	" keywords INTEGER NOT NULL,"
	" modseq INTEGER NOT NULL,"
	" internal_date INTEGER NOT NULL,"
	" internal_tz INTEGER NOT NULL,"
	" saved_date INTEGER NOT NULL,"
	" PRIMARY KEY (mailbox_id, uid)) WITHOUT ROWID;"
	"CREATE INDEX message_modseq ON message(mailbox_id, modseq);"
	"CREATE INDEX message_body ON message(body_id);"
	"CREATE TABLE expunged ("
	" mailbox_id INTEGER NOT NULL REFERENCES mailbox(id),"
	" uid INTEGER NOT NULL,"
	" modseq INTEGER NOT NULL,"
	" PRIMARY KEY (mailbox_id, uid)) WITHOUT ROWID;"
	"CREATE TABLE subscription (name TEXT PRIMARY KEY NOT NULL) WITHOUT ROWID;";

static int64_t sql_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *stmt;
	int64_t v = -1;
	if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK)
		return -2;
	if (sqlite3_step(stmt) == SQLITE_ROW)
		v = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	return v;
}

static void test_migrate_v1(void)
{
	root_new();
	char path[512];
	snprintf(path, sizeof(path), "%s/alice", test_root);
	CHECK(mkdir(path, 0700) == 0);
	snprintf(path, sizeof(path), "%s/alice/store.db", test_root);
	sqlite3 *db;
	CHECK(sqlite3_open(path, &db) == SQLITE_OK);
	CHECK(sqlite3_exec(db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL) == SQLITE_OK);
	CHECK(sqlite3_exec(db, "CREATE TABLE schema_version (version INTEGER NOT NULL);"
			       "INSERT INTO schema_version (version) VALUES (1);",
			   NULL, NULL, NULL) == SQLITE_OK);
	CHECK(sqlite3_exec(db, store_schema_v1, NULL, NULL, NULL) == SQLITE_OK);
	CHECK(sqlite3_exec(db, "INSERT INTO meta (key, value) VALUES ('uidvalidity', 1000);"
			       "INSERT INTO mailbox (name, uidvalidity, uidnext, highestmodseq,"
			       " special_use, keywords, messages, unseen, deleted, size, created)"
			       " VALUES ('INBOX', 999, 1, 1, 0, '', 0, 0, 0, 0, 0),"
			       " ('Old', 1000, 7, 9, 0, '$Done', 0, 0, 0, 0, 0);"
			       "INSERT INTO subscription (name) VALUES ('INBOX');",
			   NULL, NULL, NULL) == SQLITE_OK);
	/* no first_recent_uid yet */
	CHECK(sql_int(db, "SELECT first_recent_uid FROM mailbox") == -2);
	sqlite3_close(db);

	struct store *store = open_store();
	CHECK(store != NULL);
	if (store == NULL) {
		root_free();
		return;
	}
	const char *error;
	const struct store_mailbox *mb = mb_get(store, "INBOX");
	CHECK(mb->id != 0 && mb->uidvalidity == 999 && mb->uidnext == 1 && mb->subscribed);
	CHECK(mb->first_recent_uid == 1);
	mb = mb_get(store, "Old");
	CHECK(mb->uidvalidity == 1000 && mb->uidnext == 7 && mb->keyword_count == 1);
	CHECK(mb->first_recent_uid == 1);
	/* no default mailboxes added to an existing store */
	CHECK(mailbox_id(store, "Sent") == 0);
	/* the migrated store works: a new message is unclaimed, then claimed */
	uint64_t old = mailbox_id(store, "Old");
	uint32_t uid = 0, first = 0, count = 0;
	CHECK(append1(store, old, make_msg(0, "m1", "after the migration"), 0, NULL, 0, &uid) == 0);
	CHECK(uid == 7);
	CHECK(store_recent_count(store, old, mb_get(store, "Old")->first_recent_uid, &count,
				 &error) == 0 && count == 1);
	CHECK(store_recent_claim(store, old, uid + 1, &first, &error) == 0 && first == 1);
	CHECK(mb_get(store, "Old")->first_recent_uid == 8);
	store_close(&store);

	CHECK(sqlite3_open(path, &db) == SQLITE_OK);
	/* and every later migration ran as well */
	CHECK(sql_int(db, "SELECT version FROM schema_version") == STORE_SCHEMA_VERSION);
	CHECK(sql_int(db, "SELECT COUNT(*) FROM schema_version") == 1);
	CHECK(sql_int(db, "SELECT \"notnull\" FROM pragma_table_info('mailbox')"
			  " WHERE name = 'first_recent_uid'") == 1);
	CHECK(sql_int(db, "SELECT dflt_value FROM pragma_table_info('mailbox')"
			  " WHERE name = 'first_recent_uid'") == 1);
	CHECK(sql_int(db, "SELECT first_recent_uid FROM mailbox WHERE name = 'INBOX'") == 1);
	/* the search index (5) and the packed state (6): the flag columns are gone */
	CHECK(sql_int(db, "SELECT count(*) FROM sqlite_master WHERE name IN ('search_text',"
			  " 'msgstate', 'expunged_modseq')") == 3);
	CHECK(sql_int(db, "SELECT count(*) FROM pragma_table_info('message')"
			  " WHERE name IN ('flags', 'keywords', 'modseq')") == 0);
	CHECK(sql_int(db, "SELECT count(*) FROM msgstate") == 1);
	sqlite3_close(db);
	/* version 2 now: opening again runs no migration; a new mailbox starts at 1 too */
	store = open_store();
	CHECK(store != NULL);
	if (store != NULL) {
		CHECK(mb_get(store, "Old")->first_recent_uid == 8);
		CHECK(store_mailbox_create(store, "New", 0, &error) == 0);
		CHECK(mb_get(store, "New")->first_recent_uid == 1);
		unsigned problems = 99;
		CHECK(store_check(store, false, NULL, NULL, &problems, &error) == 0 && problems == 0);
		store_close(&store);
	}
	root_free();
}

/* Version 4 to 6: 5 adds the search index (its own test in test-store-search.c); 6 builds the
 * packed state from the rows' flags, keywords and MODSEQs in every mailbox (more than one
 * chunk here); those columns and message_modseq go. */
static void test_migrate_v4(void)
{
	root_new();
	struct store *store = open_store();
	const char *error;
	uint64_t inbox = mailbox_id(store, "INBOX"), arch = mailbox_id(store, "Archive");
	enum { N = 1500 };
	char (*texts)[48] = xmalloc(N * sizeof(*texts));
	struct store_append *msgs = xcalloc(N, sizeof(*msgs));
	static const char *const kw[] = { "$Done" };
	for (int i = 0; i < N; i++) {
		int len = snprintf(texts[i], sizeof(texts[i]), "Subject: %d\r\n\r\nx\r\n", i);
		msgs[i] = (struct store_append){ .data = (const unsigned char *)texts[i],
						 .size = (size_t)len,
						 .flags = (uint8_t)(i % 4 == 0 ? STORE_FLAG_SEEN : 0),
						 .keywords = kw, .keyword_count = i % 7 == 0 };
	}
	CHECK(store_append(store, inbox, msgs, N, NULL, NULL, &error) == 0);
	CHECK(store_append(store, arch, msgs, 3, NULL, NULL, &error) == 0);
	CHECK(store_expunge(store, inbox, (uint32_t[]){ 2, 1100 }, 2, NULL, NULL, &error) == 0);
	struct msgs before = { 0 };
	CHECK(store_changes_since(store, inbox, 0, &mb_buf, msgs_cb, NULL, &before, &error) == 1);
	store_close(&store);

	/* back to version 4 as that kura left it: flags, keywords and MODSEQ in the rows (here
	 * a pattern of our own, which the migration must carry over) */
	char path[512];
	sqlite3 *db;
	snprintf(path, sizeof(path), "%s/alice/store.db", test_root);
	CHECK(sqlite3_open(path, &db) == SQLITE_OK);
	CHECK(sqlite3_exec(db, "DROP TABLE msgstate;"
			       /* and the search index of version 5 */
			       "DROP TRIGGER body_search_gc; DROP TRIGGER body_search_reuse;"
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
			       "ALTER TABLE message ADD COLUMN flags INTEGER NOT NULL DEFAULT 0;"
			       "ALTER TABLE message ADD COLUMN keywords INTEGER NOT NULL DEFAULT 0;"
			       "ALTER TABLE message ADD COLUMN modseq INTEGER NOT NULL DEFAULT 1;"
			       "CREATE INDEX message_modseq ON message(mailbox_id, modseq);"
			       "UPDATE message SET flags = uid % 32, keywords = uid % 3 = 0,"
			       " modseq = 1 + uid % 5;"
			       "UPDATE mailbox SET highestmodseq = 9,"
			       " unseen = (SELECT count(*) FROM message m WHERE m.mailbox_id = mailbox.id"
			       "  AND m.flags % 2 = 0),"
			       " deleted = (SELECT count(*) FROM message m WHERE m.mailbox_id = mailbox.id"
			       "  AND m.flags & 8);"
			       "UPDATE schema_version SET version = 4;",
			   NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(db);

	store = open_store();
	CHECK(store != NULL);
	if (store == NULL) {
		root_free();
		return;
	}
	struct msgs after = { 0 };
	CHECK(store_changes_since(store, inbox, 0, &mb_buf, msgs_cb, NULL, &after, &error) == 1);
	CHECK(after.n == 256 && before.n == 256);
	for (int i = 0; i < after.n; i++) {
		uint32_t uid = before.v[i].uid;
		CHECK(after.v[i].uid == uid && after.v[i].flags == uid % 32 &&
		      after.v[i].keywords == (uid % 3 == 0) && after.v[i].modseq == 1 + uid % 5);
	}
	/* and the last chunk too */
	struct store_flag_change ch = { .mode = STORE_FLAGS_ADD, .flags = STORE_FLAG_SEEN };
	struct msgs changed = { 0 };
	CHECK(store_set_flags(store, inbox, (uint32_t[]){ 1100, 1101, 1500 }, 3, &ch, msgs_cb,
			      NULL, &changed, &error) == 0);
	CHECK(changed.n == 2 && changed.v[0].uid == 1101 && changed.v[1].uid == 1500);
	/* 1101 had \Seen already (touched, MODSEQ kept); 1500 had not */
	CHECK(changed.v[0].flags == 1101 % 32 && changed.v[0].modseq == 1 + 1101 % 5);
	CHECK(changed.v[1].flags == ((1500 % 32) | STORE_FLAG_SEEN) && changed.v[1].modseq == 10);
	unsigned problems = 99;
	CHECK(store_check(store, false, NULL, NULL, &problems, &error) == 0 && problems == 0);
	/* version 5 left every body unindexed; the open does not index them (it must stay
	 * cheap), idle time does */
	int bodies = sql_int(store->db, "SELECT count(*) FROM body");
	CHECK(sql_int(store->db, "SELECT count(*) FROM body WHERE search_state = 0") ==
	      bodies);
	CHECK(store_index_pending(store, 1000, &error) == 1000);
	CHECK(store_index_pending(store, 100000, &error) == bodies - 1000);
	CHECK(store_index_pending(store, 100000, &error) == 0);
	store_close(&store);
	CHECK(sqlite3_open(path, &db) == SQLITE_OK);
	CHECK(sql_int(db, "SELECT version FROM schema_version") == STORE_SCHEMA_VERSION);
	CHECK(sql_int(db, "SELECT count(*) FROM msgstate m JOIN mailbox b ON b.id = m.mailbox_id"
			  " WHERE b.name = 'INBOX'") == 2);
	CHECK(sql_int(db, "SELECT count(*) FROM sqlite_master WHERE name = 'message_modseq'") ==
	      0);
	CHECK(sql_int(db, "SELECT count(*) FROM pragma_table_info('message')"
			  " WHERE name IN ('flags', 'keywords', 'modseq')") == 0);
	/* version 5 ran on the way: every body indexed by now */
	CHECK(sql_int(db, "SELECT count(*) FROM body WHERE search_state != 1") == 0);
	CHECK(sql_int(db, "SELECT count(*) FROM search_text") ==
	      sql_int(db, "SELECT count(*) FROM body"));
	sqlite3_close(db);
	free(texts);
	free(msgs);
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
	TEST_RUN(test_uidvalidity);
	TEST_RUN(test_crash_sweep);
	TEST_RUN(test_park_count);
	TEST_RUN(test_check_repair);
	TEST_RUN(test_recover);
	TEST_RUN(test_recent_claim);
	TEST_RUN(test_query_plans);
	TEST_RUN(test_migrate_v1);
	TEST_RUN(test_migrate_v4);
	return test_finish();
}
