/* test-store-park.c: parking (store-park.c): every kind of store call works on a parked store
 * (reopening it), commits by another handle while parked are heard, busy stores are never
 * parked, and a pool keeps at most its limit open, least recently used parked first; a pool
 * that keeps the WAL on parking loses no commit. */
#include "store/test-store-util.h"

#include "lib/log.h"
#include "store/store-private.h"
#include "store/store-search.h"

static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	if (d == NULL)
		return -1;
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n - 1; /* the directory's own fd */
}

static struct store *open_user(const char *user)
{
	struct store *store = NULL;
	const char *error = NULL;
	if (store_open(test_root, user, &store, &error) < 0)
		printf("  store_open %s: %s\n", user, error);
	return store;
}

struct heard {
	int told;
	uint64_t last_mailbox;
	struct store *store;
	int park_result; /* store_park from inside the callback */
};

static void heard_changed(void *ctx, uint64_t mailbox_id)
{
	struct heard *h = ctx;
	h->told++;
	h->last_mailbox = mailbox_id;
	if (h->store != NULL)
		h->park_result = store_park(h->store);
}

/* Park before each kind of call; each works and leaves the store open. */
static void test_park_every_call(void)
{
	root_new();
	int fds0 = open_fds();
	struct store *store = open_store();
	CHECK(store != NULL);
	int fds_open = open_fds();
	CHECK(fds_open - fds0 >= 5);
	const char *error;
	uint64_t inbox = mailbox_id(store, "INBOX");
	CHECK(inbox != 0);

	/* append */
	CHECK(store_park(store) == 1 && store_is_parked(store));
	CHECK(open_fds() == fds0);
	CHECK(store_park(store) == 0); /* already */
	uint32_t uid1 = 0, uid2 = 0;
	CHECK(append1(store, inbox, make_msg(0, "one", "first body"), 0, NULL, 0, &uid1) == 0);
	CHECK(!store_is_parked(store) && uid1 == 1);
	CHECK(store_park(store) == 1);
	const char *kw[] = { "$Work" };
	CHECK(append1(store, inbox, make_msg(1, "two", "second body"), 0, kw, 1, &uid2) == 0);
	CHECK(uid2 == 2);

	/* message info, and a body fd that outlives a park */
	CHECK(store_park(store) == 1);
	char body_id[65];
	CHECK(body_id_of(store, inbox, uid1, body_id) == 1);
	CHECK(store_park(store) == 1);
	int bfd = store_body_open(store, body_id, &error);
	CHECK(bfd >= 0);
	CHECK(store_park(store) == 1);
	char buf[16];
	CHECK(bfd >= 0 && pread(bfd, buf, 5, 0) == 5 && memcmp(buf, "From:", 5) == 0);
	if (bfd >= 0)
		close(bfd);

	/* listing, mailboxes (still parked since the body open) */
	CHECK(store_is_parked(store));
	struct msgs m = { .n = 0 };
	CHECK(store_messages(store, inbox, msgs_cb, &m, &error) == 0 && m.n == 2);
	CHECK(store_park(store) == 1);
	struct names n = { .n = 0 };
	CHECK(store_mailbox_list(store, names_mb_cb, &n, &error) == 0 && names_has(&n, "Sent"));
	CHECK(store_park(store) == 1);
	CHECK(store_mailbox_create(store, "Projects", 0, &error) == 0);
	CHECK(store_park(store) == 1);
	CHECK(mb_get(store, "INBOX")->messages == 2);

	/* flags */
	CHECK(store_park(store) == 1);
	uint32_t uids[] = { uid1 };
	struct store_flag_change fc = { .mode = STORE_FLAGS_ADD, .flags = STORE_FLAG_SEEN };
	m.n = 0;
	CHECK(store_set_flags(store, inbox, uids, 1, &fc, msgs_cb, NULL, &m, &error) == 0);
	CHECK(m.n == 1 && (m.v[0].flags & STORE_FLAG_SEEN) != 0);

	/* changes since */
	CHECK(store_park(store) == 1);
	struct store_mailbox mb;
	m.n = 0;
	CHECK(store_changes_since(store, inbox, 0, &mb, msgs_cb, NULL, &m, &error) == 1);
	CHECK(m.n == 2 && mb.messages == 2);

	/* search and sort */
	CHECK(store_park(store) == 1);
	struct store_search_node all = { .key = STORE_SEARCH_BODY, .str = "second", .len = 6 };
	struct uids u = { .n = 0 };
	CHECK(store_search(store, inbox, &all, uids_cb, &u, &error) == 0);
	CHECK(u.n == 1 && u.v[0] == uid2);
	CHECK(store_park(store) == 1);
	struct store_sort_criterion crit = { STORE_SORT_SUBJECT, false };
	uint32_t both[] = { uid1, uid2 };
	struct store_sort *sort;
	CHECK(store_sort_begin(store, inbox, &crit, 1, both, 2, &sort, &error) == 0);
	const uint32_t *sorted = NULL;
	size_t count = 0;
	int r;
	while ((r = store_sort_run(sort, 1000, &sorted, &count, &error)) == 0)
		;
	CHECK(r == 1 && count == 2 && sorted[0] == uid1); /* "one" < "two" */
	store_sort_end(&sort);

	/* copy and expunge */
	CHECK(store_park(store) == 1);
	uint64_t proj = mailbox_id(store, "Projects");
	CHECK(store_park(store) == 1);
	uint32_t src[1], dst[1], uidv;
	size_t copied;
	CHECK(store_copy(store, inbox, uids, 1, proj, false, src, dst, &copied, &uidv, &error) ==
	      0);
	CHECK(copied == 1);
	CHECK(store_park(store) == 1);
	u.n = 0;
	CHECK(store_expunge(store, inbox, uids, 1, uids_cb, &u, &error) == 0);
	CHECK(u.n == 1 && u.v[0] == uid1);
	CHECK(store_park(store) == 1);
	u.n = 0;
	CHECK(store_changes_since(store, inbox, 0, &mb, NULL, uids_cb, &u, &error) == 1);
	CHECK(u.n == 1 && mb.messages == 1);

	/* check (a transaction plus the body files) */
	CHECK(store_park(store) == 1);
	unsigned problems = 99;
	CHECK(store_check(store, false, NULL, NULL, &problems, &error) == 0 && problems == 0);

	CHECK(open_fds() == fds_open);
	CHECK(store_park(store) == 1);
	store_close(&store);
	CHECK(open_fds() == fds0);
	root_free();
}

