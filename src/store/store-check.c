/* store-check.c: verification and repair (`kura check [--repair] USER`) and recovery of a
 * lost database from the body files.
 *
 * What check verifies: SQLite's own integrity and foreign keys; every body row's file exists,
 * has the recorded size and hashes to its name; every body's reference count equals the
 * messages naming it; every mailbox's counters (MESSAGES, UNSEEN, DELETED, SIZE), UIDNEXT
 * above every UID, HIGHESTMODSEQ at least every MODSEQ, keyword masks within the mailbox's
 * keywords, valid names, INBOX present; the packed message state (store-state.c) equal to the
 * rows; files no row names and temporary files; every body in the search index once and no
 * index row without its body (rows of dropped bodies waiting in search_gc aside).
 * What repair does: recounts counters and references, raises UIDNEXT/HIGHESTMODSEQ, clears
 * stray keyword bits, repairs the packed state (an entry per row; flags lost with a damaged
 * chunk cannot come back: those messages become unseen), creates INBOX, indexes unindexed
 * bodies again (after the commit) and drops stray index rows, removes the messages whose body
 * is missing or damaged
 * (each reported; a damaged file is kept in ROOT/USER/damaged/ for forensics; the removal is
 * logged as an expunge so sessions resynchronise), removes orphan and temporary files.
 * What it cannot do: a body file holds only the message bytes, not which mailbox it was in,
 * its flags, keywords or UIDs; those exist only in the database. So a damaged database cannot
 * be repaired row by row here (SQLite errors are reported); the way back is to move store.db
 * away: the next open finds body files without a database and files every message into a
 * mailbox "Recovered" (store_recover_bodies), unseen, with the file's mtime (the delivery
 * time) as internal date. */
#include "store/store-private.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/xmalloc.h"

struct store_check_ctx {
	struct store *store;
	bool repair;
	store_report_cb *report;
	void *report_ctx;
	unsigned problems;
	/* bodies whose file is missing or damaged */
	int64_t *bad;
	size_t bad_count, bad_alloc;
	bool reindex; /* repair: bodies were marked to be indexed again */
};

