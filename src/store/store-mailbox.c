/* store-mailbox.c: mailboxes and subscriptions: create with superior levels, delete, rename
 * with children and the INBOX special case (RFC 9051 6.3.4-6.3.8).
 * Traps: a rename can move a name onto a name the same rename frees ("a/b" to "a" turns
 * "a/b/b" into "a/b"), so renamed rows first get placeholder names that no valid name can be
 * (a control character), then their final ones; a deleted mailbox's id is never reused
 * (AUTOINCREMENT) so a stale id cannot reach another mailbox. */
#include "store/store-private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/xmalloc.h"

void store_mailbox_from_row(sqlite3_stmt *stmt, struct store_mailbox *mb)
{
	const char *name = (const char *)sqlite3_column_text(stmt, 1);
	size_t len = (size_t)sqlite3_column_bytes(stmt, 1);
	mb->id = (uint64_t)sqlite3_column_int64(stmt, 0);
	if (name == NULL || len > STORE_MAILBOX_NAME_MAX)
		len = 0;
	memcpy(mb->name, name != NULL ? name : "", len);
	mb->name[len] = '\0';
	mb->uidvalidity = (uint32_t)sqlite3_column_int64(stmt, 2);
	mb->uidnext = (uint32_t)sqlite3_column_int64(stmt, 3);
	mb->highestmodseq = (uint64_t)sqlite3_column_int64(stmt, 4);
	mb->special_use = (unsigned)sqlite3_column_int(stmt, 5);
	const char *kw = (const char *)sqlite3_column_text(stmt, 6);
	store_keywords_parse(mb, kw != NULL ? kw : "", (size_t)sqlite3_column_bytes(stmt, 6));
	mb->messages = (uint32_t)sqlite3_column_int64(stmt, 7);
	mb->unseen = (uint32_t)sqlite3_column_int64(stmt, 8);
	mb->deleted = (uint32_t)sqlite3_column_int64(stmt, 9);
	mb->size = (uint64_t)sqlite3_column_int64(stmt, 10);
	mb->subscribed = sqlite3_column_int(stmt, 11) != 0;
	mb->first_recent_uid = (uint32_t)sqlite3_column_int64(stmt, 12);
}

static int store_mailbox_fetch(struct store *store, sqlite3_stmt *stmt, struct store_mailbox *mb)
{
	int r = sqlite3_step(stmt);
	if (r == SQLITE_ROW)
		store_mailbox_from_row(stmt, mb);
	sqlite3_reset(stmt);
	if (r == SQLITE_ROW)
		return 1;
	if (r != SQLITE_DONE)
		return store_fail_sql(store, NULL, "reading a mailbox");
	store_fail(store, STORE_ERR_NOT_FOUND, NULL, "no such mailbox");
	return 0;
}

int store_mailbox_load(struct store *store, uint64_t id, struct store_mailbox *mb)
{
	sqlite3_stmt *stmt = store_stmt(store, STMT_MB_BY_ID);
	if (stmt == NULL)
		return -1;
	sqlite3_bind_int64(stmt, 1, (sqlite3_int64)id);
	return store_mailbox_fetch(store, stmt, mb);
}

/* name already normalised */
static int store_mailbox_load_name(struct store *store, const char *name, struct store_mailbox *mb)
{
	sqlite3_stmt *stmt = store_stmt(store, STMT_MB_BY_NAME);
	if (stmt == NULL)
		return -1;
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_TRANSIENT);
	return store_mailbox_fetch(store, stmt, mb);
}

int store_mailbox_save(struct store *store, const struct store_mailbox *mb)
{
	char kw[STORE_KEYWORDS_TEXT_MAX];
	size_t kwlen = store_keywords_format(mb, kw);
	sqlite3_stmt *stmt = store_stmt(store, STMT_MB_SAVE);
	if (stmt == NULL)
		return -1;
	sqlite3_bind_int64(stmt, 1, (sqlite3_int64)mb->id);
	sqlite3_bind_int64(stmt, 2, mb->uidnext);
	sqlite3_bind_int64(stmt, 3, (sqlite3_int64)mb->highestmodseq);
	sqlite3_bind_text(stmt, 4, kw, (int)kwlen, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 5, mb->messages);
	sqlite3_bind_int64(stmt, 6, mb->unseen);
	sqlite3_bind_int64(stmt, 7, mb->deleted);
	sqlite3_bind_int64(stmt, 8, (sqlite3_int64)mb->size);
	return store_stmt_run(store, stmt, "updating a mailbox");
}