/* Another handle (another process) commits while a is parked: a's listeners hear it from
 * store_refresh without a reopen, and a reads the change after it reopens. */
static void test_park_other_commit(void)
{
	root_new();
	struct store *a = open_store(), *b = open_store();
	CHECK(a != NULL && b != NULL);
	const char *error;
	uint64_t inbox = mailbox_id(a, "INBOX");
	struct heard h = { .store = NULL };
	struct store_listener l = { .mailbox_id = inbox, .changed = heard_changed, .ctx = &h };
	h.store = a;
	store_listener_add(a, &l);
	h.park_result = -1;

	CHECK(store_refresh(a) == 0 && h.told == 0);
	/* parked, b commits: refresh tells a's listeners and leaves it parked */
	CHECK(store_park(a) == 1);
	CHECK(append1(b, inbox, make_msg(0, "b1", "from b"), 0, NULL, 0, NULL) == 0);
	CHECK(store_refresh(a) == 1 && h.told == 1 && store_is_parked(a));
	h.store = NULL; /* no parking from the callback from here on */
	struct store_mailbox mb;
	struct msgs m = { .n = 0 };
	CHECK(store_changes_since(a, inbox, 0, &mb, msgs_cb, NULL, &m, &error) == 1);
	CHECK(m.n == 1 && mb.messages == 1 && !store_is_parked(a));

	/* b commits while a is parked, and a is reopened by a command before the notification
	 * comes: the first refresh after the reopen still says "may have changed" */
	CHECK(store_park(a) == 1);
	CHECK(append1(b, inbox, make_msg(0, "b2", "from b again"), 0, NULL, 0, NULL) == 0);
	CHECK(mb_get(a, "INBOX")->messages == 2);
	int told = h.told;
	CHECK(store_refresh(a) == 1 && h.told == told + 1);
	/* and then only real changes */
	CHECK(store_refresh(a) == 0 && h.told == told + 1);
	CHECK(append1(b, inbox, make_msg(0, "b3", "third from b"), 0, NULL, 0, NULL) == 0);
	CHECK(store_refresh(a) == 1 && h.told == told + 2);
	CHECK(store_refresh(a) == 0);

	/* a's own commit after a reopen: heard directly */
	CHECK(store_park(a) == 1);
	told = h.told;
	CHECK(append1(a, inbox, make_msg(0, "a1", "from a"), 0, NULL, 0, NULL) == 0);
	CHECK(h.told == told + 1);

	/* b parked too, both write in turn */
	CHECK(store_park(a) == 1 && store_park(b) == 1);
	CHECK(append1(b, inbox, make_msg(0, "b4", "b four"), 0, NULL, 0, NULL) == 0);
	CHECK(store_park(b) == 1);
	CHECK(append1(a, inbox, make_msg(0, "a2", "a two"), 0, NULL, 0, NULL) == 0);
	CHECK(mb_get(b, "INBOX")->messages == 6);
	store_listener_remove(a, &l);
	store_close(&a);
	store_close(&b);
	root_free();
}