static void store_check_say(struct store_check_ctx *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void store_check_say(struct store_check_ctx *c, const char *fmt, ...)
{
	char line[STORE_MAILBOX_NAME_MAX + 512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (c->report != NULL)
		c->report(c->report_ctx, line);
}

static void store_check_problem(struct store_check_ctx *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void store_check_problem(struct store_check_ctx *c, const char *fmt, ...)
{
	char line[STORE_MAILBOX_NAME_MAX + 512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	c->problems++;
	if (c->report != NULL)
		c->report(c->report_ctx, line);
}

static int store_check_prepare(struct store *store, const char *sql, sqlite3_stmt **stmt_r)
{
	if (sqlite3_prepare_v2(store->db, sql, -1, stmt_r, NULL) != SQLITE_OK) {
		*stmt_r = NULL;
		return store_fail_sql(store, NULL, "preparing a check");
	}
	return 0;
}

static int store_check_exec2(struct store *store, const char *sql, int64_t a, int64_t b)
{
	sqlite3_stmt *stmt;
	if (store_check_prepare(store, sql, &stmt) < 0)
		return -1;
	sqlite3_bind_int64(stmt, 1, a);
	sqlite3_bind_int64(stmt, 2, b);
	int r = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	if (r != SQLITE_DONE && r != SQLITE_ROW)
		return store_fail_sql(store, NULL, "repairing");
	return 0;
}

/* ---- SQLite's own view ---- */

static int store_check_sqlite(struct store_check_ctx *c)
{
	sqlite3_stmt *stmt;
	if (store_check_prepare(c->store, "PRAGMA quick_check", &stmt) < 0)
		return -1;
	int r;
	while ((r = sqlite3_step(stmt)) == SQLITE_ROW) {
		const char *msg = (const char *)sqlite3_column_text(stmt, 0);
		if (msg != NULL && strcmp(msg, "ok") != 0)
			store_check_problem(c, "database: %s", msg);
	}
	sqlite3_finalize(stmt);
	if (r != SQLITE_DONE)
		return store_fail_sql(c->store, NULL, "checking the database");
	if (store_check_prepare(c->store, "PRAGMA foreign_key_check", &stmt) < 0)
		return -1;
	while ((r = sqlite3_step(stmt)) == SQLITE_ROW)
		store_check_problem(c, "database: row %lld of %s refers to a missing %s row",
				    (long long)sqlite3_column_int64(stmt, 1),
				    (const char *)sqlite3_column_text(stmt, 0),
				    (const char *)sqlite3_column_text(stmt, 2));
	sqlite3_finalize(stmt);
	if (r != SQLITE_DONE)
		return store_fail_sql(c->store, NULL, "checking foreign keys");
	return 0;
}

/* ---- bodies ---- */

/* 1 the file has size bytes hashing to hash; 0 missing (*missing_r) or damaged; -1 error */
static int store_check_file(struct store *store, const char *hash, uint64_t size,
			    bool *missing_r, uint64_t *actual_r)
{
	char rel[STORE_HASH_HEX + 4] = { hash[0], hash[1], '/' };
	memcpy(rel + 3, hash, STORE_HASH_HEX + 1);
	*missing_r = false;
	*actual_r = 0;
	int fd = openat(store->bodies_fd, rel, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT) {
			*missing_r = true;
			return 0;
		}
		return store_fail(store, STORE_ERR_INTERNAL, NULL, "cannot open body %s: %s", hash,
				  strerror(errno));
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return 0;
	}
	*actual_r = (uint64_t)st.st_size;
	if ((uint64_t)st.st_size != size) {
		close(fd);
		return 0;
	}
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
		xabort("SHA-256 init failed");
	unsigned char *buf = xmalloc(65536);
	uint64_t total = 0;
	ssize_t n;
	while ((n = read(fd, buf, 65536)) > 0) {
		EVP_DigestUpdate(md, buf, (size_t)n);
		total += (uint64_t)n;
	}
	int e = errno;
	free(buf);
	close(fd);
	unsigned char out[EVP_MAX_MD_SIZE];
	unsigned len = 0;
	EVP_DigestFinal_ex(md, out, &len);
	EVP_MD_CTX_free(md);
	if (n < 0)
		return store_fail(store, STORE_ERR_INTERNAL, NULL, "cannot read body %s: %s", hash,
				  strerror(e));
	static const char digits[] = "0123456789abcdef";
	char hex[STORE_HASH_HEX + 1];
	for (unsigned i = 0; i < 32; i++) {
		hex[2 * i] = digits[out[i] >> 4];
		hex[2 * i + 1] = digits[out[i] & 15];
	}
	hex[STORE_HASH_HEX] = '\0';
	return total == size && strcmp(hex, hash) == 0 ? 1 : 0;
}

static void store_check_bad_add(struct store_check_ctx *c, int64_t id)
{
	if (c->bad_count == c->bad_alloc) {
		c->bad_alloc = c->bad_alloc == 0 ? 16 : c->bad_alloc * 2;
		c->bad = xrealloc(c->bad, c->bad_alloc * sizeof(*c->bad));
	}
	c->bad[c->bad_count++] = id;
}

/* Keep a damaged file out of bodies/ (so the sweep does not delete the evidence). */
static void store_check_quarantine(struct store *store, const char *hash)
{
	char rel[STORE_HASH_HEX + 4] = { hash[0], hash[1], '/' }, dst[STORE_HASH_HEX + 16];
	memcpy(rel + 3, hash, STORE_HASH_HEX + 1);
	snprintf(dst, sizeof(dst), "damaged/%s", hash);
	if (mkdirat(store->dir_fd, "damaged", 0700) < 0 && errno != EEXIST)
		return;
	(void)renameat(store->bodies_fd, rel, store->dir_fd, dst);
}

static int store_check_bodies(struct store_check_ctx *c)
{
	struct store *store = c->store;
	sqlite3_stmt *stmt;
	if (store_check_prepare(store,
				"SELECT b.id, b.hash, b.size, b.refs,"
				" (SELECT count(*) FROM message m WHERE m.body_id = b.id)"
				" FROM body b ORDER BY b.hash",
				&stmt) < 0)
		return -1;
	int r;
	while ((r = sqlite3_step(stmt)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(stmt, 0);
		const char *hash = (const char *)sqlite3_column_text(stmt, 1);
		uint64_t size = (uint64_t)sqlite3_column_int64(stmt, 2);
		int64_t refs = sqlite3_column_int64(stmt, 3), count = sqlite3_column_int64(stmt, 4);
		if (hash == NULL || !store_hash_valid(hash)) {
			store_check_problem(c, "body row %lld has an invalid hash", (long long)id);
			store_check_bad_add(c, id);
			continue;
		}
		bool missing;
		uint64_t actual;
		int ok = store_check_file(store, hash, size, &missing, &actual);
		if (ok < 0) {
			sqlite3_finalize(stmt);
			return -1;
		}
		if (ok == 0) {
			if (missing)
				store_check_problem(c, "body %s is missing", hash);
			else if (actual != size)
				store_check_problem(c, "body %s has %llu bytes, not %llu", hash,
						    (unsigned long long)actual,
						    (unsigned long long)size);
			else
				store_check_problem(c, "body %s does not match its hash", hash);
			store_check_bad_add(c, id);
			if (c->repair && !missing)
				store_check_quarantine(store, hash);
			continue;
		}
		if (refs != count) {
			store_check_problem(c, "body %s has %lld references recorded, %lld found%s",
					    hash, (long long)refs, (long long)count,
					    c->repair ? " (fixed)" : "");
			if (c->repair &&
			    store_check_exec2(store, "UPDATE body SET refs = ?2 WHERE id = ?1", id,
					      count) < 0) {
				sqlite3_finalize(stmt);
				return -1;
			}
		}
	}
	sqlite3_finalize(stmt);
	if (r != SQLITE_DONE)
		return store_fail_sql(store, NULL, "listing bodies");
	return 0;
}

/* The messages of a bad body: reported; with repair removed (logged as expunged). */
static int store_check_bad_messages(struct store_check_ctx *c)
{
	struct store *store = c->store;
	sqlite3_stmt *stmt;
	if (store_check_prepare(store,
				"SELECT m.mailbox_id, m.uid, mb.name FROM message m"
				" JOIN mailbox mb ON mb.id = m.mailbox_id WHERE m.body_id = ?1",
				&stmt) < 0)
		return -1;
	for (size_t i = 0; i < c->bad_count; i++) {
		sqlite3_bind_int64(stmt, 1, c->bad[i]);
		int r;
		while ((r = sqlite3_step(stmt)) == SQLITE_ROW) {
			int64_t mailbox_id = sqlite3_column_int64(stmt, 0);
			int64_t uid = sqlite3_column_int64(stmt, 1);
			const char *name = (const char *)sqlite3_column_text(stmt, 2);
			store_check_say(c, "message UID %lld in %s has no usable body%s",
					(long long)uid, name != NULL ? name : "?",
					c->repair ? ": removed" : "");
			if (!c->repair)
				continue;
			/* the counters are recounted afterwards */
			if (store_check_exec2(store,
					      "UPDATE mailbox SET highestmodseq = highestmodseq + ?2"
					      " WHERE id = ?1",
					      mailbox_id, 1) < 0 ||
			    store_check_exec2(store,
					      "INSERT OR REPLACE INTO expunged (mailbox_id, uid, modseq)"
					      " SELECT ?1, ?2, highestmodseq FROM mailbox WHERE id = ?1",
					      mailbox_id, uid) < 0 ||
			    store_check_exec2(store,
					      "DELETE FROM message WHERE mailbox_id = ?1 AND uid = ?2",
					      mailbox_id, uid) < 0 ||
			    store_state_del(store, (uint64_t)mailbox_id, (uint32_t)uid) < 0) {
				sqlite3_finalize(stmt);
				return -1;
			}
		}
		sqlite3_reset(stmt);
		if (r != SQLITE_DONE) {
			sqlite3_finalize(stmt);
			return store_fail_sql(store, NULL, "listing messages");
		}
		/* the row goes at the commit (refs 0); its file is already gone or quarantined */
		if (c->repair && store_check_exec2(store, "UPDATE body SET refs = ?2 WHERE id = ?1",
						   c->bad[i], 0) < 0) {
			sqlite3_finalize(stmt);
			return -1;
		}
	}
	sqlite3_finalize(stmt);
	return 0;
}

/* ---- mailboxes ---- */

static int store_check_mailboxes(struct store_check_ctx *c)
{
	struct store *store = c->store;
	sqlite3_stmt *stmt;
	/* the rows give MESSAGES, SIZE and the highest UID; the packed state the rest */
	if (store_check_prepare(
		    store,
		    "SELECT mb.id, mb.name, mb.messages, mb.unseen, mb.deleted, mb.size, mb.uidnext,"
		    " mb.highestmodseq, mb.keywords, count(m.uid), coalesce(sum(m.size), 0),"
		    " coalesce(max(m.uid), 0)"
		    " FROM mailbox mb LEFT JOIN message m ON m.mailbox_id = mb.id"
		    " GROUP BY mb.id ORDER BY mb.name",
		    &stmt) < 0)
		return -1;
	struct store_mailbox *mb = xmalloc(sizeof(*mb));
	bool inbox = false;
	int r, ret = 0;
	while (ret == 0 && (r = sqlite3_step(stmt)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(stmt, 0);
		const char *name = (const char *)sqlite3_column_text(stmt, 1);
		const char *err;
		if (name == NULL)
			name = "";
		inbox |= strcmp(name, "INBOX") == 0;
		if (!store_mailbox_name_valid(name, &err))
			store_check_problem(c, "mailbox %s: %s", name, err);
		int64_t uidnext = sqlite3_column_int64(stmt, 6), maxuid = sqlite3_column_int64(stmt, 11);
		int64_t hms = sqlite3_column_int64(stmt, 7);
		const char *kw = (const char *)sqlite3_column_text(stmt, 8);
		store_keywords_parse(mb, kw != NULL ? kw : "", (size_t)sqlite3_column_bytes(stmt, 8));
		uint64_t valid = mb->keyword_count >= 64 ? UINT64_MAX
							 : ((uint64_t)1 << mb->keyword_count) - 1;
		/* the packed state against the rows (store-state.c); a message whose entry was
		 * lost gets a MODSEQ above all, so that clients fetch its flags again */
		struct store_state_summary sum;
		if (store_state_check(store, (uint64_t)id, c->repair, valid, (uint64_t)hms + 1,
				      &sum) < 0) {
			ret = -1;
			break;
		}
		if (sum.damaged > 0)
			store_check_problem(c, "mailbox %s: %zu chunks of message state are damaged",
					    name, sum.damaged);
		if (sum.miscounted > 0)
			store_check_problem(c, "mailbox %s: %zu chunks of message state have wrong"
					    " counts%s", name, sum.miscounted,
					    c->repair ? " (recounted)" : "");
		if (sum.missing > 0)
			store_check_problem(c, "mailbox %s: %zu messages have no flags recorded%s",
					    name, sum.missing,
					    c->repair ? " (now unseen, without flags)" : "");
		if (sum.extra > 0)
			store_check_problem(c, "mailbox %s: %zu flag entries have no message%s", name,
					    sum.extra, c->repair ? " (removed)" : "");
		if (sum.stray_keywords > 0)
			store_check_problem(c, "mailbox %s: %zu messages have undefined keyword bits%s",
					    name, sum.stray_keywords, c->repair ? " (cleared)" : "");
		int64_t have[4], want[4] = {
			sqlite3_column_int64(stmt, 9), (int64_t)sum.unseen, (int64_t)sum.deleted,
			sqlite3_column_int64(stmt, 10)
		};
		static const char *const what[4] = { "MESSAGES", "UNSEEN", "DELETED", "SIZE" };
		bool fix = false;
		for (int i = 0; i < 4; i++) {
			have[i] = sqlite3_column_int64(stmt, 2 + i);
			if (have[i] != want[i]) {
				store_check_problem(c, "mailbox %s: %s is %lld, counted %lld%s", name,
						    what[i], (long long)have[i], (long long)want[i],
						    c->repair ? " (fixed)" : "");
				fix = true;
			}
		}
		if (uidnext <= maxuid) {
			store_check_problem(c, "mailbox %s: UIDNEXT %lld is not above UID %lld%s",
					    name, (long long)uidnext, (long long)maxuid,
					    c->repair ? " (fixed)" : "");
			uidnext = maxuid + 1;
			fix = true;
		}
		if (hms < (int64_t)sum.max_modseq) {
			/* a repaired entry's new MODSEQ is not a problem of its own */
			if (sum.max_modseq != (uint64_t)hms + 1 || sum.missing == 0)
				store_check_problem(c,
						    "mailbox %s: HIGHESTMODSEQ %lld is below MODSEQ"
						    " %llu%s",
						    name, (long long)hms,
						    (unsigned long long)sum.max_modseq,
						    c->repair ? " (fixed)" : "");
			hms = (int64_t)sum.max_modseq;
			fix = true;
		}
		if (fix && c->repair) {
			sqlite3_stmt *up;
			if (store_check_prepare(store,
						"UPDATE mailbox SET messages = ?2, unseen = ?3,"
						" deleted = ?4, size = ?5, uidnext = ?6,"
						" highestmodseq = ?7 WHERE id = ?1",
						&up) < 0) {
				ret = -1;
				break;
			}
			sqlite3_bind_int64(up, 1, id);
			for (int i = 0; i < 4; i++)
				sqlite3_bind_int64(up, 2 + i, want[i]);
			sqlite3_bind_int64(up, 6, uidnext);
			sqlite3_bind_int64(up, 7, hms);
			r = sqlite3_step(up);
			sqlite3_finalize(up);
			if (r != SQLITE_DONE) {
				ret = store_fail_sql(store, NULL, "repairing a mailbox");
				break;
			}
		}
	}
	free(mb);
	sqlite3_finalize(stmt);
	if (ret < 0)
		return -1;
	if (r != SQLITE_DONE && r != SQLITE_ROW)
		return store_fail_sql(store, NULL, "checking mailboxes");
	if (!inbox) {
		store_check_problem(c, "INBOX is missing%s", c->repair ? " (created)" : "");
		if (c->repair && store_mailbox_insert(store, "INBOX", 0, NULL) < 0)
			return -1;
	}
	return 0;
}

static int64_t store_check_count(struct store *store, const char *sql)
{
	sqlite3_stmt *stmt;
	if (store_check_prepare(store, sql, &stmt) < 0)
		return -1;
	int64_t n = sqlite3_step(stmt) == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : -1;
	sqlite3_finalize(stmt);
	if (n < 0)
		return store_fail_sql(store, NULL, "checking the search index");
	return n;
}

/* The search index: every body marked indexed has its FTS row, no row without a body or for
 * a body marked not indexed yet. Bodies waiting to be indexed (search_state 0: the index is
 * written after delivery, store-index.c) and rows of dropped bodies waiting to be deleted
 * (search_gc, schema 8) are normal, not a problem; an id in search_gc that is a body's id
 * is (its row would be deleted under the body: store-db.c, version 8). Repair marks the
 * bodies to index again (done after the commit) and drops stray rows. */
static int store_check_index(struct store_check_ctx *c)
{
	struct store *store = c->store;
	int64_t pending = store_check_count(store, "SELECT COUNT(*) FROM body WHERE search_state = 0");
	int64_t reused = store_check_count(store, "SELECT COUNT(*) FROM search_gc g"
					   " JOIN body b ON b.id = g.id");
	if (reused > 0) {
		store_check_problem(c, "search index: %lld messages have their rows listed for deletion%s",
				    (long long)reused, c->repair ? " (indexed again)" : "");
		if (c->repair &&
		    (store_exec(store, "DELETE FROM search_text WHERE rowid IN (SELECT g.id"
				       " FROM search_gc g JOIN body b ON b.id = g.id)") < 0 ||
		     store_exec(store, "UPDATE body SET search_state = 0"
				       " WHERE id IN (SELECT id FROM search_gc)") < 0 ||
		     store_exec(store, "DELETE FROM search_gc WHERE id IN (SELECT id FROM body)") < 0))
			return -1;
		c->reindex = c->repair;
	}
	int64_t unindexed = store_check_count(store, "SELECT COUNT(*) FROM body WHERE search_state = 2"
					      " OR (search_state = 1 AND id NOT IN"
					      " (SELECT rowid FROM search_text))");
	int64_t stray = store_check_count(store, "SELECT COUNT(*) FROM search_text"
					  " WHERE rowid NOT IN (SELECT id FROM body"
					  " WHERE search_state != 0)"
					  " AND rowid NOT IN (SELECT id FROM search_gc)");
	if (pending < 0 || reused < 0 || unindexed < 0 || stray < 0)
		return -1;
	/* not reported: a clean store says nothing (--repair indexes them along) */
	if (pending > 0)
		c->reindex = c->repair;
	if (unindexed > 0) {
		store_check_problem(c, "search index: %lld messages are not indexed%s",
				    (long long)unindexed, c->repair ? " (indexed again)" : "");
		if (c->repair &&
		    (store_exec(store, "DELETE FROM search_text WHERE rowid IN (SELECT id FROM body"
				       " WHERE search_state = 2)") < 0 ||
		     store_exec(store, "UPDATE body SET search_state = 0 WHERE search_state = 2"
				       " OR (search_state = 1 AND id NOT IN"
				       " (SELECT rowid FROM search_text))") < 0))
			return -1;
		c->reindex = c->repair;
	}
	if (stray > 0) {
		store_check_problem(c, "search index: %lld rows belong to no indexed message%s",
				    (long long)stray, c->repair ? " (removed)" : "");
		if (c->repair && store_exec(store, "DELETE FROM search_text WHERE rowid NOT IN"
						   " (SELECT id FROM body WHERE search_state != 0)"
						   " AND rowid NOT IN (SELECT id FROM search_gc)")
					 < 0)
			return -1;
	}
	return 0;
}

int store_check(struct store *store, bool repair, store_report_cb *report, void *ctx,
		unsigned *problems_r, const char **error_r)
{
	struct store_check_ctx c = {
		.store = store, .repair = repair, .report = report, .report_ctx = ctx
	};
	unsigned orphans = 0;
	store_clear_error(store);
	*problems_r = 0;
	/* under the write lock a file without a row is an orphan, not an append in flight */
	if (store_tx_begin(store) < 0)
		return store_failed(store, error_r);
	/* the removals of bad messages reach the packed state before it is checked */
	if (store_check_sqlite(&c) < 0 || store_check_bodies(&c) < 0 ||
	    store_check_bad_messages(&c) < 0 || store_state_flush(store) < 0 ||
	    store_check_mailboxes(&c) < 0 || store_check_index(&c) < 0 ||
	    store_body_sweep(store, repair, report, ctx, &orphans) < 0)
		goto fail;
	c.problems += orphans;
	free(c.bad);
	if (repair) {
		if (store_tx_commit(store) < 0)
			return store_failed(store, error_r);
		store_events_clear(store);
		unsigned indexed;
		struct store_index_scope sc = {.report = report, .ctx = ctx};
		if (c.reindex && store_index_run(store, &sc, &indexed) < 0)
			return store_failed(store, error_r);
	} else {
		store_tx_rollback(store);
	}
	store_clear_error(store);
	*problems_r = c.problems;
	return 0;
fail:
	free(c.bad);
	store_tx_rollback(store);
	return store_failed(store, error_r);
}

/* ---- recovery ---- */

struct store_recover_file {
	char hash[STORE_HASH_HEX + 1];
	time_t mtime;
};

static int store_recover_cmp(const void *a, const void *b)
{
	const struct store_recover_file *x = a, *y = b;
	if (x->mtime != y->mtime)
		return x->mtime < y->mtime ? -1 : 1;
	return strcmp(x->hash, y->hash);
}

/* Read and insert one recovered body; 1 inserted, 0 skipped (damaged), -1 error. */
static int store_recover_one(struct store *store, struct store_mailbox *mb,
			     const struct store_recover_file *f, time_t now)
{
	char rel[STORE_HASH_HEX + 4] = { f->hash[0], f->hash[1], '/' };
	memcpy(rel + 3, f->hash, STORE_HASH_HEX + 1);
	int fd = openat(store->bodies_fd, rel, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	size_t size = (size_t)st.st_size;
	void *data = size == 0 ? NULL : mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (data == MAP_FAILED)
		return 0;
	char hex[STORE_HASH_HEX + 1];
	store_hash_hex(data != NULL ? data : "", size, hex);
	int ret = 0;
	if (strcmp(hex, f->hash) != 0) {
		store_check_quarantine(store, f->hash);
		goto out;
	}
	ret = -1;
	int64_t body_id;
	if (store_body_insert(store, f->hash, data != NULL ? data : "", size, &body_id) < 0)
		goto out;
	sqlite3_stmt *stmt = store_stmt(store, STMT_MSG_INSERT);
	if (stmt == NULL)
		goto out;
	uint32_t uid = mb->uidnext++;
	sqlite3_bind_int64(stmt, 1, (sqlite3_int64)mb->id);
	sqlite3_bind_int64(stmt, 2, uid);
	sqlite3_bind_int64(stmt, 3, body_id);
	sqlite3_bind_int64(stmt, 4, (sqlite3_int64)size);
	sqlite3_bind_int64(stmt, 5, (sqlite3_int64)f->mtime);
	sqlite3_bind_int(stmt, 6, 0);
	sqlite3_bind_int64(stmt, 7, (sqlite3_int64)now);
	struct store_msg msg = { .uid = uid, .modseq = mb->highestmodseq + 1 };
	if (store_stmt_run(store, stmt, "recovering a message") < 0 ||
	    store_state_put(store, mb->id, &msg) < 0)
		goto out;
	mb->messages++;
	mb->unseen++;
	mb->size += size;
	ret = 1;
out:
	if (data != NULL)
		munmap(data, size);
	return ret;
}

int store_recover_bodies(struct store *store)
{
	static const char digits[] = "0123456789abcdef";
	struct store_recover_file *files = NULL;
	size_t count = 0, alloc = 0;
	struct store_mailbox *mb = xmalloc(sizeof(*mb));
	uint64_t id;
	int ret = -1;

	for (unsigned idx = 0; idx < 256; idx++) {
		char xx[3] = { digits[idx / 16], digits[idx % 16], '\0' };
		int dfd = openat(store->bodies_fd, xx, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		if (dfd < 0)
			continue;
		DIR *d = fdopendir(dfd);
		if (d == NULL) {
			close(dfd);
			continue;
		}
		struct dirent *de;
		while ((de = readdir(d)) != NULL) {
			struct stat st;
			if (strncmp(de->d_name, ".tmp.", 5) == 0) {
				unlinkat(dfd, de->d_name, 0);
				continue;
			}
			if (!store_hash_valid(de->d_name) || de->d_name[0] != xx[0] ||
			    de->d_name[1] != xx[1] ||
			    fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
			    !S_ISREG(st.st_mode))
				continue;
			if (count == alloc) {
				alloc = alloc == 0 ? 256 : alloc * 2;
				files = xrealloc(files, alloc * sizeof(*files));
			}
			memcpy(files[count].hash, de->d_name, STORE_HASH_HEX + 1);
			files[count].mtime = st.st_mtime;
			count++;
		}
		closedir(d);
	}
	qsort(files, count, sizeof(*files), store_recover_cmp);

	if (store_tx_begin(store) < 0)
		goto out;
	if (store_mailbox_insert(store, "Recovered", 0, &id) < 0 ||
	    store_mailbox_load(store, id, mb) <= 0)
		goto fail;
	time_t now = time(NULL);
	size_t recovered = 0;
	for (size_t i = 0; i < count; i++) {
		int r = store_recover_one(store, mb, &files[i], now);
		if (r < 0)
			goto fail;
		recovered += (size_t)r;
	}
	if (recovered > 0)
		mb->highestmodseq++;
	if (store_mailbox_save(store, mb) < 0)
		goto fail;
	if (store_tx_commit(store) < 0)
		goto out;
	ret = 0;
	goto out;
fail:
	store_tx_rollback(store);
out:
	free(files);
	free(mb);
	return ret;
}
