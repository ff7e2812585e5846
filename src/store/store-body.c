/* store-body.c: the content-addressed body files, ROOT/USER/bodies/XX/HASH (HASH the hex SHA-256
 * of the exact bytes, XX its first two digits), and the structure cached with each body.
 * Traps: a file is complete once it has its final name (it is fsynced under a temporary name
 * first), but its name is durable only after its folder is fsynced, which must happen before
 * the commit of a row that names it; temporary names start with '.', which no hash does, so
 * the sweep can tell them apart; the rendered ENVELOPE/BODYSTRUCTURE have a hard size cap
 * (hostile headers expand a lot) and fall back to a minimal valid form rather than refusing
 * the message. */
#include "store/store-private.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/fdutil.h"
#include "lib/log.h"
#include "lib/xmalloc.h"
#include "mail/bodystructure.h"
#include "mail/envelope.h"
#include "mail/mime.h"
#include "mail/mime-parts.h"

#define STORE_RENDER_MAX (16u * 1024 * 1024)

void store_hash_hex(const void *data, size_t size, char hex[STORE_HASH_HEX + 1])
{
	static const char digits[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	if (EVP_Digest(data, size, md, &len, EVP_sha256(), NULL) != 1 || len != 32)
		xabort("SHA-256 failed");
	for (unsigned i = 0; i < 32; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 15];
	}
	hex[STORE_HASH_HEX] = '\0';
}

bool store_hash_valid(const char *hex)
{
	size_t i;
	for (i = 0; hex[i] != '\0'; i++) {
		char c = hex[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) || i >= STORE_HASH_HEX)
			return false;
	}
	return i == STORE_HASH_HEX;
}

void store_body_relpath(const char *hash, char out[STORE_HASH_HEX + 4])
{
	out[0] = hash[0];
	out[1] = hash[1];
	out[2] = '/';
	memcpy(out + 3, hash, STORE_HASH_HEX + 1);
}

static unsigned store_hex_value(char c)
{
	return c <= '9' ? (unsigned)(c - '0') : (unsigned)(c - 'a' + 10);
}

