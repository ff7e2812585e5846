/* test-userdb.c: unit tests for the SQLite user database: add/lookup/passwd/del/list, a second
 * process changing users under an open handle, schema versions, passwd-file import, names. */
#include "auth/userdb.h"

#include <argon2.h>
#include <crypt.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "auth/password.h"
#include "lib/test.h"

static char test_dir[64];
static char test_db_path[128];

static void test_path(char *out, size_t size, const char *name)
{
	snprintf(out, size, "%s/%s", test_dir, name);
}

static void test_remove_db(void)
{
	char p[160];
	snprintf(p, sizeof(p), "%s-wal", test_db_path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", test_db_path);
	unlink(p);
	unlink(test_db_path);
}

static struct userdb *test_open_fresh(void)
{
	struct userdb *db = NULL;
	const char *error = NULL;
	test_remove_db();
	if (userdb_open(test_db_path, true, &db, &error) < 0)
		printf("  open: %s\n", error);
	return db;
}

static void test_names(void)
{
	const char *error = NULL;
	char canon[USERDB_NAME_MAX + 1];
	static const char *const good[] = {"alice", "Alice", "a", "user@example.com", "a.b-c_d+e",
					   "山田", "josé", "a-", "x.", "...", "a=b"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (!userdb_name_valid(good[i], &error))
			printf("  rejected good name '%s': %s\n", good[i], error);
		CHECK(userdb_name_valid(good[i], &error) == 1);
	}
	static const char *const bad[] = {"",        ".",      "..",       "-alice",   "a/b",
					  "a\\b",    "a:b",    "a b",      "a\tb",     "a\nb",
					  "a\x7f",   "\xc2\x85", "a\xc2\xa0" "b", "a\xe3\x80\x80" "b",
					  "a\xe2\x80\x8b" "b", "\xff", "\xc0\xaf", "\xed\xa0\x80",
					  "\xe3\x81", "\xf4\x90\x80\x80", " alice", "alice "};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		error = NULL;
		if (userdb_name_valid(bad[i], &error))
			printf("  accepted bad name #%zu\n", i);
		CHECK(userdb_name_valid(bad[i], &error) == 0);
		CHECK(error != NULL);
	}
	char longname[300];
	memset(longname, 'a', sizeof(longname));
	longname[255] = '\0';
	CHECK(userdb_name_valid(longname, &error) == 1);
	longname[255] = 'a';
	longname[256] = '\0';
	CHECK(userdb_name_valid(longname, &error) == 0);

	CHECK(userdb_name_canonical("AlIcE@Example.COM", canon, &error) == 0);
	CHECK_STR(canon, "alice@example.com");
	CHECK(userdb_name_canonical("ÉCOLE", canon, &error) == 0);
	CHECK_STR(canon, "\xc3\x89" "cole"); /* only A-Z folded */
	CHECK(userdb_name_canonical("a/b", canon, &error) == -1);
}

static void test_open(void)
{
	struct userdb *db = NULL;
	const char *error = NULL;
	char missing[160];
	test_path(missing, sizeof(missing), "missing.db");
	CHECK(userdb_open(missing, false, &db, &error) == -1);
	CHECK(db == NULL && error != NULL && strstr(error, "missing.db") != NULL);

	db = test_open_fresh();
	CHECK(db != NULL);
	struct stat st;
	CHECK(stat(test_db_path, &st) == 0 && (st.st_mode & 0777) == 0600);
	userdb_close(&db);
	CHECK(db == NULL);
	userdb_close(&db);
	/* reopen, existing schema */
	CHECK(userdb_open(test_db_path, false, &db, &error) == 0);
	userdb_close(&db);

	/* a newer schema is refused */
	sqlite3 *h = NULL;
	CHECK(sqlite3_open(test_db_path, &h) == SQLITE_OK);
	CHECK(sqlite3_exec(h, "UPDATE schema_version SET version = 99", NULL, NULL, NULL) ==
	      SQLITE_OK);
	sqlite3_close(h);
	CHECK(userdb_open(test_db_path, false, &db, &error) == -1);
	CHECK(error != NULL && strstr(error, "newer") != NULL);
	CHECK(db == NULL);
}

