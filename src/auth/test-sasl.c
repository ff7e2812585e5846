/* test-sasl.c: unit tests for the SASL server: PLAIN, LOGIN and SCRAM-SHA-256 against a real
 * user database in a temporary folder, with the SCRAM client computed here with OpenSSL. */
#include "auth/sasl.h"

#include <argon2.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/base64.h"
#include "lib/test.h"

static char test_dir[64];
static char test_db_path[128];
static struct userdb *test_db;

/* Run one step with a byte string; n may include NULs. */
static enum sasl_result test_step(struct sasl_server *s, const void *in, size_t n,
				  struct buf *ch, const char **error_r)
{
	return sasl_server_step(s, in, n, true, ch, error_r);
}

static enum sasl_result test_plain(const void *msg, size_t n, const char **error_r,
				   char *user_r, size_t user_size)
{
	struct sasl_server *s = sasl_server_create("PLAIN", test_db);
	struct buf ch;
	buf_init(&ch, SASL_CHALLENGE_MAX);
	enum sasl_result r = test_step(s, msg, n, &ch, error_r);
	if (user_r != NULL)
		snprintf(user_r, user_size, "%s", sasl_server_user(s) ? sasl_server_user(s) : "");
	sasl_server_destroy(&s);
	buf_free(&ch);
	return r;
}

#define PLAIN(lit, err) test_plain((lit), sizeof(lit) - 1, (err), NULL, 0)

static void test_mechs(void)
{
	CHECK(sasl_mech_supported("PLAIN") == 1);
	CHECK(sasl_mech_supported("plain") == 1);
	CHECK(sasl_mech_supported("Login") == 1);
	CHECK(sasl_mech_supported("scram-sha-256") == 1);
	CHECK(sasl_mech_supported("SCRAM-SHA-256-PLUS") == 0);
	CHECK(sasl_mech_supported("SCRAM-SHA-1") == 0);
	CHECK(sasl_mech_supported("CRAM-MD5") == 0);
	CHECK(sasl_mech_supported("") == 0);
	CHECK(sasl_mech_supported(NULL) == 0);
	CHECK(sasl_server_create("GSSAPI", test_db) == NULL);
	CHECK(sasl_server_create(NULL, test_db) == NULL);
	struct sasl_server *s = sasl_server_create("scram-sha-256", test_db);
	CHECK(s != NULL && strcmp(sasl_server_mech(s), "SCRAM-SHA-256") == 0);
	sasl_server_destroy(&s);
	CHECK(s == NULL);
	sasl_server_destroy(&s);
}

static void test_plain_ok(void)
{
	const char *error = NULL;
	char user[300];
	CHECK(test_plain("\0alice\0wonderland", 17, &error, user, sizeof(user)) == SASL_OK);
	CHECK_STR(user, "alice");
	CHECK(test_plain("\0ALICE\0wonderland", 17, &error, user, sizeof(user)) == SASL_OK);
	CHECK_STR(user, "alice"); /* the canonical name, whatever the client typed */
	CHECK(test_plain("alice\0alice\0wonderland", 22, &error, user, sizeof(user)) == SASL_OK);
	CHECK(test_plain("Alice\0alice\0wonderland", 22, &error, user, sizeof(user)) == SASL_OK);

	/* no initial response: an empty challenge, then the message */
	struct sasl_server *s = sasl_server_create("PLAIN", test_db);
	struct buf ch;
	buf_init(&ch, SASL_CHALLENGE_MAX);
	CHECK(sasl_server_step(s, NULL, 0, false, &ch, &error) == SASL_CONTINUE);
	CHECK(ch.len == 0);
	CHECK(sasl_server_user(s) == NULL);
	CHECK(test_step(s, "\0alice\0wonderland", 17, &ch, &error) == SASL_OK);
	CHECK(sasl_server_user(s) != NULL && strcmp(sasl_server_user(s), "alice") == 0);
	/* finished: nothing more */
	CHECK(test_step(s, "\0alice\0wonderland", 17, &ch, &error) == SASL_FAIL);
	sasl_server_destroy(&s);
	buf_free(&ch);
}

