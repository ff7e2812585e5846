/* userdb.c: users in SQLite. Traps: another process (the CLI) writes while the server reads, so
 * every statement is reset right after use (an open read statement would pin an old WAL snapshot)
 * and nothing is cached; names are validated and folded before any SQL; deleted hashes would
 * linger in free pages, hence secure_delete. */
#include "auth/userdb.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth/password.h"
#include "lib/secure.h"
#include "lib/xmalloc.h"

#define USERDB_BUSY_TIMEOUT_MS 10000
#define USERDB_IMPORT_LINE_MAX 4096

struct userdb {
	sqlite3 *handle;
	pthread_mutex_t lock;
};

static __thread char userdb_errbuf[512];

static const char *userdb_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *userdb_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(userdb_errbuf, sizeof(userdb_errbuf), fmt, ap);
	va_end(ap);
	return userdb_errbuf;
}

static const char *userdb_sql_error(struct userdb *db, const char *what)
{
	return userdb_error("%s: %s", what, sqlite3_errmsg(db->handle));
}

/* ---- names ---- */

/* Decode one UTF-8 sequence (RFC 3629: no overlongs, no surrogates, at most U+10FFFF). Returns
 * its length, or 0 if invalid. */
static size_t userdb_utf8_decode(const unsigned char *s, size_t len, uint32_t *cp_r)
{
	uint32_t cp;
	size_t n;
	if (s[0] < 0x80) {
		*cp_r = s[0];
		return 1;
	} else if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	*cp_r = cp;
	return n;
}

/* Unicode spaces and invisible format characters: a name that looks like another. */
static int userdb_is_space_or_invisible(uint32_t cp)
{
	return cp == 0xa0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200f) || cp == 0x2028 ||
	       cp == 0x2029 || cp == 0x202f || cp == 0x205f || cp == 0x2060 || cp == 0x3000 ||
	       cp == 0xfeff;
}

int userdb_name_valid(const char *name, const char **error_r)
{
	const unsigned char *s = (const unsigned char *)name;
	size_t len = strlen(name);
	if (len == 0) {
		*error_r = "user name is empty";
		return 0;
	}
	if (len > USERDB_NAME_MAX) {
		*error_r = "user name is longer than 255 bytes";
		return 0;
	}
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
		*error_r = "user name may not be \".\" or \"..\"";
		return 0;
	}
	if (name[0] == '-') {
		*error_r = "user name may not start with '-'";
		return 0;
	}
	for (size_t i = 0; i < len;) {
		uint32_t cp;
		size_t n = userdb_utf8_decode(s + i, len - i, &cp);
		if (n == 0) {
			*error_r = "user name is not valid UTF-8";
			return 0;
		}
		if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) {
			*error_r = "user name contains a control character";
			return 0;
		}
		if (cp == ' ' || userdb_is_space_or_invisible(cp)) {
			*error_r = "user name contains white space or an invisible character";
			return 0;
		}
		if (cp == '/' || cp == '\\' || cp == ':') {
			*error_r = "user name contains '/', '\\' or ':'";
			return 0;
		}
		i += n;
	}
	return 1;
}