int store_mailbox_insert(struct store *store, const char *name, unsigned special_use,
			 uint64_t *id_r)
{
	uint32_t uidvalidity;
	if (store_uidvalidity_next(store, &uidvalidity) < 0)
		return -1;
	sqlite3_stmt *stmt = store_stmt(store, STMT_MB_INSERT);
	if (stmt == NULL)
		return -1;
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 2, uidvalidity);
	sqlite3_bind_int(stmt, 3, (int)special_use);
	sqlite3_bind_int64(stmt, 4, (sqlite3_int64)time(NULL));
	if (store_stmt_run(store, stmt, "creating a mailbox") < 0)
		return -1;
	if (id_r != NULL)
		*id_r = (uint64_t)sqlite3_last_insert_rowid(store->db);
	return 0;
}

static int store_subscription_set(struct store *store, const char *name, bool subscribe)
{
	sqlite3_stmt *stmt = store_stmt(store, subscribe ? STMT_SUB_ADD : STMT_SUB_DEL);
	if (stmt == NULL)
		return -1;
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_TRANSIENT);
	return store_stmt_run(store, stmt, "changing a subscription");
}

int store_mailbox_create_defaults(struct store *store)
{
	static const struct {
		const char *name;
		unsigned special_use;
	} defaults[] = {
		{ "INBOX", 0 },
		{ "Drafts", STORE_SPECIAL_DRAFTS },
		{ "Sent", STORE_SPECIAL_SENT },
		{ "Trash", STORE_SPECIAL_TRASH },
		{ "Junk", STORE_SPECIAL_JUNK },
		{ "Archive", STORE_SPECIAL_ARCHIVE },
	};
	for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++) {
		if (store_mailbox_insert(store, defaults[i].name, defaults[i].special_use, NULL) < 0 ||
		    store_subscription_set(store, defaults[i].name, true) < 0)
			return -1;
	}
	return 0;
}

/* ---- public: lookups ---- */

int store_mailbox_get(struct store *store, const char *name, struct store_mailbox *mb)
{
	char norm[STORE_MAILBOX_NAME_MAX + 1];
	store_clear_error(store);
	if (store_name_normalize(store, name, norm) < 0) {
		/* an invalid name names no mailbox */
		store_fail(store, STORE_ERR_NOT_FOUND, NULL, "no such mailbox");
		return 0;
	}
	return store_mailbox_load_name(store, norm, mb);
}

int store_mailbox_get_by_id(struct store *store, uint64_t id, struct store_mailbox *mb)
{
	store_clear_error(store);
	return store_mailbox_load(store, id, mb);
}

int store_mailbox_list(struct store *store, store_mailbox_cb *cb, void *ctx, const char **error_r)
{
	store_clear_error(store);
	sqlite3_stmt *stmt = store_stmt(store, STMT_MB_LIST);
	if (stmt == NULL)
		return store_failed(store, error_r);
	if (sqlite3_stmt_busy(stmt))
		return store_fail(store, STORE_ERR_INTERNAL, error_r,
				  "store_mailbox_list called from its own callback");
	struct store_mailbox *mb = xmalloc(sizeof(*mb));
	int r;
	while ((r = sqlite3_step(stmt)) == SQLITE_ROW) {
		store_mailbox_from_row(stmt, mb);
		if (cb(ctx, mb) < 0) {
			r = SQLITE_DONE;
			break;
		}
	}
	free(mb);
	if (r != SQLITE_DONE) {
		store_fail_sql(store, error_r, "listing mailboxes");
		sqlite3_reset(stmt);
		return -1;
	}
	sqlite3_reset(stmt);
	return 0;
}

/* ---- public: create, delete ---- */

/* Does the normalised name exist? 1, 0, -1. */
static int store_mailbox_exists(struct store *store, const char *name)
{
	struct store_mailbox *mb = xmalloc(sizeof(*mb));
	int r = store_mailbox_load_name(store, name, mb);
	free(mb);
	return r;
}

