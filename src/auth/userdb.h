/* userdb.h: the server-wide user database (SQLite, one file, e.g. DATA/users.db).
 *
 * Each user has a password hash (see password.h) and, when the password was set through kura, the
 * SCRAM-SHA-256 keys derived from it. Users imported from a Dovecot passwd-file with a hashed
 * password have no SCRAM keys: SCRAM-SHA-256 fails for them (as for an unknown user) until their
 * password is set again with userdb_user_passwd(); PLAIN and LOGIN work at once.
 *
 * Names: 1..255 bytes of valid UTF-8, no control characters (C0, DEL, C1), no whitespace (ASCII or
 * Unicode spaces), no '/', '\\' or ':', not "." or "..", no leading '-'. Names are stored with
 * ASCII A-Z folded to a-z and every lookup folds the same way, so "Alice" and "alice" are one user;
 * non-ASCII letters are not folded (no Unicode case mapping: it depends on locale and version).
 * Every entry point validates a name before it reaches SQL; an invalid name is "no such user" for
 * userdb_lookup() and an error for the others.
 *
 * Concurrency: the database runs in WAL mode with synchronous=FULL and a busy timeout, so the CLI
 * can change users while the server holds the file open; nothing is cached, so the next lookup
 * sees the change. One struct userdb may be used from several threads (calls are serialised by an
 * internal mutex).
 *
 * Errors: *error_r points to a thread-local message valid until the next userdb call in the same
 * thread. Return conventions are given per function. */
#ifndef KURA_AUTH_USERDB_H
#define KURA_AUTH_USERDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/scram.h"

#define USERDB_NAME_MAX 255
#define USERDB_PASSWORD_MAX 1024 /* longest password accepted by add/passwd */
#define USERDB_SCHEMA_VERSION 1

struct userdb;

/* A looked-up user. The hash and keys are secrets: userdb_user_clear() wipes them. */
struct userdb_user {
	char name[USERDB_NAME_MAX + 1]; /* canonical (folded) name */
	char *password_hash;            /* malloc'ed */
	bool has_scram;                 /* false for imported users until their next passwd */
	struct scram_credentials scram; /* valid if has_scram */
	int64_t created;                /* UNIX time */
};

/* 1 if name is acceptable (rules above), else 0 with *error_r set to a static message. */
int userdb_name_valid(const char *name, const char **error_r);
/* Validate name and write its canonical form (ASCII-folded) to canon_r. 0, or -1 (invalid). */
int userdb_name_canonical(const char *name, char canon_r[USERDB_NAME_MAX + 1],
			  const char **error_r);

/* Open (and with create, create if missing, mode 0600) the database at path and bring its schema
 * up to USERDB_SCHEMA_VERSION. Refuses a database with a newer schema. 0, or -1. */
int userdb_open(const char *path, bool create, struct userdb **db_r, const char **error_r);
void userdb_close(struct userdb **db);

/* Add a user with a yescrypt hash and SCRAM keys. Fails if the user exists (error "user already
 * exists"), if the password is empty or longer than USERDB_PASSWORD_MAX. Slow (hashing). 0 / -1. */
int userdb_user_add(struct userdb *db, const char *name, const char *password,
		    const char **error_r);
/* Set a new password (hash and SCRAM keys). Fails if the user does not exist. 0 / -1. */
int userdb_user_passwd(struct userdb *db, const char *name, const char *password,
		       const char **error_r);
/* Delete a user. Fails if the user does not exist. 0 / -1. */
int userdb_user_del(struct userdb *db, const char *name, const char **error_r);

/* Call callback for each canonical name in byte order; a non-zero return stops the walk (and is
 * not an error). The name is valid during the call only. 0, or -1 on a database error. */
typedef int userdb_list_callback(const char *name, void *context);
int userdb_user_list(struct userdb *db, userdb_list_callback *callback, void *context,
		     const char **error_r);

/* Look name up (folded). 1 found (user_r filled: call userdb_user_clear() after use), 0 not found
 * or invalid name, -1 database error. user_r is always safe to clear afterwards. */
int userdb_lookup(struct userdb *db, const char *name, struct userdb_user *user_r,
		  const char **error_r);
/* Wipe and free what a lookup put in user. */
void userdb_user_clear(struct userdb_user *user);

/* Import a Dovecot passwd-file ("user:{SCHEME}hash:uid:gid:gecos:home:shell:extra"; the fields
 * after the password are optional and ignored; blank lines and lines starting with '#' skipped;
 * CRLF accepted). Schemes as password_from_dovecot(); {PLAIN}/{CLEAR} users are hashed with
 * yescrypt and also get SCRAM keys, all other imported users get none (see above). The import is
 * one transaction: the first bad line (invalid name, unsupported scheme, duplicate name within the
 * file, existing user without replace_existing, line over 4 KiB) aborts it with an error naming
 * the line number, and nothing is changed. With replace_existing, an existing user's hash is
 * replaced (and its SCRAM keys dropped unless new ones were derived). 0 with *imported_r the
 * number of users written, or -1. */
int userdb_import_passwd_file(struct userdb *db, const char *path, bool replace_existing,
			      int *imported_r, const char **error_r);

#endif