static int test_list_cb(const char *name, void *context)
{
	char *acc = context;
	size_t len = strlen(acc);
	snprintf(acc + len, 256 - len, "%s,", name);
	return strcmp(name, "stop") == 0;
}

static void test_users(void)
{
	struct userdb *db = test_open_fresh();
	struct userdb_user u;
	const char *error = NULL;
	if (db == NULL)
		return;

	CHECK(userdb_user_add(db, "Alice", "wonderland", &error) == 0);
	CHECK(userdb_user_add(db, "ALICE", "other", &error) == -1);
	CHECK(error != NULL && strstr(error, "already exists") != NULL);
	CHECK(userdb_user_add(db, "bob", "", &error) == -1);
	CHECK(userdb_user_add(db, "bob/x", "pw", &error) == -1);
	CHECK(userdb_user_add(db, "bob", "builder", &error) == 0);

	CHECK(userdb_lookup(db, "aLiCe", &u, &error) == 1);
	CHECK_STR(u.name, "alice");
	CHECK(u.password_hash != NULL && strncmp(u.password_hash, "$y$", 3) == 0);
	CHECK(password_verify(u.password_hash, "wonderland") == 1);
	CHECK(u.created > 1600000000);
	CHECK(u.has_scram && u.scram.salt_len == SCRAM_SALT_LEN &&
	      u.scram.iterations == SCRAM_DEFAULT_ITERATIONS);
	unsigned char stored[SCRAM_KEY_LEN], server[SCRAM_KEY_LEN];
	CHECK(scram_keys_derive("wonderland", u.scram.salt, u.scram.salt_len, u.scram.iterations,
				stored, server) == 0);
	CHECK(memcmp(stored, u.scram.stored_key, SCRAM_KEY_LEN) == 0);
	CHECK(memcmp(server, u.scram.server_key, SCRAM_KEY_LEN) == 0);
	userdb_user_clear(&u);
	CHECK(u.password_hash == NULL && !u.has_scram);

	CHECK(userdb_lookup(db, "carol", &u, &error) == 0);
	userdb_user_clear(&u);
	CHECK(userdb_lookup(db, "../etc", &u, &error) == 0);
	userdb_user_clear(&u);
	CHECK(userdb_lookup(db, "alice' OR '1'='1", &u, &error) == 0);
	userdb_user_clear(&u);

	CHECK(userdb_user_passwd(db, "ALICE", "looking-glass", &error) == 0);
	CHECK(userdb_lookup(db, "alice", &u, &error) == 1);
	CHECK(password_verify(u.password_hash, "wonderland") == 0);
	CHECK(password_verify(u.password_hash, "looking-glass") == 1);
	userdb_user_clear(&u);
	CHECK(userdb_user_passwd(db, "carol", "x", &error) == -1);
	CHECK(error != NULL && strstr(error, "no such user") != NULL);

	CHECK(userdb_user_add(db, "stop", "x", &error) == 0);
	CHECK(userdb_user_add(db, "zed", "x", &error) == 0);
	char acc[256] = "";
	CHECK(userdb_user_list(db, test_list_cb, acc, &error) == 0);
	CHECK_STR(acc, "alice,bob,stop,"); /* sorted; the callback stopped the walk */

	CHECK(userdb_user_del(db, "Bob", &error) == 0);
	CHECK(userdb_user_del(db, "bob", &error) == -1);
	CHECK(userdb_lookup(db, "bob", &u, &error) == 0);
	userdb_user_clear(&u);
	acc[0] = '\0';
	CHECK(userdb_user_del(db, "stop", &error) == 0);
	CHECK(userdb_user_list(db, test_list_cb, acc, &error) == 0);
	CHECK_STR(acc, "alice,zed,");
	userdb_close(&db);
}