static void test_plain_bad(void)
{
	const char *error = NULL;
	CHECK(PLAIN("\0alice\0wrong", &error) == SASL_FAIL);
	CHECK_STR(error, "Authentication failed");
	CHECK(PLAIN("\0nobody\0wonderland", &error) == SASL_FAIL);
	CHECK_STR(error, "Authentication failed");
	CHECK(PLAIN("\0../x\0wonderland", &error) == SASL_FAIL); /* invalid name: same answer */
	CHECK_STR(error, "Authentication failed");
	CHECK(PLAIN("\0imported\0x", &error) == SASL_FAIL); /* unusable hash */
	CHECK_STR(error, "Authentication failed");

	CHECK(PLAIN("bob\0alice\0wonderland", &error) == SASL_FAIL);
	CHECK(strstr(error, "Authorization identity") != NULL);

	CHECK(PLAIN("", &error) == SASL_FAIL);
	CHECK(strstr(error, "Malformed") != NULL);
	CHECK(PLAIN("alice", &error) == SASL_FAIL);
	CHECK(PLAIN("\0alice", &error) == SASL_FAIL);
	CHECK(PLAIN("\0\0wonderland", &error) == SASL_FAIL);
	CHECK(PLAIN("\0alice\0", &error) == SASL_FAIL);
	CHECK(PLAIN("\0alice\0wonder\0land", &error) == SASL_FAIL);
	CHECK(strstr(error, "Malformed") != NULL);

	unsigned char big[600];
	memset(big, 'a', sizeof(big));
	big[0] = 0;
	memcpy(big + 1, "alice", 5);
	big[6] = 0; /* password of 256 bytes: too long */
	CHECK(test_plain(big, 7 + 256, &error, NULL, 0) == SASL_FAIL);
	CHECK(strstr(error, "Malformed") != NULL);

	struct sasl_plain_fields f;
	CHECK(sasl_plain_parse(big, 7 + 255, &f, &error) == 0);
	CHECK(strlen(f.passwd) == 255 && strcmp(f.authcid, "alice") == 0 && f.authzid[0] == 0);
	CHECK(sasl_plain_parse(NULL, 0, &f, &error) == -1);
}

static double test_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Unknown user and wrong password take about the same time. */
static void test_plain_timing(void)
{
	const char *error;
	double wrong = 1e9, unknown = 1e9;
	for (int i = 0; i < 3; i++) {
		double t0 = test_seconds();
		PLAIN("\0alice\0wrong", &error);
		double t1 = test_seconds();
		PLAIN("\0nobody\0wrong", &error);
		double t2 = test_seconds();
		if (t1 - t0 < wrong)
			wrong = t1 - t0;
		if (t2 - t1 < unknown)
			unknown = t2 - t1;
	}
	CHECK(unknown > wrong / 2 && unknown < wrong * 2);
}

static void test_login(void)
{
	const char *error = NULL;
	struct buf ch;
	buf_init(&ch, SASL_CHALLENGE_MAX);

	struct sasl_server *s = sasl_server_create("LOGIN", test_db);
	CHECK(sasl_server_step(s, NULL, 0, false, &ch, &error) == SASL_CONTINUE);
	CHECK_MEM(ch.data, ch.len, "Username:", 9);
	CHECK(test_step(s, "Alice", 5, &ch, &error) == SASL_CONTINUE);
	CHECK_MEM(ch.data, ch.len, "Password:", 9);
	CHECK(test_step(s, "wonderland", 10, &ch, &error) == SASL_OK);
	CHECK(ch.len == 0);
	CHECK(sasl_server_user(s) != NULL && strcmp(sasl_server_user(s), "alice") == 0);
	sasl_server_destroy(&s);

	/* user name as initial response */
	s = sasl_server_create("login", test_db);
	CHECK(test_step(s, "alice", 5, &ch, &error) == SASL_CONTINUE);
	CHECK_MEM(ch.data, ch.len, "Password:", 9);
	CHECK(test_step(s, "wrong", 5, &ch, &error) == SASL_FAIL);
	CHECK_STR(error, "Authentication failed");
	CHECK(sasl_server_user(s) == NULL);
	CHECK(test_step(s, "wonderland", 10, &ch, &error) == SASL_FAIL);
	sasl_server_destroy(&s);

	s = sasl_server_create("LOGIN", test_db);
	CHECK(test_step(s, "nobody", 6, &ch, &error) == SASL_CONTINUE);
	CHECK(test_step(s, "wonderland", 10, &ch, &error) == SASL_FAIL);
	CHECK_STR(error, "Authentication failed");
	sasl_server_destroy(&s);

	s = sasl_server_create("LOGIN", test_db);
	CHECK(sasl_server_step(s, NULL, 0, false, &ch, &error) == SASL_CONTINUE);
	CHECK(test_step(s, "al\0ice", 6, &ch, &error) == SASL_FAIL);
	CHECK(strstr(error, "Malformed") != NULL);
	sasl_server_destroy(&s);

	s = sasl_server_create("LOGIN", test_db);
	CHECK(sasl_server_step(s, NULL, 0, false, &ch, &error) == SASL_CONTINUE);
	CHECK(test_step(s, "", 0, &ch, &error) == SASL_FAIL);
	sasl_server_destroy(&s);

	s = sasl_server_create("LOGIN", test_db);
	CHECK(test_step(s, "alice", 5, &ch, &error) == SASL_CONTINUE);
	CHECK(test_step(s, "", 0, &ch, &error) == SASL_FAIL);
	sasl_server_destroy(&s);

	/* a challenge buffer too small for "Username:" */
	struct buf tiny;
	buf_init(&tiny, 4);
	s = sasl_server_create("LOGIN", test_db);
	CHECK(sasl_server_step(s, NULL, 0, false, &tiny, &error) == SASL_FAIL);
	CHECK(tiny.len == 0);
	sasl_server_destroy(&s);
	buf_free(&tiny);
	buf_free(&ch);
}

