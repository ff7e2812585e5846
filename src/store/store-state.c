/* store-state.c: the packed per-mailbox message state (table msgstate): UID, flags, keywords
 * and MODSEQ of every message, STORE_STATE_UIDS consecutive UIDs per BLOB ("chunk"), written
 * in the same transactions as the message rows. A session's view loads from a few dozen BLOB
 * reads instead of a row per message (SELECT); "changed since MODSEQ" reads only the chunks
 * whose max_modseq is above it (no per-row MODSEQ index to keep up); a STORE over many
 * messages decides what changes without reading a row.
 * The chunks are the only place a message's flags, keywords and MODSEQ are kept (schema 6
 * dropped those columns from the message rows: rewriting 100k rows cost more than everything
 * else a STORE does, see bench/RESULTS.md); a message row holds what never changes.
 * Traps: a message row and its state entry come and go together: every insert or delete of a
 * row goes with store_state_put/store_state_del in the same transaction (store_check finds
 * and repairs a mismatch). Chunks changed by a transaction are held decoded in store->state
 * and written by store_tx_commit just before COMMIT; a rollback drops them. */
#include "store/store-private.h"

#include <stdlib.h>
#include <string.h>

#include "lib/xmalloc.h"

/* One entry per message, ascending by UID, no header. A byte of flags, then what differs from
 * the entry before it, as LEB128 varints:
 *   u8      enum store_flag bits (0x1f) | STATE_KW: keywords follow | STATE_GAP: the UID is
 *           not the one after the previous (a delta follows) | STATE_MODSEQ: the MODSEQ is
 *           not the previous one's (it follows; always set in the first entry)
 *   [varint UID - previous UID]  (the previous of the first is chunk * STORE_STATE_UIDS - 1)
 *   [varint MODSEQ]
 *   [varint keyword mask]
 * Consecutive UIDs changed together cost one byte each: 100k messages after a STORE 1:* are
 * about 100 KiB, so loading a view reads few pages and a big STORE writes little WAL. */
#define STATE_KW 0x20
#define STATE_GAP 0x40
#define STATE_MODSEQ 0x80
#define STATE_ENTRY_MAX (1 + 3 * 10)

static unsigned char *state_put_varint(unsigned char *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	*p++ = (unsigned char)v;
	return p;
}

/* 0 or -1 (truncated or longer than 64 bits) */
static int state_get_varint(const unsigned char **p, const unsigned char *end, uint64_t *v_r)
{
	uint64_t v = 0;
	for (unsigned shift = 0; shift < 64; shift += 7) {
		if (*p == end)
			return -1;
		unsigned char b = *(*p)++;
		if (shift == 63 && b > 1)
			return -1;
		v |= (uint64_t)(b & 0x7f) << shift;
		if ((b & 0x80) == 0) {
			*v_r = v;
			return 0;
		}
	}
	return -1;
}

/* Decode a chunk's BLOB, calling cb for each entry whose MODSEQ is above since. 1 done, 0
 * stopped by cb, -1 damaged (recorded). */
static int state_decode(struct store *store, uint32_t chunk, const unsigned char *p, size_t len,
			uint64_t since, store_msg_cb *cb, void *ctx)
{
	const unsigned char *end = p + len;
	uint64_t base = (uint64_t)chunk * STORE_STATE_UIDS;
	uint64_t uid = base, modseq = 0; /* uid: one past the previous */
	while (p < end) {
		uint8_t b = *p++;
		uint64_t delta = 1, kw = 0;
		if (((b & STATE_GAP) && (state_get_varint(&p, end, &delta) < 0 || delta == 0 ||
					 delta > STORE_STATE_UIDS)) ||
		    ((b & STATE_MODSEQ) && state_get_varint(&p, end, &modseq) < 0) ||
		    ((b & STATE_KW) && state_get_varint(&p, end, &kw) < 0))
			goto damaged;
		uid += delta - 1;
		if (uid == 0 || uid >= base + STORE_STATE_UIDS || modseq == 0)
			goto damaged;
		struct store_msg msg = {
			.uid = (uint32_t)uid,
			.flags = b & 0x1f,
			.keywords = kw,
			.modseq = modseq,
		};
		uid++;
		if (msg.modseq > since && cb(ctx, &msg) < 0)
			return 0;
	}
	return 1;
damaged:
	return store_fail(store, STORE_ERR_INTERNAL, NULL,
			  "message state chunk %u is damaged (kura check --repair rebuilds it)",
			  chunk);
}