/* The CLI (another process) changes users while the server holds the database open. */
static void test_other_process(void)
{
	struct userdb *db = test_open_fresh();
	struct userdb_user u;
	const char *error = NULL;
	if (db == NULL)
		return;
	CHECK(userdb_user_add(db, "dave", "one", &error) == 0);
	CHECK(userdb_lookup(db, "dave", &u, &error) == 1);
	userdb_user_clear(&u);
	CHECK(userdb_lookup(db, "erin", &u, &error) == 0);
	userdb_user_clear(&u);

	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		struct userdb *cli = NULL;
		const char *e;
		int ok = userdb_open(test_db_path, false, &cli, &e) == 0 &&
			 userdb_user_add(cli, "erin", "two", &e) == 0 &&
			 userdb_user_passwd(cli, "dave", "three", &e) == 0;
		userdb_close(&cli);
		_exit(ok ? 0 : 1);
	}
	int status = 0;
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	CHECK(userdb_lookup(db, "erin", &u, &error) == 1);
	CHECK(u.password_hash != NULL && password_verify(u.password_hash, "two") == 1);
	userdb_user_clear(&u);
	CHECK(userdb_lookup(db, "dave", &u, &error) == 1);
	CHECK(u.password_hash != NULL && password_verify(u.password_hash, "three") == 1);
	userdb_user_clear(&u);
	userdb_close(&db);
}

static char *test_crypt(const char *prefix, unsigned long count, const char *pw)
{
	static const char rnd[16] = "fedcba9876543210";
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *cd = calloc(1, sizeof(*cd));
	char *ret = NULL;
	if (crypt_gensalt_rn(prefix, count, rnd, sizeof(rnd), setting, sizeof(setting)) != NULL) {
		const char *out = crypt_rn(pw, setting, cd, sizeof(*cd));
		if (out != NULL && out[0] != '*')
			ret = strdup(out);
	}
	free(cd);
	return ret;
}

static void test_write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	if (f != NULL) {
		fputs(text, f);
		fclose(f);
	}
}

static int test_verify(struct userdb *db, const char *name, const char *pw, int *has_scram_r)
{
	struct userdb_user u;
	const char *error;
	int ret = -1;
	if (userdb_lookup(db, name, &u, &error) == 1) {
		ret = password_verify(u.password_hash, pw);
		*has_scram_r = u.has_scram;
	}
	userdb_user_clear(&u);
	return ret;
}