static int count_uid_cb(void *ctx, uint32_t uid)
{
	(void)uid;
	(*(int *)ctx)++;
	return 0;
}

/* Busy stores are not parked: in a transaction, with a search or sort handle, inside a
 * listener callback. */
static void test_park_busy(void)
{
	root_new();
	struct store *store = open_store();
	CHECK(store != NULL);
	const char *error;
	uint64_t inbox = mailbox_id(store, "INBOX");
	CHECK(append1(store, inbox, make_msg(0, "x", "y"), 0, NULL, 0, NULL) == 0);

	/* a transaction */
	CHECK(store_tx_begin(store) == 0);
	CHECK(store_park(store) == 0 && !store_is_parked(store));
	store_tx_rollback(store);
	CHECK(store_park(store) == 1);

	/* a search handle (reopens at begin) */
	struct store_search_node all = { .key = STORE_SEARCH_ALL };
	struct store_search *s;
	CHECK(store_search_begin(store, inbox, &all, &s, &error) == 0);
	CHECK(store_park(store) == 0);
	int found = 0;
	int r;
	while ((r = store_search_run(s, 1000, count_uid_cb, &found, &error)) == 0)
		;
	CHECK(r == 1 && found == 1);
	CHECK(store_park(store) == 0);
	store_search_end(&s);
	CHECK(store_park(store) == 1);

	/* a sort handle (begins on a parked store) */
	struct store_sort_criterion crit = { STORE_SORT_ARRIVAL, false };
	uint32_t one = 1;
	struct store_sort *sort;
	CHECK(store_sort_begin(store, inbox, &crit, 1, &one, 1, &sort, &error) == 0);
	CHECK(!store_is_parked(store));
	CHECK(store_park(store) == 0);
	store_sort_end(&sort);

	/* inside a listener */
	struct heard h = { .store = store, .park_result = -1 };
	struct store_listener l = { .mailbox_id = 0, .changed = heard_changed, .ctx = &h };
	store_listener_add(store, &l);
	CHECK(append1(store, inbox, make_msg(0, "z", "w"), 0, NULL, 0, NULL) == 0);
	CHECK(h.told == 1 && h.park_result == 0);
	store_listener_remove(store, &l);
	CHECK(store_park(store) == 1);
	store_close(&store);
	root_free();
}

/* A pool keeps at most open_max open: least recently used parked first; idle parking. */
static void test_pool(void)
{
	root_new();
	int fds0 = open_fds();
	struct store_pool *pool = store_pool_create(2);
	struct store *s[4];
	const char *names[4] = { "u0", "u1", "u2", "u3" };
	unsigned open, parked;
	for (int i = 0; i < 4; i++) {
		s[i] = open_user(names[i]);
		CHECK(s[i] != NULL);
		if (s[i] != NULL)
			store_pool_add(pool, s[i]);
	}
	store_pool_counts(pool, &open, &parked);
	CHECK(open == 2 && parked == 2);
	CHECK(store_is_parked(s[0]) && store_is_parked(s[1]));
	CHECK(!store_is_parked(s[2]) && !store_is_parked(s[3]));
	int fds2 = open_fds();
	/* using u0 reopens it and parks the least recently used (u2) */
	CHECK(mailbox_id(s[0], "INBOX") != 0);
	CHECK(!store_is_parked(s[0]) && store_is_parked(s[2]) && !store_is_parked(s[3]));
	CHECK(open_fds() == fds2);
	/* u3 used, then u1 reopened: u0 goes */
	CHECK(mailbox_id(s[3], "INBOX") != 0);
	CHECK(append1(s[1], mailbox_id(s[1], "INBOX"), make_msg(0, "p", "q"), 0, NULL, 0,
		      NULL) == 0);
	CHECK(store_is_parked(s[0]) && !store_is_parked(s[1]) && !store_is_parked(s[3]));
	store_pool_counts(pool, &open, &parked);
	CHECK(open == 2 && parked == 2);
	/* a busy store is skipped: over the limit for a while rather than parking it */
	CHECK(store_tx_begin(s[1]) == 0);
	CHECK(store_tx_begin(s[3]) == 0);
	CHECK(mailbox_id(s[0], "INBOX") != 0);
	store_pool_counts(pool, &open, &parked);
	CHECK(open == 3 && !store_is_parked(s[1]) && !store_is_parked(s[3]));
	store_tx_rollback(s[1]);
	store_tx_rollback(s[3]);
	/* idle parking: everything used "0 seconds ago or more" */
	CHECK(store_pool_park_idle(pool, 3600) == 0);
	CHECK(store_pool_park_idle(pool, 0) == 3);
	store_pool_counts(pool, &open, &parked);
	CHECK(open == 0 && parked == 4);
	CHECK(open_fds() == fds0);
	/* shedding for lack of fds */
	CHECK(mailbox_id(s[2], "INBOX") != 0);
	CHECK(store_pool_shed(pool, s[2]) == 0);
	CHECK(store_pool_shed(pool, NULL) == 1 && store_is_parked(s[2]));
	/* closing leaves the pool */
	store_close(&s[0]);
	store_pool_counts(pool, &open, &parked);
	CHECK(open == 0 && parked == 3);
	CHECK(mailbox_id(s[1], "INBOX") != 0);
	/* the pool goes first: its stores stay usable, no longer parked by it */
	store_pool_destroy(&pool);
	CHECK(mailbox_id(s[3], "INBOX") != 0);
	for (int i = 1; i < 4; i++)
		store_close(&s[i]);
	CHECK(open_fds() == fds0);
	root_free();
}