int store_body_file_check(struct store *store, const char *hash, uint64_t size)
{
	char rel[STORE_HASH_HEX + 4];
	struct stat st;
	store_body_relpath(hash, rel);
	if (fstatat(store->bodies_fd, rel, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 0;
		return store_fail(store, STORE_ERR_INTERNAL, NULL, "cannot stat body %s: %s", hash,
				  strerror(errno));
	}
	return S_ISREG(st.st_mode) && (uint64_t)st.st_size == size ? 1 : 0;
}

static unsigned store_dir_index(const char *hash)
{
	return store_hex_value(hash[0]) * 16 + store_hex_value(hash[1]);
}

static void store_body_tmpname(const char *hash, unsigned long seq, char *out, size_t size)
{
	snprintf(out, size, "%c%c/.tmp.%s.%ld.%lu", hash[0], hash[1], hash, (long)getpid(), seq);
}

void store_body_batch_init(struct store_body_batch *b, bool whole_fs)
{
	memset(b, 0, sizeof(*b));
	b->whole_fs = whole_fs;
}

int store_body_batch_add(struct store *store, struct store_body_batch *b, const char *hash,
			 const void *data, size_t size)
{
	static unsigned long counter;
	char tmp[STORE_HASH_HEX + 64];

	if (b->count == b->alloc) {
		size_t n = b->alloc == 0 ? 16 : b->alloc * 2, bytes;
		if (size_mul(n, sizeof(*b->f), &bytes) < 0)
			xabort("body batch overflow");
		b->f = xrealloc(b->f, bytes);
		b->alloc = n;
	}
	unsigned long seq = __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);
	store_body_tmpname(hash, seq, tmp, sizeof(tmp));
	int fd = openat(store->bodies_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
			0600);
	if (fd < 0 && errno == ENOENT) {
		/* the first body in this folder: create it (bodies/ then needs an fsync) */
		char dir[3] = { hash[0], hash[1], '\0' };
		if (mkdirat(store->bodies_fd, dir, 0700) == 0)
			b->dirs[32] |= 1;
		else if (errno != EEXIST)
			return store_fail(store, STORE_ERR_INTERNAL, NULL,
					  "cannot create bodies/%s: %s", dir, strerror(errno));
		fd = openat(store->bodies_fd, tmp,
			    O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	}
	if (fd < 0)
		return store_fail(store, STORE_ERR_INTERNAL, NULL, "cannot create a body file: %s",
				  strerror(errno));
	/* one syncfs later covers the file: no need to keep it open */
	if (fd_write_all(fd, data, size) < 0 || (b->whole_fs && close(fd) < 0)) {
		int e = errno;
		if (!b->whole_fs)
			close(fd);
		unlinkat(store->bodies_fd, tmp, 0);
		return store_fail(store, STORE_ERR_INTERNAL, NULL, "cannot write a body file: %s",
				  strerror(e));
	}
	b->f[b->count].fd = b->whole_fs ? -1 : fd;
	b->f[b->count].seq = seq;
	memcpy(b->f[b->count].hash, hash, STORE_HASH_HEX + 1);
	b->count++;
	return 0;
}

/* Make the pending files durable, then give them their final names. A few files get one
 * fsync each; for a batch (whole_fs), one syncfs() of the filesystem is far cheaper than one
 * journal commit per file (measured on ext4 under concurrent load: 1024 small files took
 * 3.6 s with an fsync each, 0.04-0.08 s with one syncfs per 128). syncfs reports writeback
 * errors since Linux 5.8. Its cost is that it also flushes other dirty data of the
 * filesystem, hence only for batches. */
int store_body_batch_flush(struct store *store, struct store_body_batch *b)
{
	char tmp[STORE_HASH_HEX + 64], rel[STORE_HASH_HEX + 4];
	int ret = 0;
	if (b->whole_fs && b->count > 0 && syncfs(store->bodies_fd) < 0)
		ret = store_fail(store, STORE_ERR_INTERNAL, NULL, "cannot sync body files: %s",
				 strerror(errno));
	for (size_t i = 0; i < b->count; i++) {
		int fd = b->f[i].fd;
		b->f[i].fd = -1;
		store_body_tmpname(b->f[i].hash, b->f[i].seq, tmp, sizeof(tmp));
		store_body_relpath(b->f[i].hash, rel);
		if (ret == 0 && fd >= 0 && (fsync(fd) < 0 || close(fd) < 0)) {
			ret = store_fail(store, STORE_ERR_INTERNAL, NULL,
					 "cannot sync a body file: %s", strerror(errno));
			fd = -1;
		}
		if (ret == 0 && renameat(store->bodies_fd, tmp, store->bodies_fd, rel) < 0)
			ret = store_fail(store, STORE_ERR_INTERNAL, NULL,
					 "cannot store a body file: %s", strerror(errno));
		if (ret == 0) {
			unsigned idx = store_dir_index(b->f[i].hash);
			b->dirs[idx / 8] |= (unsigned char)(1u << (idx % 8));
			continue;
		}
		/* after a failure: drop the rest */
		if (fd >= 0)
			close(fd);
		unlinkat(store->bodies_fd, tmp, 0);
	}
	b->count = 0;
	return ret;
}

void store_body_batch_abort(struct store *store, struct store_body_batch *b)
{
	char tmp[STORE_HASH_HEX + 64];
	for (size_t i = 0; i < b->count; i++) {
		store_body_tmpname(b->f[i].hash, b->f[i].seq, tmp, sizeof(tmp));
		if (b->f[i].fd >= 0)
			close(b->f[i].fd);
		unlinkat(store->bodies_fd, tmp, 0);
	}
	b->count = 0;
}

void store_body_batch_free(struct store_body_batch *b)
{
	free(b->f);
	b->f = NULL;
	b->count = b->alloc = 0;
}

void store_body_dir_mark(unsigned char dirs[STORE_DIRSET], const char *hash)
{
	unsigned idx = store_dir_index(hash);
	dirs[idx / 8] |= (unsigned char)(1u << (idx % 8));
}

int store_body_dirs_sync(struct store *store, const unsigned char dirs[STORE_DIRSET])
{
	static const char digits[] = "0123456789abcdef";
	unsigned count = 0;
	for (unsigned i = 0; i < STORE_DIRSET; i++)
		count += (unsigned)__builtin_popcount(dirs[i]);
	if (count == 0)
		return 0;
	/* many folders (a batch spreads over up to 256): one syncfs instead of one each */
	if (count >= STORE_SYNCFS_MIN) {
		if (syncfs(store->bodies_fd) < 0)
			return store_fail(store, STORE_ERR_INTERNAL, NULL,
					  "cannot sync body folders: %s", strerror(errno));
		return 0;
	}
	for (unsigned idx = 0; idx < 256; idx++) {
		if ((dirs[idx / 8] & (1u << (idx % 8))) == 0)
			continue;
		char dir[3] = { digits[idx / 16], digits[idx % 16], '\0' };
		int fd = openat(store->bodies_fd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0 || fsync(fd) < 0) {
			int e = errno;
			if (fd >= 0)
				close(fd);
			return store_fail(store, STORE_ERR_INTERNAL, NULL,
					  "cannot sync bodies/%s: %s", dir, strerror(e));
		}
		close(fd);
	}
	if ((dirs[32] & 1) != 0 && fsync(store->bodies_fd) < 0)
		return store_fail(store, STORE_ERR_INTERNAL, NULL, "cannot sync bodies/: %s",
				  strerror(errno));
	return 0;
}

int store_body_file_sync(struct store *store, const char *hash)
{
	char rel[STORE_HASH_HEX + 4];
	store_body_relpath(hash, rel);
	int fd = openat(store->bodies_fd, rel, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || fsync(fd) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return store_fail(store, STORE_ERR_INTERNAL, NULL, "cannot sync body %s: %s", hash,
				  strerror(e));
	}
	close(fd);
	return 0;
}

void store_body_file_unlink(struct store *store, const char *hash)
{
	char rel[STORE_HASH_HEX + 4];
	store_body_relpath(hash, rel);
	if (unlinkat(store->bodies_fd, rel, 0) < 0 && errno != ENOENT)
		log_warn("store %s: cannot remove body %s: %s", store->dir, hash, strerror(errno));
}

void store_unlink_add(struct store *store, const char *hash)
{
	if (store->unlink_count == store->unlink_alloc) {
		size_t n = store->unlink_alloc == 0 ? 16 : store->unlink_alloc * 2, bytes;
		if (size_mul(n, sizeof(*store->unlink), &bytes) < 0)
			xabort("unlink list overflow");
		store->unlink = xrealloc(store->unlink, bytes);
		store->unlink_alloc = n;
	}
	memcpy(store->unlink[store->unlink_count++], hash, STORE_HASH_HEX + 1);
}

int store_body_open(struct store *store, const char *body_id, const char **error_r)
{
	char rel[STORE_HASH_HEX + 4];
	store_clear_error(store);
	if (body_id == NULL || !store_hash_valid(body_id))
		return store_fail(store, STORE_ERR_INVALID, error_r, "invalid body id");
	store_body_relpath(body_id, rel);
	if (store_use(store) < 0)
		return store_failed(store, error_r);
	int fd = openat(store->bodies_fd, rel, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT)
			return store_fail(store, STORE_ERR_NOT_FOUND, error_r, "no such body");
		return store_fail(store, STORE_ERR_INTERNAL, error_r, "cannot open body %s: %s",
				  body_id, strerror(errno));
	}
	return fd;
}