/* The client side of SCRAM-SHA-256, from RFC 5802 3. */
static void test_scram_client_final(const char *password, const char *bare,
				    const char *server_first, char *final, size_t size)
{
	char nonce[600], salt_b64[200];
	const char *r = strstr(server_first, "r="), *sp = strstr(server_first, ",s="),
		   *ip = strstr(server_first, ",i=");
	snprintf(nonce, sizeof(nonce), "%.*s", (int)(sp - r - 2), r + 2);
	snprintf(salt_b64, sizeof(salt_b64), "%.*s", (int)(ip - sp - 3), sp + 3);
	unsigned iter = (unsigned)strtoul(ip + 3, NULL, 10);
	struct buf salt, p64;
	buf_init(&salt, 100);
	buf_init(&p64, 100);
	base64_decode(&salt, salt_b64, strlen(salt_b64));
	unsigned char salted[32], ckey[32], stored[32], sig[32], proof[32];
	unsigned int len;
	PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt.data, (int)salt.len, (int)iter,
			  EVP_sha256(), 32, salted);
	HMAC(EVP_sha256(), salted, 32, (const unsigned char *)"Client Key", 10, ckey, &len);
	SHA256(ckey, 32, stored);
	char without[700], auth[2000];
	snprintf(without, sizeof(without), "c=biws,r=%s", nonce);
	snprintf(auth, sizeof(auth), "%s,%s,%s", bare, server_first, without);
	HMAC(EVP_sha256(), stored, 32, (unsigned char *)auth, strlen(auth), sig, &len);
	for (int i = 0; i < 32; i++)
		proof[i] = ckey[i] ^ sig[i];
	base64_encode(&p64, proof, 32);
	snprintf(final, size, "%s,p=%s", without, (char *)p64.data);
	buf_free(&salt);
	buf_free(&p64);
}

static enum sasl_result test_scram(const char *user, const char *password, bool initial,
				   const char **error_r, char *user_r, size_t user_size)
{
	struct sasl_server *s = sasl_server_create("SCRAM-SHA-256", test_db);
	struct buf ch;
	char bare[300], first[310], final[1000];
	enum sasl_result r;
	buf_init(&ch, SASL_CHALLENGE_MAX);
	snprintf(bare, sizeof(bare), "n=%s,r=0123456789abcdefghij", user);
	snprintf(first, sizeof(first), "n,,%s", bare);
	if (!initial) {
		r = sasl_server_step(s, NULL, 0, false, &ch, error_r);
		CHECK(r == SASL_CONTINUE && ch.len == 0);
	}
	r = test_step(s, first, strlen(first), &ch, error_r);
	if (r != SASL_CONTINUE)
		goto out;
	test_scram_client_final(password, bare, (char *)ch.data, final, sizeof(final));
	r = test_step(s, final, strlen(final), &ch, error_r);
	if (r != SASL_CONTINUE)
		goto out;
	CHECK(ch.len > 2 && memcmp(ch.data, "v=", 2) == 0);
	r = test_step(s, "", 0, &ch, error_r);
	snprintf(user_r, user_size, "%s", sasl_server_user(s) ? sasl_server_user(s) : "");
out:
	sasl_server_destroy(&s);
	buf_free(&ch);
	return r;
}