static off_t wal_size(const char *user)
{
	char path[256];
	struct stat st;
	snprintf(path, sizeof(path), "%s/%s/store.db-wal", test_root, user);
	return stat(path, &st) == 0 ? st.st_size : -1;
}

/* store_pool_keep_wal: parking the only connection leaves the WAL (no checkpoint on close);
 * without it the WAL is checkpointed and removed. Either way every commit is there after a
 * reopen and for a fresh store_open. */
static void test_pool_keep_wal(void)
{
	root_new();
	struct store_pool *keep = store_pool_create(0), *plain = store_pool_create(0);
	store_pool_keep_wal(keep, true);
	struct store *k = open_user("k"), *p = open_user("p");
	CHECK(k != NULL && p != NULL);
	if (k == NULL || p == NULL)
		return;
	store_pool_add(keep, k);
	store_pool_add(plain, p);
	for (int round = 1; round <= 3; round++) {
		CHECK(append1(k, mailbox_id(k, "INBOX"), make_msg(0, "k", "body k"), 0, NULL, 0,
			      NULL) == 0);
		CHECK(append1(p, mailbox_id(p, "INBOX"), make_msg(1, "p", "body p"), 0, NULL, 0,
			      NULL) == 0);
		CHECK(store_park(k) == 1 && store_park(p) == 1);
		CHECK(wal_size("k") > 0);
		CHECK(wal_size("p") <= 0);
		CHECK(mb_get(k, "INBOX")->messages == (uint32_t)round);
		CHECK(mb_get(p, "INBOX")->messages == (uint32_t)round);
	}
	store_pool_destroy(&keep);
	store_pool_destroy(&plain);
	CHECK(store_park(k) == 1); /* without a pool: checkpointed as usual */
	store_close(&k);
	store_close(&p);
	k = open_user("k");
	CHECK(k != NULL && mb_get(k, "INBOX")->messages == 3);
	store_close(&k);
	root_free();
}

/* store_pool_reserve makes room before a store opens: a full pool parks its least recently
 * used store first (never keep), so open_max also holds while the new one opens. */
static void test_pool_reserve(void)
{
	root_new();
	struct store_pool *pool = store_pool_create(2);
	struct store *s[3] = {open_user("r0"), open_user("r1"), NULL};
	unsigned open, parked;
	CHECK(s[0] != NULL && s[1] != NULL);
	if (s[0] == NULL || s[1] == NULL)
		return;
	store_pool_add(pool, s[0]);
	store_pool_add(pool, s[1]);
	store_pool_reserve(pool, s[0]); /* r0 is the least recently used, but kept: r1 goes */
	CHECK(!store_is_parked(s[0]) && store_is_parked(s[1]));
	store_pool_reserve(pool, NULL); /* room already */
	store_pool_counts(pool, &open, &parked);
	CHECK(open == 1 && parked == 1);
	s[2] = open_user("r2");
	CHECK(s[2] != NULL);
	if (s[2] != NULL)
		store_pool_add(pool, s[2]);
	/* full again (r0, r2): reopening r1 makes its room the same way, r0 goes */
	CHECK(mailbox_id(s[1], "INBOX") != 0);
	store_pool_counts(pool, &open, &parked);
	CHECK(open == 2 && parked == 1 && store_is_parked(s[0]));
	CHECK(!store_is_parked(s[1]) && !store_is_parked(s[2]));
	for (int i = 0; i < 3; i++)
		store_close(&s[i]);
	store_pool_destroy(&pool);
	root_free();
}