/* A chunk's counts (schema 7: the msgstate columns before the data). */
static void state_count(const struct store_msg *m, struct store_chunk_info *info)
{
	info->messages++;
	if ((m->flags & STORE_FLAG_SEEN) == 0)
		info->unseen++;
	if ((m->flags & STORE_FLAG_DELETED) != 0)
		info->deleted++;
	if (m->modseq > info->max_modseq)
		info->max_modseq = m->modseq;
}

/* out has room for count * STATE_ENTRY_MAX bytes; *info_r gets the counts */
static size_t state_encode(uint32_t chunk, const struct store_msg *msgs, size_t count,
			   unsigned char *out, struct store_chunk_info *info_r)
{
	unsigned char *p = out;
	uint64_t next = (uint64_t)chunk * STORE_STATE_UIDS, modseq = 0;
	bool first = true;
	memset(info_r, 0, sizeof(*info_r));
	info_r->chunk = chunk;
	for (size_t i = 0; i < count; i++) {
		const struct store_msg *m = &msgs[i];
		if (m->flags & STORE_STATE_GONE)
			continue;
		state_count(m, info_r);
		unsigned char *b = p++;
		*b = m->flags & 0x1f;
		if (m->uid != next) {
			*b |= STATE_GAP;
			p = state_put_varint(p, m->uid - next + 1);
		}
		if (m->modseq != modseq || first) {
			*b |= STATE_MODSEQ;
			p = state_put_varint(p, m->modseq);
		}
		if (m->keywords != 0) {
			*b |= STATE_KW;
			p = state_put_varint(p, m->keywords);
		}
		next = (uint64_t)m->uid + 1;
		modseq = m->modseq;
		first = false;
	}
	return (size_t)(p - out);
}

/* ---- reading committed state ---- */

int store_state_read(struct store *store, uint64_t mailbox_id, uint64_t since, store_msg_cb *cb,
		     void *ctx)
{
	sqlite3_stmt *stmt = store_stmt(store, STMT_STATE_LIST);
	if (stmt == NULL)
		return -1;
	if (sqlite3_stmt_busy(stmt))
		return store_fail(store, STORE_ERR_INTERNAL, NULL,
				  "message state read from its own callback");
	sqlite3_bind_int64(stmt, 1, (sqlite3_int64)mailbox_id);
	sqlite3_bind_int64(stmt, 2, (sqlite3_int64)since);
	int r, d = 1;
	while ((r = sqlite3_step(stmt)) == SQLITE_ROW) {
		uint32_t chunk = (uint32_t)sqlite3_column_int64(stmt, 0);
		const unsigned char *data = sqlite3_column_blob(stmt, 1);
		size_t len = (size_t)sqlite3_column_bytes(stmt, 1);
		if ((d = state_decode(store, chunk, data, len, since, cb, ctx)) <= 0)
			break;
	}
	sqlite3_reset(stmt);
	if (d < 0)
		return -1;
	if (d > 0 && r != SQLITE_DONE)
		return store_fail_sql(store, NULL, "reading message state");
	return 0;
}

/* ---- chunks changed by the current transaction ---- */

static int state_chunk_push(void *ctx, const struct store_msg *msg)
{
	struct store_state_chunk *c = ctx;
	if (c->count == c->alloc) {
		c->alloc = c->alloc == 0 ? 64 : c->alloc * 2;
		c->msgs = xrealloc(c->msgs, c->alloc * sizeof(*c->msgs));
	}
	c->msgs[c->count++] = *msg;
	return 0;
}

int store_state_load(struct store *store, uint64_t mailbox_id, struct store_msg **msgs_r,
		     size_t *count_r)
{
	struct store_state_chunk all = { .mailbox_id = mailbox_id };
	*msgs_r = NULL;
	*count_r = 0;
	if (store_state_read(store, mailbox_id, 0, state_chunk_push, &all) < 0) {
		free(all.msgs);
		return -1;
	}
	*msgs_r = all.msgs;
	*count_r = all.count;
	return 0;
}

/* Load one chunk from the database into c (empty if it has no row). */
static int state_chunk_load(struct store *store, struct store_state_chunk *c)
{
	sqlite3_stmt *stmt = store_stmt(store, STMT_STATE_GET);
	if (stmt == NULL)
		return -1;
	sqlite3_bind_int64(stmt, 1, (sqlite3_int64)c->mailbox_id);
	sqlite3_bind_int64(stmt, 2, c->chunk);
	int r = sqlite3_step(stmt), d = 1;
	if (r == SQLITE_ROW)
		d = state_decode(store, c->chunk, sqlite3_column_blob(stmt, 0),
				 (size_t)sqlite3_column_bytes(stmt, 0), 0, state_chunk_push, c);
	sqlite3_reset(stmt);
	if (d < 0)
		return -1;
	if (r != SQLITE_ROW && r != SQLITE_DONE)
		return store_fail_sql(store, NULL, "reading message state");
	return 0;
}