/* Create every missing superior level of name (RFC 9051 6.3.4: "SHOULD create any superior
 * hierarchical names that are needed"). */
static int store_mailbox_create_superiors(struct store *store, const char *name)
{
	char prefix[STORE_MAILBOX_NAME_MAX + 1];
	for (size_t i = 0; name[i] != '\0'; i++) {
		if (name[i] != '/')
			continue;
		memcpy(prefix, name, i);
		prefix[i] = '\0';
		int r = store_mailbox_exists(store, prefix);
		if (r < 0 || (r == 0 && store_mailbox_insert(store, prefix, 0, NULL) < 0))
			return -1;
	}
	return 0;
}

int store_mailbox_create(struct store *store, const char *name, unsigned special_use,
			 const char **error_r)
{
	char norm[STORE_MAILBOX_NAME_MAX + 1];
	store_clear_error(store);
	if (store_name_normalize(store, name, norm) < 0)
		return store_failed(store, error_r);
	if ((special_use & ~0x7fu) != 0)
		return store_fail(store, STORE_ERR_INVALID, error_r, "unknown special-use attribute");
	if (store_tx_begin(store) < 0)
		return store_failed(store, error_r);
	int r = store_mailbox_exists(store, norm);
	if (r != 0) {
		if (r > 0)
			store_fail(store, STORE_ERR_EXISTS, NULL, "mailbox exists");
		goto fail;
	}
	if (store_mailbox_create_superiors(store, norm) < 0 ||
	    store_mailbox_insert(store, norm, special_use, NULL) < 0)
		goto fail;
	if (store_tx_commit(store) < 0)
		return store_failed(store, error_r);
	store_clear_error(store);
	return 0;
fail:
	store_tx_rollback(store);
	return store_failed(store, error_r);
}

/* Queue "expunged" for listeners of mailbox id for all its messages (a delete or an INBOX
 * rename empties it). Only when someone listens. */