static int cache_used(struct store *store)
{
	int cur = -1, hi;
	sqlite3_db_status(store->db, SQLITE_DBSTATUS_CACHE_USED, &cur, &hi, 0);
	return cur;
}

static int prepared(struct store *store)
{
	int n = 0;
	for (size_t i = 0; i < STMT_COUNT; i++)
		n += store->stmts[i] != NULL;
	return n;
}

static int count_msg_cb(void *ctx, const struct store_msg *m)
{
	(void)m;
	(*(int *)ctx)++;
	return 0;
}

/* Shrinking gives back the page cache and the statements of stores idle long enough, once per
 * idle spell, never of a busy one; the store stays open (no fd closed) and works on. */
static void test_pool_shrink(void)
{
	root_new();
	store_library_init(); /* too late here (SQLite is initialized): harmless, changes nothing */
	struct store_pool *pool = store_pool_create(0);
	struct store *s[2] = {open_user("k0"), open_user("k1")};
	CHECK(s[0] != NULL && s[1] != NULL);
	if (s[0] == NULL || s[1] == NULL)
		return;
	const char *error;
	uint64_t inbox[2];
	for (int i = 0; i < 2; i++) {
		store_pool_add(pool, s[i]);
		inbox[i] = mailbox_id(s[i], "INBOX");
		CHECK(append1(s[i], inbox[i], make_msg(0, "a", "b"), 0, NULL, 0, NULL) == 0);
		CHECK(cache_used(s[i]) > 0 && prepared(s[i]) > 0);
	}
	/* just used: not idle for an hour */
	CHECK(store_pool_shrink_idle(pool, 3600) == 0);
	CHECK(cache_used(s[0]) > 0 && prepared(s[0]) > 0);
	int fds = open_fds();
	int before[2] = {cache_used(s[0]), cache_used(s[1])};
	CHECK(store_pool_shrink_idle(pool, 0) == 2);
	for (int i = 0; i < 2; i++) {
		/* what stays is the cache's own structure (about 14 KiB of 120 KiB here) */
		CHECK(cache_used(s[i]) < before[i] / 2 && prepared(s[i]) == 0);
		CHECK(!store_is_parked(s[i]));
	}
	CHECK(open_fds() == fds);
	CHECK(store_pool_shrink_idle(pool, 0) == 0); /* once per idle spell */
	/* the store works on: a read and a write prepare what they need again */
	int n = 0;
	CHECK(store_messages(s[0], inbox[0], count_msg_cb, &n, &error) == 0 && n == 1);
	CHECK(append1(s[0], inbox[0], make_msg(0, "c", "d"), 0, NULL, 0, NULL) == 0);
	n = 0;
	CHECK(store_messages(s[0], inbox[0], count_msg_cb, &n, &error) == 0 && n == 2);
	CHECK(prepared(s[0]) > 0);
	/* a busy store (a transaction) is left alone, and shrunk once it is free */
	CHECK(store_tx_begin(s[1]) == 0);
	CHECK(store_pool_shrink_idle(pool, 0) == 1); /* s[0] only */
	CHECK(prepared(s[0]) == 0 && prepared(s[1]) > 0);
	store_tx_rollback(s[1]);
	CHECK(store_pool_shrink_idle(pool, 0) == 1 && prepared(s[1]) == 0);
	n = 0;
	CHECK(store_messages(s[1], inbox[1], count_msg_cb, &n, &error) == 0 && n == 1);
	for (int i = 0; i < 2; i++)
		store_close(&s[i]);
	store_pool_destroy(&pool);
	root_free();
}

int main(void)
{
	log_set_level(LOG_ERROR);
	TEST_RUN(test_park_every_call);
	TEST_RUN(test_park_other_commit);
	TEST_RUN(test_park_busy);
	TEST_RUN(test_pool);
	TEST_RUN(test_pool_keep_wal);
	TEST_RUN(test_pool_reserve);
	TEST_RUN(test_pool_shrink);
	return test_finish();
}