/* ---- sweep ---- */

static int store_name_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

struct store_names {
	char (*v)[STORE_HASH_HEX + 1];
	size_t count, alloc;
};

static void store_names_add(struct store_names *n, const char *name)
{
	if (n->count == n->alloc) {
		size_t a = n->alloc == 0 ? 256 : n->alloc * 2, bytes;
		if (size_mul(a, sizeof(*n->v), &bytes) < 0)
			xabort("name list overflow");
		n->v = xrealloc(n->v, bytes);
		n->alloc = a;
	}
	memcpy(n->v[n->count++], name, STORE_HASH_HEX + 1);
}

/* Sweep one folder bodies/XX: its temporary files, and its files that no row names (merged
 * against the rows in hash order, so the cost is one range scan, not one query per file). */
static int store_sweep_dir(struct store *store, sqlite3_stmt *rows, const char *xx, bool remove,
			   store_report_cb *report, void *ctx, unsigned *count_r,
			   struct store_names *names)
{
	int dfd = openat(store->bodies_fd, xx, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (dfd < 0)
		return errno == ENOTDIR ? 0 : store_fail(store, STORE_ERR_INTERNAL, NULL,
							   "cannot open bodies/%s: %s", xx,
							   strerror(errno));
	DIR *d = fdopendir(dfd);
	if (d == NULL) {
		close(dfd);
		return store_fail(store, STORE_ERR_INTERNAL, NULL, "cannot read bodies/%s", xx);
	}
	char line[STORE_HASH_HEX + 300];
	names->count = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		const char *name = de->d_name;
		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
			continue;
		if (name[0] == '.') {
			if (strncmp(name, ".tmp.", 5) != 0)
				continue;
			snprintf(line, sizeof(line), "temporary file bodies/%s/%.200s%s", xx, name,
				 remove ? " removed" : "");
			if (report != NULL)
				report(ctx, line);
			if (remove)
				unlinkat(dfd, name, 0);
			(*count_r)++;
			continue;
		}
		if (store_hash_valid(name) && name[0] == xx[0] && name[1] == xx[1])
			store_names_add(names, name);
	}
	closedir(d);
	if (names->count == 0)
		return 0;
	qsort(names->v, names->count, sizeof(*names->v), store_name_cmp);