struct store_state_chunk *store_state_chunk(struct store *store, uint64_t mailbox_id,
					    uint32_t chunk)
{
	struct store_state_cache *s = &store->state;
	/* the last two used: a COPY alternates between a source and a destination chunk */
	for (unsigned k = 0; k < 2; k++) {
		size_t i = k == 0 ? s->last : s->prev;
		if (i < s->count && s->c[i].mailbox_id == mailbox_id && s->c[i].chunk == chunk) {
			if (k == 1) {
				s->prev = s->last;
				s->last = i;
			}
			return &s->c[i];
		}
	}
	for (size_t i = s->count; i-- > 0;) {
		if (s->c[i].mailbox_id == mailbox_id && s->c[i].chunk == chunk) {
			s->prev = s->last;
			s->last = i;
			return &s->c[i];
		}
	}
	if (s->count == s->alloc) {
		s->alloc = s->alloc == 0 ? 8 : s->alloc * 2;
		s->c = xrealloc(s->c, s->alloc * sizeof(*s->c));
	}
	struct store_state_chunk *c = &s->c[s->count];
	memset(c, 0, sizeof(*c));
	c->mailbox_id = mailbox_id;
	c->chunk = chunk;
	if (state_chunk_load(store, c) < 0) {
		free(c->msgs);
		return NULL;
	}
	s->prev = s->last;
	s->last = s->count++;
	return c;
}