int userdb_name_canonical(const char *name, char canon_r[USERDB_NAME_MAX + 1],
			  const char **error_r)
{
	if (!userdb_name_valid(name, error_r))
		return -1;
	size_t i;
	for (i = 0; name[i] != '\0'; i++) {
		char c = name[i];
		canon_r[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
	}
	canon_r[i] = '\0';
	return 0;
}

/* ---- open and schema ---- */

/* Migration i brings the schema from version i to version i + 1. Append, never edit. */
static const char *const userdb_migrations[USERDB_SCHEMA_VERSION] = {
	"CREATE TABLE users ("
	" name TEXT PRIMARY KEY NOT NULL,"
	" password_hash TEXT NOT NULL,"
	" scram_salt BLOB,"
	" scram_iterations INTEGER,"
	" scram_stored_key BLOB,"
	" scram_server_key BLOB,"
	" created INTEGER NOT NULL);",
};

static int userdb_exec(struct userdb *db, const char *sql, const char **error_r)
{
	if (sqlite3_exec(db->handle, sql, NULL, NULL, NULL) != SQLITE_OK) {
		*error_r = userdb_sql_error(db, sql);
		return -1;
	}
	return 0;
}

static int userdb_prepare(struct userdb *db, const char *sql, sqlite3_stmt **stmt_r,
			  const char **error_r)
{
	if (sqlite3_prepare_v2(db->handle, sql, -1, stmt_r, NULL) != SQLITE_OK) {
		*error_r = userdb_sql_error(db, "preparing a statement");
		*stmt_r = NULL;
		return -1;
	}
	return 0;
}

static int userdb_migrate(struct userdb *db, const char **error_r)
{
	sqlite3_stmt *stmt = NULL;
	int version = 0, r;

	if (userdb_exec(db, "BEGIN IMMEDIATE", error_r) < 0)
		return -1;
	if (userdb_exec(db, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)",
			error_r) < 0)
		goto fail;
	if (userdb_prepare(db, "SELECT version FROM schema_version", &stmt, error_r) < 0)
		goto fail;
	r = sqlite3_step(stmt);
	if (r == SQLITE_ROW) {
		version = sqlite3_column_int(stmt, 0);
	} else if (r != SQLITE_DONE) {
		*error_r = userdb_sql_error(db, "reading the schema version");
		goto fail;
	}
	sqlite3_finalize(stmt);
	stmt = NULL;
	if (r == SQLITE_DONE &&
	    userdb_exec(db, "INSERT INTO schema_version (version) VALUES (0)", error_r) < 0)
		goto fail;
	if (version < 0 || version > USERDB_SCHEMA_VERSION) {
		*error_r = userdb_error("user database schema version %d is newer than this kura "
					"understands (%d)",
					version, USERDB_SCHEMA_VERSION);
		goto fail;
	}
	for (; version < USERDB_SCHEMA_VERSION; version++) {
		if (userdb_exec(db, userdb_migrations[version], error_r) < 0)
			goto fail;
	}
	if (userdb_prepare(db, "UPDATE schema_version SET version = ?", &stmt, error_r) < 0)
		goto fail;
	sqlite3_bind_int(stmt, 1, version);
	if (sqlite3_step(stmt) != SQLITE_DONE) {
		*error_r = userdb_sql_error(db, "writing the schema version");
		goto fail;
	}
	sqlite3_finalize(stmt);
	return userdb_exec(db, "COMMIT", error_r);
fail:
	sqlite3_finalize(stmt);
	sqlite3_exec(db->handle, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

int userdb_open(const char *path, bool create, struct userdb **db_r, const char **error_r)
{
	struct userdb *db;
	sqlite3_stmt *stmt = NULL;

	if (create) {
		/* create the file ourselves so that it is 0600 (SQLite would use 0644 & ~umask);
		 * the -wal and -shm files inherit its permissions */
		int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0) {
			*error_r = userdb_error("cannot create %s: %s", path, strerror(errno));
			return -1;
		}
		close(fd);
	}
	db = xcalloc(1, sizeof(*db));
	pthread_mutex_init(&db->lock, NULL);
	if (sqlite3_open_v2(path, &db->handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX,
			    NULL) != SQLITE_OK) {
		*error_r = userdb_error("cannot open %s: %s", path,
					db->handle != NULL ? sqlite3_errmsg(db->handle)
							   : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(db->handle, USERDB_BUSY_TIMEOUT_MS);
	sqlite3_extended_result_codes(db->handle, 1);
	/* WAL: the server reads while the CLI writes; FULL: a changed password survives a crash */
	if (userdb_prepare(db, "PRAGMA journal_mode = WAL", &stmt, error_r) < 0)
		goto fail;
	if (sqlite3_step(stmt) != SQLITE_ROW ||
	    strcmp((const char *)sqlite3_column_text(stmt, 0), "wal") != 0) {
		*error_r = userdb_error("cannot put %s in WAL mode: %s", path,
					sqlite3_errmsg(db->handle));
		goto fail;
	}
	sqlite3_finalize(stmt);
	stmt = NULL;
	if (userdb_exec(db, "PRAGMA synchronous = FULL", error_r) < 0 ||
	    userdb_exec(db, "PRAGMA secure_delete = ON", error_r) < 0 ||
	    userdb_migrate(db, error_r) < 0)
		goto fail;
	*db_r = db;
	return 0;
fail:
	sqlite3_finalize(stmt);
	userdb_close(&db);
	return -1;
}

void userdb_close(struct userdb **dbp)
{
	struct userdb *db = *dbp;
	if (db == NULL)
		return;
	sqlite3_close_v2(db->handle);
	pthread_mutex_destroy(&db->lock);
	free(db);
	*dbp = NULL;
}

/* ---- users ---- */

struct userdb_secret {
	char *hash;
	struct scram_credentials scram;
};

static void userdb_secret_clear(struct userdb_secret *sec)
{
	if (sec->hash != NULL) {
		secure_zero(sec->hash, strlen(sec->hash));
		free(sec->hash);
	}
	secure_zero(sec, sizeof(*sec));
}

/* Slow: yescrypt and PBKDF2. Done before taking the lock. */
static int userdb_secret_make(const char *password, struct userdb_secret *sec_r,
			      const char **error_r)
{
	memset(sec_r, 0, sizeof(*sec_r));
	size_t len = strlen(password);
	if (len == 0) {
		*error_r = "password is empty";
		return -1;
	}
	if (len > USERDB_PASSWORD_MAX) {
		*error_r = "password is too long";
		return -1;
	}
	sec_r->scram.salt_len = SCRAM_SALT_LEN;
	sec_r->scram.iterations = SCRAM_DEFAULT_ITERATIONS;
	if (password_hash(password, &sec_r->hash) < 0 ||
	    RAND_bytes(sec_r->scram.salt, SCRAM_SALT_LEN) != 1 ||
	    scram_keys_derive(password, sec_r->scram.salt, SCRAM_SALT_LEN,
			      SCRAM_DEFAULT_ITERATIONS, sec_r->scram.stored_key,
			      sec_r->scram.server_key) < 0) {
		userdb_secret_clear(sec_r);
		*error_r = "password hashing failed";
		return -1;
	}
	return 0;
}

/* Bind password_hash and the SCRAM columns at parameters first..first+4. */
static void userdb_bind_secret(sqlite3_stmt *stmt, int first, const char *hash,
			       const struct scram_credentials *scram)
{
	sqlite3_bind_text(stmt, first, hash, -1, SQLITE_STATIC);
	if (scram != NULL) {
		sqlite3_bind_blob(stmt, first + 1, scram->salt, (int)scram->salt_len, SQLITE_STATIC);
		sqlite3_bind_int64(stmt, first + 2, scram->iterations);
		sqlite3_bind_blob(stmt, first + 3, scram->stored_key, SCRAM_KEY_LEN, SQLITE_STATIC);
		sqlite3_bind_blob(stmt, first + 4, scram->server_key, SCRAM_KEY_LEN, SQLITE_STATIC);
	} else {
		for (int i = 1; i <= 4; i++)
			sqlite3_bind_null(stmt, first + i);
	}
}

static const char userdb_insert_sql[] =
	"INSERT INTO users (name, password_hash, scram_salt, scram_iterations, "
	"scram_stored_key, scram_server_key, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";

int userdb_user_add(struct userdb *db, const char *name, const char *password,
		    const char **error_r)
{
	char canon[USERDB_NAME_MAX + 1];
	struct userdb_secret sec;
	sqlite3_stmt *stmt = NULL;
	int ret = -1;

	if (userdb_name_canonical(name, canon, error_r) < 0 ||
	    userdb_secret_make(password, &sec, error_r) < 0)
		return -1;
	pthread_mutex_lock(&db->lock);
	if (userdb_prepare(db, userdb_insert_sql, &stmt, error_r) < 0)
		goto out;
	sqlite3_bind_text(stmt, 1, canon, -1, SQLITE_STATIC);
	userdb_bind_secret(stmt, 2, sec.hash, &sec.scram);
	sqlite3_bind_int64(stmt, 7, (sqlite3_int64)time(NULL));
	int r = sqlite3_step(stmt);
	if (r == SQLITE_DONE)
		ret = 0;
	else if (r == SQLITE_CONSTRAINT_PRIMARYKEY)
		*error_r = userdb_error("user %s already exists", canon);
	else
		*error_r = userdb_sql_error(db, "adding the user");
out:
	sqlite3_finalize(stmt);
	pthread_mutex_unlock(&db->lock);
	userdb_secret_clear(&sec);
	return ret;
}

int userdb_user_passwd(struct userdb *db, const char *name, const char *password,
		       const char **error_r)
{
	char canon[USERDB_NAME_MAX + 1];
	struct userdb_secret sec;
	sqlite3_stmt *stmt = NULL;
	int ret = -1;

	if (userdb_name_canonical(name, canon, error_r) < 0 ||
	    userdb_secret_make(password, &sec, error_r) < 0)
		return -1;
	pthread_mutex_lock(&db->lock);
	if (userdb_prepare(db,
			   "UPDATE users SET password_hash = ?2, scram_salt = ?3, "
			   "scram_iterations = ?4, scram_stored_key = ?5, scram_server_key = ?6 "
			   "WHERE name = ?1",
			   &stmt, error_r) < 0)
		goto out;
	sqlite3_bind_text(stmt, 1, canon, -1, SQLITE_STATIC);
	userdb_bind_secret(stmt, 2, sec.hash, &sec.scram);
	if (sqlite3_step(stmt) != SQLITE_DONE)
		*error_r = userdb_sql_error(db, "changing the password");
	else if (sqlite3_changes(db->handle) == 0)
		*error_r = userdb_error("no such user: %s", canon);
	else
		ret = 0;
out:
	sqlite3_finalize(stmt);
	pthread_mutex_unlock(&db->lock);
	userdb_secret_clear(&sec);
	return ret;
}

int userdb_user_del(struct userdb *db, const char *name, const char **error_r)
{
	char canon[USERDB_NAME_MAX + 1];
	sqlite3_stmt *stmt = NULL;
	int ret = -1;

	if (userdb_name_canonical(name, canon, error_r) < 0)
		return -1;
	pthread_mutex_lock(&db->lock);
	if (userdb_prepare(db, "DELETE FROM users WHERE name = ?1", &stmt, error_r) < 0)
		goto out;
	sqlite3_bind_text(stmt, 1, canon, -1, SQLITE_STATIC);
	if (sqlite3_step(stmt) != SQLITE_DONE)
		*error_r = userdb_sql_error(db, "deleting the user");
	else if (sqlite3_changes(db->handle) == 0)
		*error_r = userdb_error("no such user: %s", canon);
	else
		ret = 0;
out:
	sqlite3_finalize(stmt);
	pthread_mutex_unlock(&db->lock);
	return ret;
}

int userdb_user_list(struct userdb *db, userdb_list_callback *callback, void *context,
		     const char **error_r)
{
	sqlite3_stmt *stmt = NULL;
	int ret = -1, r;

	pthread_mutex_lock(&db->lock);
	if (userdb_prepare(db, "SELECT name FROM users ORDER BY name", &stmt, error_r) < 0)
		goto out;
	while ((r = sqlite3_step(stmt)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(stmt, 0);
		if (name != NULL && callback(name, context) != 0)
			break;
	}
	if (r == SQLITE_ROW || r == SQLITE_DONE)
		ret = 0;
	else
		*error_r = userdb_sql_error(db, "listing users");
out:
	sqlite3_finalize(stmt);
	pthread_mutex_unlock(&db->lock);
	return ret;
}

void userdb_user_clear(struct userdb_user *user)
{
	if (user->password_hash != NULL) {
		secure_zero(user->password_hash, strlen(user->password_hash));
		free(user->password_hash);
	}
	secure_zero(user, sizeof(*user));
}

int userdb_lookup(struct userdb *db, const char *name, struct userdb_user *user_r,
		  const char **error_r)
{
	const char *name_error;
	sqlite3_stmt *stmt = NULL;
	int ret = -1;

	memset(user_r, 0, sizeof(*user_r));
	if (userdb_name_canonical(name, user_r->name, &name_error) < 0)
		return 0;
	pthread_mutex_lock(&db->lock);
	if (userdb_prepare(db,
			   "SELECT password_hash, scram_salt, scram_iterations, scram_stored_key, "
			   "scram_server_key, created FROM users WHERE name = ?1",
			   &stmt, error_r) < 0)
		goto out;
	sqlite3_bind_text(stmt, 1, user_r->name, -1, SQLITE_STATIC);
	int r = sqlite3_step(stmt);
	if (r == SQLITE_DONE) {
		ret = 0;
		goto out;
	}
	if (r != SQLITE_ROW) {
		*error_r = userdb_sql_error(db, "looking up a user");
		goto out;
	}
	const char *hash = (const char *)sqlite3_column_text(stmt, 0);
	user_r->password_hash = xstrdup(hash != NULL ? hash : "");
	user_r->created = sqlite3_column_int64(stmt, 5);
	const void *salt = sqlite3_column_blob(stmt, 1);
	int salt_len = sqlite3_column_bytes(stmt, 1);
	sqlite3_int64 iter = sqlite3_column_int64(stmt, 2);
	const void *stored = sqlite3_column_blob(stmt, 3);
	int stored_len = sqlite3_column_bytes(stmt, 3);
	const void *server = sqlite3_column_blob(stmt, 4);
	int server_len = sqlite3_column_bytes(stmt, 4);
	/* column_bytes after column_blob: the pointers above stay valid (no type conversion) */
	if (salt != NULL && salt_len > 0 && salt_len <= SCRAM_SALT_MAX && iter > 0 &&
	    iter <= SCRAM_MAX_ITERATIONS && stored != NULL && stored_len == SCRAM_KEY_LEN &&
	    server != NULL && server_len == SCRAM_KEY_LEN) {
		user_r->has_scram = true;
		memcpy(user_r->scram.salt, salt, (size_t)salt_len);
		user_r->scram.salt_len = (size_t)salt_len;
		user_r->scram.iterations = (unsigned)iter;
		memcpy(user_r->scram.stored_key, stored, SCRAM_KEY_LEN);
		memcpy(user_r->scram.server_key, server, SCRAM_KEY_LEN);
	}
	ret = 1;
out:
	sqlite3_finalize(stmt);
	pthread_mutex_unlock(&db->lock);
	if (ret != 1) {
		char keep[USERDB_NAME_MAX + 1];
		memcpy(keep, user_r->name, sizeof(keep));
		userdb_user_clear(user_r);
		memcpy(user_r->name, keep, sizeof(keep));
	}
	return ret;
}

/* ---- passwd-file import ---- */

struct userdb_import {
	struct userdb *db;
	bool replace;
	sqlite3_stmt *insert, *seen;
	int imported;
};

/* Import one non-comment line (NUL-terminated, without line end). 0, or -1 with *error_r. */
static int userdb_import_line(struct userdb_import *imp, char *line, unsigned long lineno,
			      const char **error_r)
{
	char canon[USERDB_NAME_MAX + 1];
	const char *name_error, *hash_error;
	char *hash = NULL;
	struct scram_credentials scram;
	bool have_scram = false;
	int ret = -1, r;

	char *colon = strchr(line, ':');
	if (colon == NULL) {
		*error_r = userdb_error("line %lu: no ':' after the user name", lineno);
		return -1;
	}
	*colon = '\0';
	char *pw = colon + 1;
	char *pw_end = strchr(pw, ':');
	if (pw_end != NULL)
		*pw_end = '\0';
	if (userdb_name_canonical(line, canon, &name_error) < 0) {
		*error_r = userdb_error("line %lu: invalid user name: %s", lineno, name_error);
		return -1;
	}
	if (pw[0] == '\0') {
		*error_r = userdb_error("line %lu: user %s has no password", lineno, canon);
		return -1;
	}
	if (password_from_dovecot(pw, &hash, &hash_error) < 0) {
		*error_r = userdb_error("line %lu: user %s: %s", lineno, canon, hash_error);
		return -1;
	}
	const char *plain = password_dovecot_plaintext(pw);
	if (plain != NULL) {
		scram.salt_len = SCRAM_SALT_LEN;
		scram.iterations = SCRAM_DEFAULT_ITERATIONS;
		if (RAND_bytes(scram.salt, SCRAM_SALT_LEN) != 1 ||
		    scram_keys_derive(plain, scram.salt, SCRAM_SALT_LEN, SCRAM_DEFAULT_ITERATIONS,
				      scram.stored_key, scram.server_key) < 0) {
			*error_r = userdb_error("line %lu: deriving SCRAM keys failed", lineno);
			goto out;
		}
		have_scram = true;
	}

	sqlite3_bind_text(imp->seen, 1, canon, -1, SQLITE_STATIC);
	r = sqlite3_step(imp->seen);
	sqlite3_reset(imp->seen);
	if (r == SQLITE_CONSTRAINT_PRIMARYKEY) {
		*error_r = userdb_error("line %lu: user %s appears twice in the file", lineno, canon);
		goto out;
	} else if (r != SQLITE_DONE) {
		*error_r = userdb_sql_error(imp->db, "importing");
		goto out;
	}

	sqlite3_bind_text(imp->insert, 1, canon, -1, SQLITE_STATIC);
	userdb_bind_secret(imp->insert, 2, hash, have_scram ? &scram : NULL);
	sqlite3_bind_int64(imp->insert, 7, (sqlite3_int64)time(NULL));
	r = sqlite3_step(imp->insert);
	sqlite3_reset(imp->insert);
	sqlite3_clear_bindings(imp->insert);
	if (r == SQLITE_CONSTRAINT_PRIMARYKEY) {
		*error_r = userdb_error("line %lu: user %s already exists (not replacing it)", lineno,
					canon);
		goto out;
	} else if (r != SQLITE_DONE) {
		*error_r = userdb_sql_error(imp->db, "importing");
		goto out;
	}
	imp->imported++;
	ret = 0;
out:
	secure_zero(&scram, sizeof(scram));
	if (hash != NULL) {
		secure_zero(hash, strlen(hash));
		free(hash);
	}
	return ret;
}

static int userdb_import_lines(struct userdb_import *imp, FILE *f, const char **error_r)
{
	char line[USERDB_IMPORT_LINE_MAX + 3];
	unsigned long lineno = 0;
	int ret = 0;

	while (ret == 0 && fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		size_t len = strlen(line);
		if (len > 0 && line[len - 1] == '\n') {
			line[--len] = '\0';
		} else if (len > USERDB_IMPORT_LINE_MAX) {
			*error_r = userdb_error("line %lu: longer than %d bytes", lineno,
						USERDB_IMPORT_LINE_MAX);
			ret = -1;
			break;
		}
		if (len > 0 && line[len - 1] == '\r')
			line[--len] = '\0';
		if (len > USERDB_IMPORT_LINE_MAX) {
			*error_r = userdb_error("line %lu: longer than %d bytes", lineno,
						USERDB_IMPORT_LINE_MAX);
			ret = -1;
			break;
		}
		const char *p = line;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p != '\0' && *p != '#')
			ret = userdb_import_line(imp, line, lineno, error_r);
		secure_zero(line, sizeof(line)); /* may hold a {PLAIN} password */
	}
	if (ret == 0 && ferror(f)) {
		*error_r = userdb_error("reading line %lu: %s", lineno + 1, strerror(errno));
		ret = -1;
	}
	return ret;
}

int userdb_import_passwd_file(struct userdb *db, const char *path, bool replace_existing,
			      int *imported_r, const char **error_r)
{
	struct userdb_import imp = {.db = db, .replace = replace_existing};
	int ret = -1;
	bool in_tx = false;

	*imported_r = 0;
	FILE *f = fopen(path, "re");
	if (f == NULL) {
		*error_r = userdb_error("cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	pthread_mutex_lock(&db->lock);
	if (userdb_exec(db,
			"CREATE TEMP TABLE IF NOT EXISTS import_seen (name TEXT PRIMARY KEY NOT NULL)",
			error_r) < 0 ||
	    userdb_exec(db, "DELETE FROM temp.import_seen", error_r) < 0 ||
	    userdb_exec(db, "BEGIN IMMEDIATE", error_r) < 0)
		goto out;
	in_tx = true;
	if (userdb_prepare(db, "INSERT INTO temp.import_seen (name) VALUES (?1)", &imp.seen,
			   error_r) < 0)
		goto out;
	if (replace_existing) {
		/* keep `created` of a replaced user */
		static const char sql[] =
			"INSERT INTO users (name, password_hash, scram_salt, scram_iterations, "
			"scram_stored_key, scram_server_key, created) "
			"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (name) DO UPDATE SET "
			"password_hash = excluded.password_hash, scram_salt = excluded.scram_salt, "
			"scram_iterations = excluded.scram_iterations, "
			"scram_stored_key = excluded.scram_stored_key, "
			"scram_server_key = excluded.scram_server_key";
		if (userdb_prepare(db, sql, &imp.insert, error_r) < 0)
			goto out;
	} else if (userdb_prepare(db, userdb_insert_sql, &imp.insert, error_r) < 0) {
		goto out;
	}
	if (userdb_import_lines(&imp, f, error_r) < 0)
		goto out;
	sqlite3_finalize(imp.insert);
	sqlite3_finalize(imp.seen);
	imp.insert = imp.seen = NULL;
	if (userdb_exec(db, "COMMIT", error_r) < 0)
		goto out;
	in_tx = false;
	*imported_r = imp.imported;
	ret = 0;
out:
	sqlite3_finalize(imp.insert);
	sqlite3_finalize(imp.seen);
	if (in_tx)
		sqlite3_exec(db->handle, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_exec(db->handle, "DELETE FROM temp.import_seen", NULL, NULL, NULL);
	pthread_mutex_unlock(&db->lock);
	fclose(f);
	return ret;
}