static void test_import(void)
{
	struct userdb *db = test_open_fresh();
	const char *error = NULL;
	char path[160], text[4096];
	int n = -1, scram = -1;
	if (db == NULL)
		return;
	char *sha = test_crypt("$6$", 0, "sha-pw");
	char *blf = test_crypt("$2y$", 5, "blf-pw");
	char arg[256];
	static const char salt[16] = "0123456789abcdef";
	CHECK(argon2id_hash_encoded(2, 1024, 1, "arg-pw", 6, salt, sizeof(salt), 32, arg,
				    sizeof(arg)) == ARGON2_OK);
	CHECK(sha != NULL && blf != NULL);
	if (sha == NULL || blf == NULL)
		return;

	test_path(path, sizeof(path), "passwd");
	snprintf(text, sizeof(text),
		 "# exported from dovecot\n"
		 "\n"
		 "sha@example.com:{SHA512-CRYPT}%s:1000:1000::/home/sha::userdb_quota_rule=*:"
		 "storage=1G\n"
		 "   # indented comment\n"
		 "Blf:{BLF-CRYPT}%s:::\r\n"
		 "arg:{ARGON2ID}%s\n"
		 "plain:{PLAIN}plain-pw::\n"
		 "crypt:{CRYPT}%s",
		 sha, blf, arg, sha);
	test_write_file(path, text);
	CHECK(userdb_import_passwd_file(db, path, false, &n, &error) == 0);
	if (n != 5)
		printf("  import: %d, %s\n", n, error);
	CHECK(n == 5);
	CHECK(test_verify(db, "sha@example.com", "sha-pw", &scram) == 1 && scram == 0);
	CHECK(test_verify(db, "blf", "blf-pw", &scram) == 1 && scram == 0);
	CHECK(test_verify(db, "blf", "sha-pw", &scram) == 0);
	CHECK(test_verify(db, "arg", "arg-pw", &scram) == 1 && scram == 0);
	CHECK(test_verify(db, "plain", "plain-pw", &scram) == 1 && scram == 1);
	CHECK(test_verify(db, "crypt", "sha-pw", &scram) == 1);

	/* the same file again: users exist, nothing replaced */
	CHECK(userdb_import_passwd_file(db, path, false, &n, &error) == -1);
	CHECK(error != NULL && strstr(error, "line 3:") != NULL &&
	      strstr(error, "already exists") != NULL);
	CHECK(n == 0);

	/* a bad line aborts everything and names its line */
	snprintf(text, sizeof(text),
		 "new1:{PLAIN}x\n"
		 "# comment\n"
		 "new2:{MD5-CRYPT}$1$abc$def\n"
		 "new3:{PLAIN}y\n");
	test_write_file(path, text);
	CHECK(userdb_import_passwd_file(db, path, false, &n, &error) == -1);
	CHECK(error != NULL && strstr(error, "line 3:") != NULL &&
	      strstr(error, "MD5-CRYPT") != NULL);
	CHECK(test_verify(db, "new1", "x", &scram) == -1); /* rolled back */

	static const struct {
		const char *text;
		const char *want;
	} bad[] = {
		{"ok:{PLAIN}x\nnocolon\n", "line 2: no ':'"},
		{"ok:{PLAIN}x\nbad name:{PLAIN}x\n", "line 2: invalid user name"},
		{"-x:{PLAIN}x\n", "line 1: invalid user name"},
		{"ok:{PLAIN}x\nempty:\n", "line 2: user empty has no password"},
		{"ok:{PLAIN}x\nOK:{PLAIN}y\n", "line 2: user ok appears twice"},
		{"\n\nz:{SHA512-CRYPT}$6$broken\n", "line 3:"},
		{"z:{SHA512-CRYPT.HEX}abc\n", "line 1:"},
		{"z:plaintext\n", "line 1:"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		test_write_file(path, bad[i].text);
		error = NULL;
		CHECK(userdb_import_passwd_file(db, path, true, &n, &error) == -1);
		if (error == NULL || strstr(error, bad[i].want) == NULL)
			printf("  case %zu: got '%s'\n", i, error != NULL ? error : "(none)");
		CHECK(error != NULL && strstr(error, bad[i].want) != NULL);
		CHECK(test_verify(db, "ok", "x", &scram) == -1);
	}

	/* a line over the limit */
	FILE *f = fopen(path, "w");
	if (f != NULL) {
		fputs("a:{PLAIN}", f);
		for (int i = 0; i < 5000; i++)
			fputc('x', f);
		fputs("\n", f);
		fclose(f);
	}
	CHECK(userdb_import_passwd_file(db, path, true, &n, &error) == -1);
	CHECK(error != NULL && strstr(error, "line 1: longer") != NULL);

	/* replace_existing: new hash, SCRAM keys follow the new entry */
	CHECK(userdb_user_add(db, "keeper", "old", &error) == 0);
	snprintf(text, sizeof(text), "keeper:{SHA512-CRYPT}%s\nplain:{CLEAR}new-plain\n", sha);
	test_write_file(path, text);
	CHECK(userdb_import_passwd_file(db, path, true, &n, &error) == 0);
	CHECK(n == 2);
	CHECK(test_verify(db, "keeper", "sha-pw", &scram) == 1 && scram == 0);
	CHECK(test_verify(db, "plain", "new-plain", &scram) == 1 && scram == 1);

	CHECK(userdb_import_passwd_file(db, "/nonexistent/passwd", true, &n, &error) == -1);
	CHECK(error != NULL && strstr(error, "/nonexistent/passwd") != NULL);
	unlink(path);
	free(sha);
	free(blf);
	userdb_close(&db);
}

int main(void)
{
	snprintf(test_dir, sizeof(test_dir), "/tmp/kura-test-userdb-XXXXXX");
	if (mkdtemp(test_dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_path(test_db_path, sizeof(test_db_path), "users.db");
	TEST_RUN(test_names);
	TEST_RUN(test_open);
	TEST_RUN(test_users);
	TEST_RUN(test_other_process);
	TEST_RUN(test_import);
	test_remove_db();
	rmdir(test_dir);
	return test_finish();
}