	char hi[3] = { xx[0], (char)(xx[1] + 1), '\0' };
	sqlite3_bind_text(rows, 1, xx, 2, SQLITE_TRANSIENT);
	sqlite3_bind_text(rows, 2, hi, 2, SQLITE_TRANSIENT);
	size_t i = 0;
	int r = sqlite3_step(rows);
	while (i < names->count) {
		int c = 1;
		if (r == SQLITE_ROW) {
			const char *h = (const char *)sqlite3_column_text(rows, 0);
			c = h == NULL ? -1 : strcmp(h, names->v[i]);
			if (c < 0) { /* a row without a file: store_check's business */
				r = sqlite3_step(rows);
				continue;
			}
		} else if (r != SQLITE_DONE) {
			sqlite3_reset(rows);
			return store_fail_sql(store, NULL, "listing bodies");
		}
		if (c == 0) {
			i++;
			r = sqlite3_step(rows);
			continue;
		}
		/* a file without a row: left by an append that crashed before its commit, or by
		 * an expunge that crashed after it */
		snprintf(line, sizeof(line), "unreferenced body file bodies/%s/%s%s", xx,
			 names->v[i], remove ? " removed" : "");
		if (report != NULL)
			report(ctx, line);
		if (remove) {
			char rel[STORE_HASH_HEX + 4];
			store_body_relpath(names->v[i], rel);
			unlinkat(store->bodies_fd, rel, 0);
		}
		(*count_r)++;
		i++;
	}
	sqlite3_reset(rows);
	return 0;
}