static void test_scram_exchange(void)
{
	const char *error = NULL;
	char user[300] = "";
	CHECK(test_scram("alice", "wonderland", true, &error, user, sizeof(user)) == SASL_OK);
	CHECK_STR(user, "alice");
	CHECK(test_scram("Alice", "wonderland", false, &error, user, sizeof(user)) == SASL_OK);
	CHECK_STR(user, "alice");
	CHECK(test_scram("alice", "wrong", true, &error, user, sizeof(user)) == SASL_FAIL);
	CHECK_STR(error, "Authentication failed");
	CHECK(test_scram("nobody", "wonderland", true, &error, user, sizeof(user)) == SASL_FAIL);
	CHECK_STR(error, "Authentication failed");
	/* imported users have no SCRAM keys until their next passwd */
	CHECK(test_scram("plainimport", "secret", true, &error, user, sizeof(user)) == SASL_OK);
	CHECK(test_scram("imported", "x", true, &error, user, sizeof(user)) == SASL_FAIL);
	CHECK_STR(error, "Authentication failed");
	CHECK(test_scram("hashimport", "pw", true, &error, user, sizeof(user)) == SASL_FAIL);
	CHECK_STR(error, "Authentication failed");
	CHECK(test_plain("\0hashimport\0pw", 14, &error, user, sizeof(user)) == SASL_OK);
	const char *e2;
	CHECK(userdb_user_passwd(test_db, "hashimport", "pw", &e2) == 0);
	CHECK(test_scram("hashimport", "pw", true, &error, user, sizeof(user)) == SASL_OK);

	/* a malformed client-first ends the exchange */
	struct sasl_server *s = sasl_server_create("SCRAM-SHA-256", test_db);
	struct buf ch;
	buf_init(&ch, SASL_CHALLENGE_MAX);
	CHECK(test_step(s, "p=tls-unique,,n=alice,r=abc", 27, &ch, &error) == SASL_FAIL);
	CHECK(ch.len == 0);
	CHECK(test_step(s, "n,,n=alice,r=abc", 16, &ch, &error) == SASL_FAIL);
	sasl_server_destroy(&s);
	/* an empty initial response is not a client-first message */
	s = sasl_server_create("SCRAM-SHA-256", test_db);
	CHECK(test_step(s, "", 0, &ch, &error) == SASL_FAIL);
	sasl_server_destroy(&s);
	buf_free(&ch);
}

/* The name a failed attempt was for, for throttling and logs. */
static void test_attempted_user(void)
{
	const char *error = NULL;
	struct buf ch;
	buf_init(&ch, SASL_CHALLENGE_MAX);

	struct sasl_server *s = sasl_server_create("PLAIN", test_db);
	CHECK(sasl_server_attempted_user(s) == NULL);
	CHECK(test_step(s, "\0ALICE\0wrong", 12, &ch, &error) == SASL_FAIL);
	CHECK(sasl_server_attempted_user(s) != NULL &&
	      strcmp(sasl_server_attempted_user(s), "alice") == 0);
	sasl_server_destroy(&s);

	s = sasl_server_create("PLAIN", test_db);
	CHECK(test_step(s, "\0no name\0wrong", 14, &ch, &error) == SASL_FAIL);
	CHECK(sasl_server_attempted_user(s) != NULL &&
	      strcmp(sasl_server_attempted_user(s), "no name") == 0); /* invalid: kept as sent */
	sasl_server_destroy(&s);

	s = sasl_server_create("PLAIN", test_db);
	CHECK(test_step(s, "garbage", 7, &ch, &error) == SASL_FAIL);
	CHECK(sasl_server_attempted_user(s) == NULL);
	sasl_server_destroy(&s);

	s = sasl_server_create("LOGIN", test_db);
	CHECK(test_step(s, "Bob", 3, &ch, &error) == SASL_CONTINUE);
	CHECK(sasl_server_attempted_user(s) != NULL &&
	      strcmp(sasl_server_attempted_user(s), "bob") == 0);
	sasl_server_destroy(&s);

	s = sasl_server_create("SCRAM-SHA-256", test_db);
	CHECK(test_step(s, "n,,n=Gh=2Cost,r=abc", 19, &ch, &error) == SASL_CONTINUE);
	CHECK(test_step(s, "c=biws,r=abc,p=AAAA", 19, &ch, &error) == SASL_FAIL);
	CHECK(sasl_server_attempted_user(s) != NULL &&
	      strcmp(sasl_server_attempted_user(s), "gh,ost") == 0);
	sasl_server_destroy(&s);
	buf_free(&ch);
}