static int store_mailbox_queue_expunges(struct store *store, uint64_t id)
{
	bool listened = false;
	for (const struct store_listener *l = store->listeners; l != NULL; l = l->next)
		listened |= l->mailbox_id == id;
	if (!listened)
		return 0;
	/* not the cached listing statement: store_messages may be iterating with it */
	sqlite3_stmt *stmt;
	if (sqlite3_prepare_v2(store->db, "SELECT uid FROM message WHERE mailbox_id = ?1", -1,
			       &stmt, NULL) != SQLITE_OK)
		return store_fail_sql(store, NULL, "listing messages");
	sqlite3_bind_int64(stmt, 1, (sqlite3_int64)id);
	int r;
	while ((r = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct store_msg msg = { .uid = (uint32_t)sqlite3_column_int64(stmt, 0) };
		store_event_add(store, STORE_EV_EXPUNGED_QUIET, id, &msg);
	}
	sqlite3_finalize(stmt);
	if (r != SQLITE_DONE)
		return store_fail_sql(store, NULL, "listing messages");
	return 0;
}

static int store_exec_id(struct store *store, const char *sql, uint64_t id)
{
	sqlite3_stmt *stmt;
	if (sqlite3_prepare_v2(store->db, sql, -1, &stmt, NULL) != SQLITE_OK)
		return store_fail_sql(store, NULL, "preparing a statement");
	sqlite3_bind_int64(stmt, 1, (sqlite3_int64)id);
	int r = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	if (r != SQLITE_DONE)
		return store_fail_sql(store, NULL, "deleting a mailbox");
	return 0;
}

int store_mailbox_delete(struct store *store, const char *name, const char **error_r)
{
	char norm[STORE_MAILBOX_NAME_MAX + 1];
	store_clear_error(store);
	if (store_name_normalize(store, name, norm) < 0)
		return store_fail(store, STORE_ERR_NOT_FOUND, error_r, "no such mailbox");
	/* RFC 9051 6.3.5: deleting INBOX is an error */
	if (strcmp(norm, "INBOX") == 0)
		return store_fail(store, STORE_ERR_INUSE, error_r, "INBOX cannot be deleted");
	if (store_tx_begin(store) < 0)
		return store_failed(store, error_r);
	struct store_mailbox *mb = xmalloc(sizeof(*mb));
	int r = store_mailbox_load_name(store, norm, mb);
	uint64_t id = r > 0 ? mb->id : 0;
	free(mb);
	if (r <= 0)
		goto fail;
	/* the bodies lose one reference per message; those left at zero go at the commit */
	if (store_mailbox_queue_expunges(store, id) < 0 ||
	    store_exec_id(store,
			  "UPDATE body SET refs = refs - m.c FROM (SELECT body_id, count(*) AS c"
			  " FROM message WHERE mailbox_id = ?1 GROUP BY body_id) AS m"
			  " WHERE body.id = m.body_id",
			  id) < 0 ||
	    store_exec_id(store, "DELETE FROM message WHERE mailbox_id = ?1", id) < 0 ||
	    store_state_drop(store, id) < 0 ||
	    store_exec_id(store, "DELETE FROM expunged WHERE mailbox_id = ?1", id) < 0 ||
	    store_exec_id(store, "DELETE FROM mailbox WHERE id = ?1", id) < 0)
		goto fail;
	if (store_tx_commit(store) < 0)
		return store_failed(store, error_r);
	store_clear_error(store);
	store_events_deliver(store, NULL);
	return 0;
fail:
	store_tx_rollback(store);
	return store_failed(store, error_r);
}

/* ---- public: rename ---- */

struct store_rename_item {
	uint64_t id;
	char *old_name, *new_name;
};

/* RFC 9051 6.3.6: renaming INBOX moves its messages to a new mailbox (new UIDVALIDITY, same
 * UIDs and MODSEQs) and leaves INBOX empty; INBOX's children stay where they are. */
static int store_rename_inbox(struct store *store, const char *to)
{
	struct store_mailbox *inbox = xmalloc(sizeof(*inbox));
	struct store_mailbox *dst = xmalloc(sizeof(*dst));
	uint64_t dst_id;
	int ret = -1;

	if (store_mailbox_load_name(store, "INBOX", inbox) <= 0 ||
	    store_mailbox_create_superiors(store, to) < 0 ||
	    store_mailbox_insert(store, to, 0, &dst_id) < 0 ||
	    store_mailbox_load(store, dst_id, dst) <= 0)
		goto out;
	dst->uidnext = inbox->uidnext;
	dst->highestmodseq = inbox->highestmodseq;
	dst->keyword_count = inbox->keyword_count;
	memcpy(dst->keywords, inbox->keywords, sizeof(dst->keywords));
	dst->messages = inbox->messages;
	dst->unseen = inbox->unseen;
	dst->deleted = inbox->deleted;
	dst->size = inbox->size;

	inbox->highestmodseq++;
	sqlite3_stmt *stmt;
	if (sqlite3_prepare_v2(store->db,
			       "INSERT OR REPLACE INTO expunged (mailbox_id, uid, modseq)"
			       " SELECT mailbox_id, uid, ?2 FROM message WHERE mailbox_id = ?1",
			       -1, &stmt, NULL) != SQLITE_OK) {
		store_fail_sql(store, NULL, "preparing a statement");
		goto out;
	}
	sqlite3_bind_int64(stmt, 1, (sqlite3_int64)inbox->id);
	sqlite3_bind_int64(stmt, 2, (sqlite3_int64)inbox->highestmodseq);
	int r = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	if (r != SQLITE_DONE) {
		store_fail_sql(store, NULL, "logging expunges");
		goto out;
	}
	if (store_mailbox_queue_expunges(store, inbox->id) < 0)
		goto out;
	/* the messages, and their packed state along with them (store-state.c): same UIDs, same
	 * chunks, same counts */
	static const struct {
		const char *sql, *what;
	} move_sql[] = {
		{"UPDATE message SET mailbox_id = ?2 WHERE mailbox_id = ?1", "moving messages"},
		{"UPDATE msgstate SET mailbox_id = ?2 WHERE mailbox_id = ?1", "moving message state"},
		{"UPDATE msgcount SET mailbox_id = ?2 WHERE mailbox_id = ?1", "moving message state"},
	};
	for (size_t q = 0; q < sizeof(move_sql) / sizeof(move_sql[0]); q++) {
		if (sqlite3_prepare_v2(store->db, move_sql[q].sql, -1, &stmt, NULL) != SQLITE_OK) {
			store_fail_sql(store, NULL, "preparing a statement");
			goto out;
		}
		sqlite3_bind_int64(stmt, 1, (sqlite3_int64)inbox->id);
		sqlite3_bind_int64(stmt, 2, (sqlite3_int64)dst_id);
		r = sqlite3_step(stmt);
		sqlite3_finalize(stmt);
		if (r != SQLITE_DONE) {
			store_fail_sql(store, NULL, move_sql[q].what);
			goto out;
		}
	}
	inbox->messages = inbox->unseen = inbox->deleted = 0;
	inbox->size = 0;
	if (store_mailbox_save(store, inbox) < 0 || store_mailbox_save(store, dst) < 0)
		goto out;
	ret = 0;
out:
	free(inbox);
	free(dst);
	return ret;
}

static int store_rename_plain(struct store *store, const char *from, const char *to)
{
	size_t from_len = strlen(from), to_len = strlen(to);
	struct store_rename_item *items = NULL;
	size_t count = 0, alloc = 0;
	struct store_mailbox *mb = xmalloc(sizeof(*mb));
	char lo[STORE_MAILBOX_NAME_MAX + 2], hi[STORE_MAILBOX_NAME_MAX + 2];
	int ret = -1, r;

	if (strncmp(to, from, from_len) == 0 && to[from_len] == '/') {
		store_fail(store, STORE_ERR_INVALID, NULL,
			   "a mailbox cannot be renamed to a name below itself");
		goto out;
	}
	if ((r = store_mailbox_load_name(store, from, mb)) <= 0)
		goto out;
	items = xcalloc(1, sizeof(*items));
	alloc = 1;
	items[0].id = mb->id;
	items[0].old_name = xstrdup(from);
	items[0].new_name = xstrdup(to);
	count = 1;

	/* children: names from "from/" up to but excluding "from0" ('0' follows '/') */
	memcpy(lo, from, from_len);
	memcpy(lo + from_len, "/", 2);
	memcpy(hi, from, from_len);
	memcpy(hi + from_len, "0", 2);
	sqlite3_stmt *stmt = store_stmt(store, STMT_MB_CHILDREN);
	if (stmt == NULL)
		goto out;
	sqlite3_bind_text(stmt, 1, lo, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(stmt, 2, hi, -1, SQLITE_TRANSIENT);
	while ((r = sqlite3_step(stmt)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(stmt, 1);
		size_t len = (size_t)sqlite3_column_bytes(stmt, 1);
		if (name == NULL || len < from_len)
			continue;
		if (count == alloc) {
			alloc *= 2;
			items = xrealloc(items, alloc * sizeof(*items));
		}
		size_t new_len = to_len + (len - from_len);
		char *new_name = xmalloc(new_len + 1);
		memcpy(new_name, to, to_len);
		memcpy(new_name + to_len, name + from_len, len - from_len + 1);
		items[count].id = (uint64_t)sqlite3_column_int64(stmt, 0);
		items[count].old_name = xstrdup(name);
		items[count].new_name = new_name;
		count++;
	}
	sqlite3_reset(stmt);
	if (r != SQLITE_DONE) {
		store_fail_sql(store, NULL, "listing mailboxes");
		goto out;
	}

	/* every new name must be valid and free (names this rename frees count as free) */
	for (size_t i = 0; i < count; i++) {
		char norm[STORE_MAILBOX_NAME_MAX + 1];
		if (store_name_normalize(store, items[i].new_name, norm) < 0)
			goto out;
		if (strcmp(norm, items[i].new_name) != 0) {
			/* "inbox" spelled otherwise would land on INBOX's children */
			store_fail(store, STORE_ERR_INVALID, NULL, "invalid new name");
			goto out;
		}
		if ((r = store_mailbox_load_name(store, items[i].new_name, mb)) < 0)
			goto out;
		bool freed = false;
		for (size_t j = 0; r > 0 && j < count && !freed; j++)
			freed = items[j].id == mb->id;
		if (r > 0 && !freed) {
			store_fail(store, STORE_ERR_EXISTS, NULL, "mailbox %s exists",
				   items[i].new_name);
			goto out;
		}
	}
	store_clear_error(store);

	stmt = store_stmt(store, STMT_MB_SET_NAME);
	if (stmt == NULL)
		goto out;
	for (int phase = 0; phase < 2; phase++) {
		for (size_t i = 0; i < count; i++) {
			char placeholder[32];
			snprintf(placeholder, sizeof(placeholder), "\x01rename-%llu",
				 (unsigned long long)items[i].id);
			sqlite3_bind_int64(stmt, 1, (sqlite3_int64)items[i].id);
			sqlite3_bind_text(stmt, 2, phase == 0 ? placeholder : items[i].new_name, -1,
					  SQLITE_TRANSIENT);
			if (store_stmt_run(store, stmt, "renaming a mailbox") < 0)
				goto out;
		}
	}
	/* subscriptions follow the mailboxes (as Dovecot does): a client that renames a
	 * subscribed folder expects to keep seeing it */
	sqlite3_stmt *sub;
	if (sqlite3_prepare_v2(store->db, "UPDATE OR REPLACE subscription SET name = ?2"
					  " WHERE name = ?1",
			       -1, &sub, NULL) != SQLITE_OK) {
		store_fail_sql(store, NULL, "preparing a statement");
		goto out;
	}
	for (size_t i = 0; i < count; i++) {
		sqlite3_bind_text(sub, 1, items[i].old_name, -1, SQLITE_STATIC);
		sqlite3_bind_text(sub, 2, items[i].new_name, -1, SQLITE_STATIC);
		r = sqlite3_step(sub);
		sqlite3_reset(sub);
		if (r != SQLITE_DONE) {
			sqlite3_finalize(sub);
			store_fail_sql(store, NULL, "renaming a subscription");
			goto out;
		}
	}
	sqlite3_finalize(sub);
	/* RFC 9051 6.3.6: create the superior levels the new name needs */
	if (store_mailbox_create_superiors(store, to) < 0)
		goto out;
	ret = 0;
out:
	for (size_t i = 0; i < count; i++) {
		free(items[i].old_name);
		free(items[i].new_name);
	}
	free(items);
	free(mb);
	return ret;
}

int store_mailbox_rename(struct store *store, const char *from, const char *to,
			 const char **error_r)
{
	char nfrom[STORE_MAILBOX_NAME_MAX + 1], nto[STORE_MAILBOX_NAME_MAX + 1];
	store_clear_error(store);
	if (store_name_normalize(store, from, nfrom) < 0)
		return store_fail(store, STORE_ERR_NOT_FOUND, error_r, "no such mailbox");
	if (store_name_normalize(store, to, nto) < 0)
		return store_failed(store, error_r);
	if (strcmp(nto, "INBOX") == 0 || strcmp(nfrom, nto) == 0)
		return store_fail(store, STORE_ERR_EXISTS, error_r, "mailbox %s exists", nto);
	if (store_tx_begin(store) < 0)
		return store_failed(store, error_r);
	int r = store_mailbox_exists(store, nto);
	if (r != 0) {
		if (r > 0)
			store_fail(store, STORE_ERR_EXISTS, NULL, "mailbox %s exists", nto);
		goto fail;
	}
	if (strcmp(nfrom, "INBOX") == 0 ? store_rename_inbox(store, nto) < 0
					: store_rename_plain(store, nfrom, nto) < 0)
		goto fail;
	if (store_tx_commit(store) < 0)
		return store_failed(store, error_r);
	store_clear_error(store);
	store_events_deliver(store, NULL);
	return 0;
fail:
	store_tx_rollback(store);
	return store_failed(store, error_r);
}

/* ---- public: subscriptions ---- */

int store_subscribe(struct store *store, const char *name, bool subscribe, const char **error_r)
{
	char norm[STORE_MAILBOX_NAME_MAX + 1];
	store_clear_error(store);
	if (store_name_normalize(store, name, norm) < 0)
		return store_failed(store, error_r);
	if (store_tx_begin(store) < 0)
		return store_failed(store, error_r);
	if (store_subscription_set(store, norm, subscribe) < 0) {
		store_tx_rollback(store);
		return store_failed(store, error_r);
	}
	if (store_tx_commit(store) < 0)
		return store_failed(store, error_r);
	return 0;
}

int store_subscriptions(struct store *store, store_name_cb *cb, void *ctx, const char **error_r)
{
	store_clear_error(store);
	sqlite3_stmt *stmt = store_stmt(store, STMT_SUB_LIST);
	if (stmt == NULL)
		return store_failed(store, error_r);
	if (sqlite3_stmt_busy(stmt))
		return store_fail(store, STORE_ERR_INTERNAL, error_r,
				  "store_subscriptions called from its own callback");
	int r;
	while ((r = sqlite3_step(stmt)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(stmt, 0);
		if (name != NULL && cb(ctx, name) < 0) {
			r = SQLITE_DONE;
			break;
		}
	}
	if (r != SQLITE_DONE) {
		store_fail_sql(store, error_r, "listing subscriptions");
		sqlite3_reset(stmt);
		return -1;
	}
	sqlite3_reset(stmt);
	return 0;
}

/* ---- \Recent ---- */

static int store_recent_read(struct store *store, uint64_t mailbox_id, uint32_t *first_r)
{
	sqlite3_stmt *stmt = store_stmt(store, STMT_MB_RECENT_GET);
	if (stmt == NULL)
		return -1;
	sqlite3_bind_int64(stmt, 1, (sqlite3_int64)mailbox_id);
	int r = sqlite3_step(stmt);
	if (r == SQLITE_ROW)
		*first_r = (uint32_t)sqlite3_column_int64(stmt, 0);
	sqlite3_reset(stmt);
	if (r == SQLITE_ROW)
		return 0;
	if (r != SQLITE_DONE)
		return store_fail_sql(store, NULL, "reading a mailbox");
	return store_fail(store, STORE_ERR_NOT_FOUND, NULL, "no such mailbox");
}

int store_recent_claim(struct store *store, uint64_t mailbox_id, uint32_t upto_uid,
		       uint32_t *first_r, const char **error_r)
{
	store_clear_error(store);
	/* the common case (nothing new since the last claim) reads without locking */
	if (store_recent_read(store, mailbox_id, first_r) < 0)
		return store_failed(store, error_r);
	if (*first_r >= upto_uid)
		return 0;
	/* Losing a claim in a crash only makes messages recent once more, so this commit is not
	 * worth an fsync: synchronous=NORMAL leaves it in the WAL, and the next FULL commit
	 * (any change of this store) syncs it along. Quiet: in a deferred window the reply
	 * (SELECT, an EXISTS) does not wait for a sync either, and no other session needs to hear
	 * of it (a claim changes nothing a session shows). */
	if (store_exec(store, "PRAGMA synchronous = NORMAL") < 0)
		return store_failed(store, error_r);
	int ret = -1;
	if (store_tx_begin(store) == 0) {
		sqlite3_stmt *stmt;
		if (store_recent_read(store, mailbox_id, first_r) < 0 ||
		    (stmt = store_stmt(store, STMT_MB_RECENT_SET)) == NULL) {
			store_tx_rollback(store);
		} else {
			sqlite3_bind_int64(stmt, 1, (sqlite3_int64)mailbox_id);
			sqlite3_bind_int64(stmt, 2, upto_uid);
			if (store_stmt_run(store, stmt, "claiming recent messages") < 0)
				store_tx_rollback(store);
			else if (store_tx_commit_quiet(store) == 0)
				ret = 0;
		}
	}
	if (store_sync_mode_restore(store) < 0)
		ret = -1;
	return ret < 0 ? store_failed(store, error_r) : 0;
}

int store_recent_count(struct store *store, uint64_t mailbox_id, uint32_t from_uid,
		       uint32_t *count_r, const char **error_r)
{
	store_clear_error(store);
	sqlite3_stmt *stmt = store_stmt(store, STMT_MSG_COUNT_FROM);
	if (stmt == NULL)
		return store_failed(store, error_r);
	sqlite3_bind_int64(stmt, 1, (sqlite3_int64)mailbox_id);
	sqlite3_bind_int64(stmt, 2, from_uid);
	int r = sqlite3_step(stmt);
	if (r == SQLITE_ROW)
		*count_r = (uint32_t)sqlite3_column_int64(stmt, 0);
	sqlite3_reset(stmt);
	if (r != SQLITE_ROW) {
		store_fail_sql(store, NULL, "counting recent messages");
		return store_failed(store, error_r);
	}
	return 0;
}