int store_body_sweep(struct store *store, bool remove, store_report_cb *report, void *ctx,
		     unsigned *count_r)
{
	static const char digits[] = "0123456789abcdef";
	struct store_names names = { 0 };
	sqlite3_stmt *rows;
	int ret = 0;

	*count_r = 0;
	if (sqlite3_prepare_v2(store->db,
			       "SELECT hash FROM body WHERE hash >= ?1 AND hash < ?2 ORDER BY hash",
			       -1, &rows, NULL) != SQLITE_OK)
		return store_fail_sql(store, NULL, "listing bodies");
	for (unsigned idx = 0; idx < 256 && ret == 0; idx++) {
		char xx[3] = { digits[idx / 16], digits[idx % 16], '\0' };
		struct stat st;
		if (fstatat(store->bodies_fd, xx, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISDIR(st.st_mode))
			continue;
		ret = store_sweep_dir(store, rows, xx, remove, report, ctx, count_r, &names);
	}
	sqlite3_finalize(rows);
	free(names.v);
	return ret;
}

/* ---- cached structure ---- */

static int store_bind_buf(sqlite3_stmt *stmt, int idx, const struct buf *b)
{
	if (b->len == 0)
		return sqlite3_bind_zeroblob(stmt, idx, 0);
	return sqlite3_bind_blob64(stmt, idx, b->data, b->len, SQLITE_TRANSIENT);
}

/* Parse a message and render ENVELOPE, BODYSTRUCTURE and BODY (and their IMAP4rev1 forms when
 * they differ) and the part table into the body insert statement's parameters 3..8. */
static int store_body_bind_render(struct store *store, sqlite3_stmt *stmt, const void *data,
				  size_t size, const struct mime_part *root)
{
	struct buf env, bs, body, bs1, body1, parts;
	buf_init(&env, STORE_RENDER_MAX);
	buf_init(&bs, STORE_RENDER_MAX);
	buf_init(&body, STORE_RENDER_MAX);
	buf_init(&bs1, STORE_RENDER_MAX);
	buf_init(&body1, STORE_RENDER_MAX);
	buf_init(&parts, STORE_RENDER_MAX);

	if (envelope_render(&env, store->scratch, (const unsigned char *)data + root->header_offset,
			    root->header_size) < 0) {
		/* hostile headers past the cap: a valid ENVELOPE that says nothing */
		buf_reset(&env);
		buf_append_str(&env, "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
	}
	bool rev1 = bodystructure_needs_rev1_variant(root);
	/* past the cap (not with MIME_DEFAULT_MAX_PARTS parts): FETCH parses instead */
	bool have_parts = mime_parts_encode(root, &parts) == 0;
	if (bodystructure_render(&bs, store->scratch, data, root, BODYSTRUCTURE_EXTENDED) < 0 ||
	    bodystructure_render(&body, store->scratch, data, root, 0) < 0 ||
	    (rev1 && (bodystructure_render(&bs1, store->scratch, data, root,
					   BODYSTRUCTURE_EXTENDED | BODYSTRUCTURE_REV1) < 0 ||
		      bodystructure_render(&body1, store->scratch, data, root,
					   BODYSTRUCTURE_REV1) < 0))) {
		/* past the cap: describe the whole body as one opaque part */
		buf_reset(&bs);
		buf_reset(&body);
		buf_printf(&body, "(\"application\" \"octet-stream\" NIL NIL NIL \"binary\" %zu)",
			   root->body_size);
		buf_printf(&bs,
			   "(\"application\" \"octet-stream\" NIL NIL NIL \"binary\" %zu"
			   " NIL NIL NIL NIL)",
			   root->body_size);
		rev1 = false;
	}
	int r = store_bind_buf(stmt, 3, &env);
	if (r == SQLITE_OK)
		r = store_bind_buf(stmt, 4, &bs);
	if (r == SQLITE_OK)
		r = store_bind_buf(stmt, 5, &body);
	if (r == SQLITE_OK)
		r = rev1 ? store_bind_buf(stmt, 6, &bs1) : sqlite3_bind_null(stmt, 6);
	if (r == SQLITE_OK)
		r = rev1 ? store_bind_buf(stmt, 7, &body1) : sqlite3_bind_null(stmt, 7);
	if (r == SQLITE_OK)
		r = have_parts ? store_bind_buf(stmt, 8, &parts) : sqlite3_bind_null(stmt, 8);
	buf_free(&env);
	buf_free(&bs);
	buf_free(&body);
	buf_free(&bs1);
	buf_free(&body1);
	buf_free(&parts);
	if (r != SQLITE_OK)
		return store_fail_sql(store, NULL, "binding the message structure");
	return 0;
}

int store_body_insert(struct store *store, const char *hash, const void *data, size_t size,
		      int64_t *body_id_r)
{
	sqlite3_stmt *stmt = store_stmt(store, STMT_BODY_INSERT);
	if (stmt == NULL)
		return -1;
	pool_clear(store->scratch);
	struct mime_part *root = mime_parse(store->scratch, data, size, NULL);
	sqlite3_bind_text(stmt, 1, hash, STORE_HASH_HEX, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, (sqlite3_int64)size);
	int ret = -1;
	if (store_body_bind_render(store, stmt, data, size, root) == 0) {
		int r = sqlite3_step(stmt);
		if (r == SQLITE_ROW) {
			*body_id_r = sqlite3_column_int64(stmt, 0);
			/* a new row is left unindexed (search_state 0): the search index and the
			 * SORT keys are written after the reply, by the next search or at idle
			 * time (store-index.c), off the delivery path */
			ret = 0;
		} else {
			store_fail_sql(store, NULL, "adding a body");
		}
	}
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	pool_clear(store->scratch);
	return ret;
}