/* Index of the first entry with a UID >= uid. */
size_t store_state_chunk_find(const struct store_state_chunk *c, uint32_t uid)
{
	size_t lo = 0, hi = c->count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (c->msgs[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int store_state_put(struct store *store, uint64_t mailbox_id, const struct store_msg *msg)
{
	struct store_state_chunk *c = store_state_chunk(store, mailbox_id,
							msg->uid / STORE_STATE_UIDS);
	if (c == NULL)
		return -1;
	size_t i = c->count > 0 && c->msgs[c->count - 1].uid < msg->uid
			   ? c->count
			   : store_state_chunk_find(c, msg->uid);
	if (i == c->count || c->msgs[i].uid != msg->uid) {
		state_chunk_push(c, msg);
		memmove(&c->msgs[i + 1], &c->msgs[i], (c->count - 1 - i) * sizeof(*c->msgs));
	}
	c->msgs[i] = *msg;
	c->dirty = true;
	return 0;
}

int store_state_del(struct store *store, uint64_t mailbox_id, uint32_t uid)
{
	struct store_state_chunk *c = store_state_chunk(store, mailbox_id, uid / STORE_STATE_UIDS);
	if (c == NULL)
		return -1;
	size_t i = store_state_chunk_find(c, uid);
	if (i < c->count && c->msgs[i].uid == uid) {
		/* marked, not removed: an EXPUNGE of 10k messages from the front of their chunks
		 * would move each chunk's rest once per message; the commit leaves them out */
		c->msgs[i].flags |= STORE_STATE_GONE;
		c->dirty = true;
	}
	return 0;
}

int store_state_get(struct store *store, uint64_t mailbox_id, uint32_t uid,
		    struct store_msg *msg_r)
{
	struct store_state_chunk *c = store_state_chunk(store, mailbox_id, uid / STORE_STATE_UIDS);
	if (c == NULL)
		return -1;
	size_t i = store_state_chunk_find(c, uid);
	if (i == c->count || c->msgs[i].uid != uid || (c->msgs[i].flags & STORE_STATE_GONE) != 0)
		return 0;
	*msg_r = c->msgs[i];
	return 1;
}

static void state_chunk_free(struct store_state_chunk *c)
{
	free(c->msgs);
	c->msgs = NULL;
	c->count = c->alloc = 0;
}

void store_state_clear(struct store *store)
{
	struct store_state_cache *s = &store->state;
	for (size_t i = 0; i < s->count; i++)
		state_chunk_free(&s->c[i]);
	s->count = s->last = s->prev = 0;
	if (s->alloc > 64) {
		free(s->c);
		s->c = NULL;
		s->alloc = 0;
	}
}

/* Forget the cached chunks of one mailbox (its rows are about to be replaced wholesale). */
static void state_forget(struct store *store, uint64_t mailbox_id)
{
	struct store_state_cache *s = &store->state;
	size_t w = 0;
	for (size_t i = 0; i < s->count; i++) {
		if (s->c[i].mailbox_id == mailbox_id)
			state_chunk_free(&s->c[i]);
		else
			s->c[w++] = s->c[i];
	}
	s->count = w;
	s->last = s->prev = 0;
}

/* A chunk's counts (msgcount, schema 7), written with the chunk. */
static int state_count_write(struct store *store, uint64_t mailbox_id,
			     const struct store_chunk_info *info)
{
	sqlite3_stmt *stmt = store_stmt(store, STMT_COUNT_SET);
	if (stmt == NULL)
		return -1;
	sqlite3_bind_int64(stmt, 1, (sqlite3_int64)mailbox_id);
	sqlite3_bind_int64(stmt, 2, info->chunk);
	sqlite3_bind_int64(stmt, 3, (sqlite3_int64)info->max_modseq);
	sqlite3_bind_int64(stmt, 4, info->messages);
	sqlite3_bind_int64(stmt, 5, info->unseen);
	sqlite3_bind_int64(stmt, 6, info->deleted);
	return store_stmt_run(store, stmt, "writing message counts");
}

/* counts: write msgcount too (not in the schema 6 migration, which runs before the table
 * exists; version 7's step counts every chunk) */
static int state_write(struct store *store, uint64_t mailbox_id, uint32_t chunk,
		       const struct store_msg *msgs, size_t count, unsigned char **buf,
		       size_t *buf_size, bool counts)
{
	sqlite3_stmt *stmt;
	if (count * STATE_ENTRY_MAX > *buf_size) {
		*buf_size = count * STATE_ENTRY_MAX;
		*buf = xrealloc(*buf, *buf_size);
	}
	struct store_chunk_info info;
	size_t len = count == 0 ? 0 : state_encode(chunk, msgs, count, *buf, &info);
	if (len == 0) {
		/* no message left (every entry expunged) */
		if ((stmt = store_stmt(store, STMT_STATE_DELETE)) == NULL)
			return -1;
		sqlite3_bind_int64(stmt, 1, (sqlite3_int64)mailbox_id);
		sqlite3_bind_int64(stmt, 2, chunk);
		if (store_stmt_run(store, stmt, "writing message state") < 0)
			return -1;
		if (!counts)
			return 0;
		if ((stmt = store_stmt(store, STMT_COUNT_DELETE)) == NULL)
			return -1;
		sqlite3_bind_int64(stmt, 1, (sqlite3_int64)mailbox_id);
		sqlite3_bind_int64(stmt, 2, chunk);
		return store_stmt_run(store, stmt, "writing message counts");
	}
	if ((stmt = store_stmt(store, STMT_STATE_SET)) == NULL)
		return -1;
	sqlite3_bind_int64(stmt, 1, (sqlite3_int64)mailbox_id);
	sqlite3_bind_int64(stmt, 2, chunk);
	sqlite3_bind_int64(stmt, 3, (sqlite3_int64)info.max_modseq);
	sqlite3_bind_blob(stmt, 4, *buf, (int)len, SQLITE_STATIC);
	int r = store_stmt_run(store, stmt, "writing message state");
	sqlite3_clear_bindings(stmt);
	if (r < 0 || !counts)
		return r;
	return state_count_write(store, mailbox_id, &info);
}

int store_state_flush(struct store *store)
{
	struct store_state_cache *s = &store->state;
	unsigned char *buf = NULL;
	size_t buf_size = 0;
	int ret = 0;
	for (size_t i = 0; i < s->count && ret == 0; i++) {
		struct store_state_chunk *c = &s->c[i];
		if (c->dirty)
			ret = state_write(store, c->mailbox_id, c->chunk, c->msgs, c->count, &buf,
					  &buf_size, true);
	}
	free(buf);
	store_state_clear(store);
	return ret;
}

/* ---- whole mailboxes ---- */

static int state_drop(struct store *store, uint64_t mailbox_id, bool counts)
{
	state_forget(store, mailbox_id);
	sqlite3_stmt *stmt = store_stmt(store, STMT_STATE_DROP);
	if (stmt == NULL)
		return -1;
	sqlite3_bind_int64(stmt, 1, (sqlite3_int64)mailbox_id);
	if (store_stmt_run(store, stmt, "dropping message state") < 0)
		return -1;
	if (!counts)
		return 0;
	if ((stmt = store_stmt(store, STMT_COUNT_DROP)) == NULL)
		return -1;
	sqlite3_bind_int64(stmt, 1, (sqlite3_int64)mailbox_id);
	return store_stmt_run(store, stmt, "dropping message counts");
}

int store_state_drop(struct store *store, uint64_t mailbox_id)
{
	return state_drop(store, mailbox_id, true);
}

/* Write msgs (ascending) as the mailbox's chunks, replacing all it had (counts: and their
 * counts, see state_write). */
static int state_write_all(struct store *store, uint64_t mailbox_id, const struct store_msg *msgs,
			   size_t count, bool counts)
{
	unsigned char *buf = NULL;
	size_t buf_size = 0;
	if (state_drop(store, mailbox_id, counts) < 0)
		return -1;
	int ret = 0;
	for (size_t i = 0; i < count && ret == 0;) {
		uint32_t chunk = msgs[i].uid / STORE_STATE_UIDS;
		size_t j = i;
		while (j < count && msgs[j].uid / STORE_STATE_UIDS == chunk)
			j++;
		ret = state_write(store, mailbox_id, chunk, msgs + i, j - i, &buf, &buf_size,
				  counts);
		i = j;
	}
	free(buf);
	return ret;
}

/* The UIDs of a mailbox's rows, ascending (malloc'd). */
static int state_row_uids(struct store *store, uint64_t mailbox_id, uint32_t **uids_r,
			  size_t *count_r)
{
	sqlite3_stmt *stmt;
	uint32_t *uids = NULL;
	size_t count = 0, alloc = 0;
	*uids_r = NULL;
	*count_r = 0;
	/* not a cached statement: a caller may be iterating with one */
	if (sqlite3_prepare_v2(store->db,
			       "SELECT uid FROM message WHERE mailbox_id = ?1 ORDER BY uid", -1,
			       &stmt, NULL) != SQLITE_OK)
		return store_fail_sql(store, NULL, "listing messages");
	sqlite3_bind_int64(stmt, 1, (sqlite3_int64)mailbox_id);
	int r;
	while ((r = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (count == alloc) {
			alloc = alloc == 0 ? 256 : alloc * 2;
			uids = xrealloc(uids, alloc * sizeof(*uids));
		}
		uids[count++] = (uint32_t)sqlite3_column_int64(stmt, 0);
	}
	sqlite3_finalize(stmt);
	if (r != SQLITE_DONE) {
		free(uids);
		return store_fail_sql(store, NULL, "listing messages");
	}
	*uids_r = uids;
	*count_r = count;
	return 0;
}

/* One integer from sql with ?1 = id. */
static int store_exec_count(struct store *store, const char *sql, uint64_t id, int64_t *v_r)
{
	sqlite3_stmt *stmt;
	if (sqlite3_prepare_v2(store->db, sql, -1, &stmt, NULL) != SQLITE_OK)
		return store_fail_sql(store, NULL, "counting");
	sqlite3_bind_int64(stmt, 1, (sqlite3_int64)id);
	int r = sqlite3_step(stmt);
	*v_r = r == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : 0;
	sqlite3_finalize(stmt);
	return r == SQLITE_ROW ? 0 : store_fail_sql(store, NULL, "counting");
}

/* Every decodable chunk of a mailbox into c; *damaged_r counts the chunks that were not,
 * *miscounted_r those whose counts (schema 7) disagree with their entries. */
static int state_load_all(struct store *store, uint64_t mailbox_id,
			  struct store_state_chunk *c, size_t *damaged_r, size_t *miscounted_r)
{
	sqlite3_stmt *stmt;
	*damaged_r = 0;
	*miscounted_r = 0;
	/* a chunk without its count row, or the reverse, is miscounted too */
	if (sqlite3_prepare_v2(store->db,
			       "SELECT s.chunk, s.data, c.messages, c.unseen, c.deleted, c.max_modseq"
			       " FROM msgstate s LEFT JOIN msgcount c"
			       " ON c.mailbox_id = s.mailbox_id AND c.chunk = s.chunk"
			       " WHERE s.mailbox_id = ?1 ORDER BY s.chunk",
			       -1, &stmt, NULL) != SQLITE_OK)
		return store_fail_sql(store, NULL, "reading message state");
	int64_t orphan_counts = 0;
	if (store_exec_count(store, "SELECT COUNT(*) FROM msgcount c WHERE mailbox_id = ?1 AND"
				    " NOT EXISTS (SELECT 1 FROM msgstate s WHERE s.mailbox_id ="
				    " c.mailbox_id AND s.chunk = c.chunk)",
			     mailbox_id, &orphan_counts) < 0) {
		sqlite3_finalize(stmt);
		return -1;
	}
	*miscounted_r = (size_t)orphan_counts;
	sqlite3_bind_int64(stmt, 1, (sqlite3_int64)mailbox_id);
	int r;
	while ((r = sqlite3_step(stmt)) == SQLITE_ROW) {
		uint32_t chunk = (uint32_t)sqlite3_column_int64(stmt, 0);
		size_t before = c->count;
		if (state_decode(store, chunk, sqlite3_column_blob(stmt, 1),
				 (size_t)sqlite3_column_bytes(stmt, 1), 0, state_chunk_push, c) < 0) {
			c->count = before; /* none of a damaged chunk is trusted */
			(*damaged_r)++;
			continue;
		}
		struct store_chunk_info info = { .chunk = chunk };
		for (size_t i = before; i < c->count; i++)
			state_count(&c->msgs[i], &info);
		if (sqlite3_column_type(stmt, 2) == SQLITE_NULL ||
		    info.messages != (uint64_t)sqlite3_column_int64(stmt, 2) ||
		    info.unseen != (uint64_t)sqlite3_column_int64(stmt, 3) ||
		    info.deleted != (uint64_t)sqlite3_column_int64(stmt, 4) ||
		    info.max_modseq != (uint64_t)sqlite3_column_int64(stmt, 5))
			(*miscounted_r)++;
	}
	sqlite3_finalize(stmt);
	store_clear_error(store);
	if (r != SQLITE_DONE)
		return store_fail_sql(store, NULL, "reading message state");
	return 0;
}

int store_state_check(struct store *store, uint64_t mailbox_id, bool repair,
		      uint64_t valid_keywords, uint64_t new_modseq,
		      struct store_state_summary *sum)
{
	uint32_t *uids;
	size_t nuids;
	struct store_state_chunk have = { .mailbox_id = mailbox_id };
	memset(sum, 0, sizeof(*sum));
	state_forget(store, mailbox_id);
	if (state_row_uids(store, mailbox_id, &uids, &nuids) < 0)
		return -1;
	if (state_load_all(store, mailbox_id, &have, &sum->damaged, &sum->miscounted) < 0) {
		free(uids);
		free(have.msgs);
		return -1;
	}
	/* the state the mailbox should have: an entry per row, in UID order */
	struct store_msg *want = xmalloc((nuids > 0 ? nuids : 1) * sizeof(*want));
	size_t j = 0;
	for (size_t i = 0; i < nuids; i++) {
		while (j < have.count && have.msgs[j].uid < uids[i]) {
			sum->extra++; /* no row: the message is gone */
			j++;
		}
		if (j < have.count && have.msgs[j].uid == uids[i]) {
			want[i] = have.msgs[j++];
		} else {
			/* lost (a damaged chunk): its flags are unknown; unseen, with a MODSEQ
			 * that tells every client to fetch them again */
			want[i] = (struct store_msg){ .uid = uids[i], .modseq = new_modseq };
			sum->missing++;
		}
		if ((want[i].keywords & ~valid_keywords) != 0) {
			sum->stray_keywords++;
			want[i].keywords &= valid_keywords;
		}
		if ((want[i].flags & STORE_FLAG_SEEN) == 0)
			sum->unseen++;
		if ((want[i].flags & STORE_FLAG_DELETED) != 0)
			sum->deleted++;
		if (want[i].modseq > sum->max_modseq)
			sum->max_modseq = want[i].modseq;
	}
	sum->extra += have.count - j;
	sum->messages = nuids;
	int ret = 0;
	if (repair && (sum->missing > 0 || sum->extra > 0 || sum->damaged > 0 ||
		       sum->stray_keywords > 0 || sum->miscounted > 0))
		ret = state_write_all(store, mailbox_id, want, nuids, true);
	free(want);
	free(uids);
	free(have.msgs);
	return ret;
}

/* Schema version 6 (store-db.c), one self-contained step in the migration's transaction: the
 * chunks are built from the rows' flags, keywords and MODSEQ columns, which then go, with the
 * index on MODSEQ (the chunks' max_modseq serves "changed since"). */
int store_state_migrate(struct store *store)
{
	sqlite3_stmt *mbs, *rows;
	if (store_exec(store, "CREATE TABLE msgstate ("
			      " mailbox_id INTEGER NOT NULL REFERENCES mailbox(id),"
			      " chunk INTEGER NOT NULL,"
			      " max_modseq INTEGER NOT NULL,"
			      " data BLOB NOT NULL,"
			      " PRIMARY KEY (mailbox_id, chunk)) WITHOUT ROWID;") < 0)
		return -1;
	if (sqlite3_prepare_v2(store->db, "SELECT id FROM mailbox", -1, &mbs, NULL) != SQLITE_OK)
		return store_fail_sql(store, NULL, "listing mailboxes");
	if (sqlite3_prepare_v2(store->db,
			       "SELECT uid, flags, keywords, modseq FROM message"
			       " WHERE mailbox_id = ?1 ORDER BY uid",
			       -1, &rows, NULL) != SQLITE_OK) {
		sqlite3_finalize(mbs);
		return store_fail_sql(store, NULL, "listing messages");
	}
	struct store_state_chunk all = { 0 };
	int r, ret = 0;
	while (ret == 0 && (r = sqlite3_step(mbs)) == SQLITE_ROW) {
		uint64_t id = (uint64_t)sqlite3_column_int64(mbs, 0);
		all.count = 0;
		sqlite3_bind_int64(rows, 1, (sqlite3_int64)id);
		while ((r = sqlite3_step(rows)) == SQLITE_ROW) {
			struct store_msg msg = {
				.uid = (uint32_t)sqlite3_column_int64(rows, 0),
				.flags = (uint8_t)(sqlite3_column_int(rows, 1) & 0x1f),
				.keywords = (uint64_t)sqlite3_column_int64(rows, 2),
				.modseq = (uint64_t)sqlite3_column_int64(rows, 3),
			};
			state_chunk_push(&all, &msg);
		}
		sqlite3_reset(rows);
		if (r != SQLITE_DONE)
			ret = store_fail_sql(store, NULL, "listing messages");
		else
			ret = state_write_all(store, id, all.msgs, all.count, false);
	}
	if (ret == 0 && r != SQLITE_DONE)
		ret = store_fail_sql(store, NULL, "listing mailboxes");
	sqlite3_finalize(rows);
	sqlite3_finalize(mbs);
	free(all.msgs);
	if (ret < 0)
		return -1;
	return store_exec(store, "DROP INDEX IF EXISTS message_modseq;"
				 "ALTER TABLE message DROP COLUMN flags;"
				 "ALTER TABLE message DROP COLUMN keywords;"
				 "ALTER TABLE message DROP COLUMN modseq;");
}

/* Schema version 7 (store-db.c): msgcount, each chunk's counts, from the chunks. A damaged
 * chunk gets no row (kura check reports it, --repair rewrites both). */
int store_state_migrate_counts(struct store *store)
{
	sqlite3_stmt *rows;
	/* IF NOT EXISTS and emptied: a store copied back by hand to an older schema number */
	if (store_exec(store, "CREATE TABLE IF NOT EXISTS msgcount ("
			      " mailbox_id INTEGER NOT NULL REFERENCES mailbox(id),"
			      " chunk INTEGER NOT NULL,"
			      " max_modseq INTEGER NOT NULL,"
			      " messages INTEGER NOT NULL,"
			      " unseen INTEGER NOT NULL,"
			      " deleted INTEGER NOT NULL,"
			      " PRIMARY KEY (mailbox_id, chunk)) WITHOUT ROWID;"
			      "DELETE FROM msgcount;") < 0)
		return -1;
	if (sqlite3_prepare_v2(store->db, "SELECT mailbox_id, chunk, data FROM msgstate", -1, &rows,
			       NULL) != SQLITE_OK)
		return store_fail_sql(store, NULL, "reading message state");
	struct store_state_chunk c = { 0 };
	int r, ret = 0;
	while (ret == 0 && (r = sqlite3_step(rows)) == SQLITE_ROW) {
		uint64_t mailbox_id = (uint64_t)sqlite3_column_int64(rows, 0);
		uint32_t chunk = (uint32_t)sqlite3_column_int64(rows, 1);
		c.count = 0;
		if (state_decode(store, chunk, sqlite3_column_blob(rows, 2),
				 (size_t)sqlite3_column_bytes(rows, 2), 0, state_chunk_push, &c) <= 0) {
			store_clear_error(store);
			continue;
		}
		struct store_chunk_info info = { .chunk = chunk };
		for (size_t i = 0; i < c.count; i++)
			state_count(&c.msgs[i], &info);
		ret = state_count_write(store, mailbox_id, &info);
	}
	if (ret == 0 && r != SQLITE_DONE)
		ret = store_fail_sql(store, NULL, "reading message state");
	sqlite3_finalize(rows);
	free(c.msgs);
	return ret;
}

/* ---- a view's reads (imap/imap-view.c) ---- */

int store_mailbox_chunks(struct store *store, uint64_t mailbox_id, struct store_mailbox *mb_r,
			 struct store_chunk_info **chunks_r, size_t *count_r, const char **error_r)
{
	store_clear_error(store);
	*chunks_r = NULL;
	*count_r = 0;
	sqlite3_stmt *stmt = store_stmt(store, STMT_STATE_SUMMARY);
	if (stmt == NULL)
		return store_failed(store, error_r);
	/* one read snapshot for the mailbox row (HIGHESTMODSEQ, UIDNEXT) and the counts */
	bool own_tx = sqlite3_get_autocommit(store->db) != 0;
	if (own_tx && store_exec(store, "BEGIN DEFERRED") < 0)
		return store_failed(store, error_r);
	struct store_chunk_info *chunks = NULL;
	size_t count = 0, alloc = 0;
	int ret = store_mailbox_load(store, mailbox_id, mb_r);
	if (ret == 1) {
		sqlite3_bind_int64(stmt, 1, (sqlite3_int64)mailbox_id);
		int r;
		while ((r = sqlite3_step(stmt)) == SQLITE_ROW) {
			if (count == alloc) {
				alloc = alloc == 0 ? 64 : alloc * 2;
				chunks = xrealloc(chunks, alloc * sizeof(*chunks));
			}
			struct store_chunk_info *c = &chunks[count++];
			c->chunk = (uint32_t)sqlite3_column_int64(stmt, 0);
			c->messages = (uint32_t)sqlite3_column_int64(stmt, 1);
			c->unseen = (uint32_t)sqlite3_column_int64(stmt, 2);
			c->deleted = (uint32_t)sqlite3_column_int64(stmt, 3);
			c->max_modseq = (uint64_t)sqlite3_column_int64(stmt, 4);
		}
		sqlite3_reset(stmt);
		if (r != SQLITE_DONE)
			ret = store_fail_sql(store, NULL, "reading message state");
	}
	if (own_tx && store_exec(store, ret < 0 ? "ROLLBACK" : "COMMIT") < 0)
		ret = -1;
	if (ret <= 0) {
		free(chunks);
		if (ret < 0)
			return store_failed(store, error_r);
		store_clear_error(store);
		return 0;
	}
	*chunks_r = chunks;
	*count_r = count;
	return 1;
}

int store_chunk_messages(struct store *store, uint64_t mailbox_id, uint32_t chunk,
			 uint64_t since, store_msg_cb *cb, store_uid_cb *expunged_cb, void *ctx,
			 const char **error_r)
{
	store_clear_error(store);
	sqlite3_stmt *get = store_stmt(store, STMT_STATE_GET);
	sqlite3_stmt *gone = store_stmt(store, STMT_EXPUNGED_RANGE);
	if (get == NULL || gone == NULL)
		return store_failed(store, error_r);
	if (sqlite3_stmt_busy(get) || sqlite3_stmt_busy(gone))
		return store_fail(store, STORE_ERR_INTERNAL, error_r,
				  "store_chunk_messages called from its own callback");
	/* one snapshot: a message expunged between two reads would be in neither */
	bool own_tx = sqlite3_get_autocommit(store->db) != 0;
	if (own_tx && store_exec(store, "BEGIN DEFERRED") < 0)
		return store_failed(store, error_r);
	sqlite3_bind_int64(get, 1, (sqlite3_int64)mailbox_id);
	sqlite3_bind_int64(get, 2, chunk);
	int r = sqlite3_step(get), d = 1;
	if (r == SQLITE_ROW)
		d = state_decode(store, chunk, sqlite3_column_blob(get, 0),
				 (size_t)sqlite3_column_bytes(get, 0), 0, cb, ctx);
	sqlite3_reset(get);
	int ret = 0;
	if (d < 0)
		ret = -1;
	else if (r != SQLITE_ROW && r != SQLITE_DONE)
		ret = store_fail_sql(store, NULL, "reading message state");
	if (ret == 0 && d > 0) {
		uint64_t base = (uint64_t)chunk * STORE_STATE_UIDS;
		sqlite3_bind_int64(gone, 1, (sqlite3_int64)mailbox_id);
		sqlite3_bind_int64(gone, 2, (sqlite3_int64)base);
		sqlite3_bind_int64(gone, 3, (sqlite3_int64)(base + STORE_STATE_UIDS));
		sqlite3_bind_int64(gone, 4, (sqlite3_int64)since);
		while ((r = sqlite3_step(gone)) == SQLITE_ROW) {
			if (expunged_cb(ctx, (uint32_t)sqlite3_column_int64(gone, 0)) < 0) {
				r = SQLITE_DONE;
				break;
			}
		}
		sqlite3_reset(gone);
		if (r != SQLITE_DONE)
			ret = store_fail_sql(store, NULL, "reading expunges");
	}
	if (own_tx && store_exec(store, ret < 0 ? "ROLLBACK" : "COMMIT") < 0)
		ret = -1;
	return ret < 0 ? store_failed(store, error_r) : 0;
}