/* A broken database is a temporary failure, distinguishable by the caller. */
static void test_db_failure(void)
{
	const char *error = NULL;
	sqlite3 *h = NULL;
	CHECK(sqlite3_open(test_db_path, &h) == SQLITE_OK);
	CHECK(sqlite3_exec(h, "ALTER TABLE users RENAME TO gone", NULL, NULL, NULL) == SQLITE_OK);

	struct sasl_server *s = sasl_server_create("PLAIN", test_db);
	struct buf ch;
	buf_init(&ch, SASL_CHALLENGE_MAX);
	CHECK(test_step(s, "\0alice\0wonderland", 17, &ch, &error) == SASL_FAIL);
	CHECK(sasl_server_failure_temporary(s) == 1);
	CHECK(strstr(error, "Temporary") != NULL);
	sasl_server_destroy(&s);

	s = sasl_server_create("SCRAM-SHA-256", test_db);
	CHECK(test_step(s, "n,,n=alice,r=abc", 16, &ch, &error) == SASL_FAIL);
	CHECK(sasl_server_failure_temporary(s) == 1);
	sasl_server_destroy(&s);

	s = sasl_server_create("PLAIN", test_db);
	CHECK(test_step(s, "\0alice", 6, &ch, &error) == SASL_FAIL);
	CHECK(sasl_server_failure_temporary(s) == 0);
	sasl_server_destroy(&s);

	CHECK(sqlite3_exec(h, "ALTER TABLE gone RENAME TO users", NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(h);
	CHECK(PLAIN("\0alice\0wonderland", &error) == SASL_OK);
	buf_free(&ch);
}

static void test_setup(void)
{
	const char *error = NULL;
	char path[160];
	snprintf(test_dir, sizeof(test_dir), "/tmp/kura-test-sasl-XXXXXX");
	if (mkdtemp(test_dir) == NULL)
		return;
	snprintf(test_db_path, sizeof(test_db_path), "%s/users.db", test_dir);
	if (userdb_open(test_db_path, true, &test_db, &error) < 0) {
		printf("userdb_open: %s\n", error);
		return;
	}
	CHECK(userdb_user_add(test_db, "alice", "wonderland", &error) == 0);
	/* users imported from a passwd-file: one with a hash, one in plaintext, one unusable */
	snprintf(path, sizeof(path), "%s/passwd", test_dir);
	char arg[256];
	CHECK(argon2id_hash_encoded(1, 1024, 1, "pw", 2, "saltsaltsaltsalt", 16, 32, arg,
				    sizeof(arg)) == ARGON2_OK);
	FILE *f = fopen(path, "w");
	if (f != NULL) {
		fprintf(f, "plainimport:{PLAIN}secret\nhashimport:{ARGON2ID}%s\n", arg);
		fclose(f);
	}
	int n = 0;
	CHECK(userdb_import_passwd_file(test_db, path, false, &n, &error) == 0 && n == 2);
	if (n != 2)
		printf("  import: %s\n", error);
	unlink(path);
	/* a hash the server cannot use (an operator wrote it by hand) */
	sqlite3 *h = NULL;
	CHECK(sqlite3_open(test_db_path, &h) == SQLITE_OK);
	CHECK(sqlite3_exec(h,
			   "INSERT INTO users (name, password_hash, created) "
			   "VALUES ('imported', 'abJnggxhB/yWI', 0)",
			   NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(h);
}

static void test_teardown(void)
{
	char p[160];
	userdb_close(&test_db);
	snprintf(p, sizeof(p), "%s-wal", test_db_path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", test_db_path);
	unlink(p);
	unlink(test_db_path);
	rmdir(test_dir);
}

int main(void)
{
	TEST_RUN(test_setup);
	if (test_db == NULL)
		return test_finish();
	TEST_RUN(test_mechs);
	TEST_RUN(test_plain_ok);
	TEST_RUN(test_plain_bad);
	TEST_RUN(test_plain_timing);
	TEST_RUN(test_login);
	TEST_RUN(test_scram_exchange);
	TEST_RUN(test_attempted_user);
	TEST_RUN(test_db_failure);
	test_teardown();
	return test_finish();
}
