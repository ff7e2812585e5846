/* test-scram.c: unit tests for the SCRAM-SHA-256 server: the RFC 7677 test vector, full
 * exchanges against a client computed here with OpenSSL, and malformed messages. */
#include "auth/scram.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/base64.h"
#include "lib/secure.h"
#include "lib/test.h"

/* Users of the lookup below: "user"/"pencil" with the RFC 7677 salt. */
struct test_db {
	const char *name;
	const char *password;
	int calls;
	int fail;
	char last_name[SCRAM_USERNAME_MAX + 1];
};

static int test_lookup(const char *username, struct scram_credentials *creds_r, void *context,
		       const char **error_r)
{
	struct test_db *db = context;
	db->calls++;
	snprintf(db->last_name, sizeof(db->last_name), "%s", username);
	if (db->fail) {
		*error_r = "database down";
		return -1;
	}
	if (strcmp(username, db->name) != 0)
		return 0;
	struct buf salt;
	buf_init(&salt, SCRAM_SALT_MAX);
	base64_decode(&salt, "W22ZaJ0SNY7soEsUEjb6gQ==", 24);
	memcpy(creds_r->salt, salt.data, salt.len);
	creds_r->salt_len = salt.len;
	creds_r->iterations = 4096;
	buf_free(&salt);
	return scram_keys_derive(db->password, creds_r->salt, creds_r->salt_len, 4096,
				 creds_r->stored_key, creds_r->server_key) == 0 ? 1 : -1;
}

/* Feed a C string; returns the result and leaves the server's message in out. */
static enum scram_result test_step(struct scram_server *s, struct test_db *db, const char *msg,
				   struct buf *out, const char **error_r)
{
	return scram_server_step(s, (const unsigned char *)msg, strlen(msg), test_lookup, db, out,
				 error_r);
}

static void test_rfc7677_vector(void)
{
	struct test_db db = {.name = "user", .password = "pencil"};
	struct scram_server *s = scram_server_create();
	struct buf out;
	const char *error = NULL;
	buf_init(&out, SCRAM_SERVER_MESSAGE_MAX);

	CHECK(scram_server_set_nonce(s, "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0") == 0);
	CHECK(test_step(s, &db, "n,,n=user,r=rOprNGfwEbeRWgbNEkqO", &out, &error) ==
	      SCRAM_CONTINUE);
	CHECK_STR((char *)out.data, "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
				    "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096");
	CHECK(scram_server_username(s) == NULL);
	CHECK(test_step(s, &db,
			"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
			"p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
			&out, &error) == SCRAM_CONTINUE);
	CHECK_STR((char *)out.data, "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
	CHECK(scram_server_username(s) == NULL);
	CHECK(test_step(s, &db, "", &out, &error) == SCRAM_OK);
	CHECK(out.len == 0);
	CHECK(scram_server_username(s) != NULL && strcmp(scram_server_username(s), "user") == 0);
	CHECK(db.calls == 1);
	/* nothing more after success */
	CHECK(test_step(s, &db, "", &out, &error) == SCRAM_FAIL);
	scram_server_destroy(&s);
	CHECK(s == NULL);
	scram_server_destroy(&s);
	buf_free(&out);
}

static void test_keys_derive(void)
{
	unsigned char stored[32], server[32];
	unsigned char salt[16] = {0};
	CHECK(scram_keys_derive("pencil", salt, 16, 4096, stored, server) == 0);
	CHECK(scram_keys_derive("pencil", salt, 0, 4096, stored, server) == -1);
	CHECK(scram_keys_derive("pencil", salt, 16, 0, stored, server) == -1);
	CHECK(scram_keys_derive("pencil", salt, SCRAM_SALT_MAX + 1, 1, stored, server) == -1);
}

/* A SCRAM client, as a real one computes it. client_first_bare is "n=..,r=..", server_first
 * what the server sent; writes the client-final message for channel-binding value cb. */
static void test_client_final(const char *password, const char *gs2, const char *client_first_bare,
			      const char *server_first, char *final, size_t final_size)
{
	char nonce[600], salt_b64[200];
	unsigned iter = 0;
	const char *r = strstr(server_first, "r="), *sp = strstr(server_first, ",s="),
		   *ip = strstr(server_first, ",i=");
	snprintf(nonce, sizeof(nonce), "%.*s", (int)(sp - r - 2), r + 2);
	snprintf(salt_b64, sizeof(salt_b64), "%.*s", (int)(ip - sp - 3), sp + 3);
	iter = (unsigned)strtoul(ip + 3, NULL, 10);

	struct buf salt, cb;
	buf_init(&salt, 100);
	buf_init(&cb, 100);
	base64_decode(&salt, salt_b64, strlen(salt_b64));
	base64_encode(&cb, gs2, strlen(gs2));

	unsigned char salted[32], client_key[32], stored[32], sig[32], proof[32];
	unsigned int len;
	PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt.data, (int)salt.len, (int)iter,
			  EVP_sha256(), 32, salted);
	HMAC(EVP_sha256(), salted, 32, (const unsigned char *)"Client Key", 10, client_key, &len);
	SHA256(client_key, 32, stored);

	char without_proof[800], auth[2000];
	snprintf(without_proof, sizeof(without_proof), "c=%s,r=%s", (char *)cb.data, nonce);
	snprintf(auth, sizeof(auth), "%s,%s,%s", client_first_bare, server_first, without_proof);
	HMAC(EVP_sha256(), stored, 32, (unsigned char *)auth, strlen(auth), sig, &len);
	for (int i = 0; i < 32; i++)
		proof[i] = client_key[i] ^ sig[i];
	struct buf p64;
	buf_init(&p64, 100);
	base64_encode(&p64, proof, 32);
	snprintf(final, final_size, "%s,p=%s", without_proof, (char *)p64.data);
	buf_free(&p64);
	buf_free(&salt);
	buf_free(&cb);
}

/* A complete exchange with random server nonce; returns the final result. */
static enum scram_result test_exchange(const char *gs2, const char *user, const char *password,
				       struct test_db *db, const char **error_r)
{
	struct scram_server *s = scram_server_create();
	struct buf out;
	char first[600], bare[500], final[1200];
	enum scram_result r;
	buf_init(&out, SCRAM_SERVER_MESSAGE_MAX);
	snprintf(bare, sizeof(bare), "n=%s,r=fyko+d2lbbFgONRv9qkxdawL", user);
	snprintf(first, sizeof(first), "%s%s", gs2, bare);
	r = test_step(s, db, first, &out, error_r);
	if (r != SCRAM_CONTINUE)
		goto out;
	CHECK(strncmp((char *)out.data, "r=fyko+d2lbbFgONRv9qkxdawL", 26) == 0);
	/* 18 random bytes, base64: 24 characters of server nonce */
	CHECK(strstr((char *)out.data, ",s=") - (char *)out.data == 2 + 24 + 24);
	test_client_final(password, gs2, bare, (char *)out.data, final, sizeof(final));
	r = test_step(s, db, final, &out, error_r);
	if (r != SCRAM_CONTINUE)
		goto out;
	CHECK(strncmp((char *)out.data, "v=", 2) == 0 && out.len == 46);
	r = test_step(s, db, "", &out, error_r);
out:
	scram_server_destroy(&s);
	buf_free(&out);
	return r;
}

static void test_full_exchange(void)
{
	struct test_db db = {.name = "user", .password = "pencil"};
	const char *error = NULL;
	CHECK(test_exchange("n,,", "user", "pencil", &db, &error) == SCRAM_OK);
	/* "y": client could do channel binding but thinks we cannot; c= then carries "y,," */
	CHECK(test_exchange("y,,", "user", "pencil", &db, &error) == SCRAM_OK);
	CHECK(test_exchange("n,a=user,", "user", "pencil", &db, &error) == SCRAM_OK);
	CHECK(test_exchange("n,,", "user", "pencil2", &db, &error) == SCRAM_FAIL);
	CHECK_STR(error, "Authentication failed");
	/* unknown user: continues to the end, then fails with the same text */
	CHECK(test_exchange("n,,", "nobody", "pencil", &db, &error) == SCRAM_FAIL);
	CHECK_STR(error, "Authentication failed");
	db.fail = 1;
	CHECK(test_exchange("n,,", "user", "pencil", &db, &error) == SCRAM_FAIL);
	CHECK_STR(error, "database down");
}

/* Fake salts: stable per name, case-folded like userdb names, different between names. */
static void test_unknown_user_salt(void)
{
	struct test_db db = {.name = "user", .password = "pencil"};
	const char *names[] = {"n,,n=ghost,r=abc", "n,,n=GHOST,r=abc", "n,,n=ghost,r=xyz",
			       "n,,n=ghost2,r=abc"};
	char salts[4][100];
	for (int i = 0; i < 4; i++) {
		struct scram_server *s = scram_server_create();
		struct buf out;
		const char *error = NULL;
		buf_init(&out, SCRAM_SERVER_MESSAGE_MAX);
		CHECK(test_step(s, &db, names[i], &out, &error) == SCRAM_CONTINUE);
		const char *sp = strstr((char *)out.data, ",s=");
		CHECK(sp != NULL && strstr((char *)out.data, ",i=4096") != NULL);
		snprintf(salts[i], sizeof(salts[i]), "%s", sp != NULL ? sp : "");
		*strstr(salts[i], ",i=") = '\0';
		CHECK(strlen(salts[i]) == 3 + 24); /* 16 bytes, like a real salt */
		scram_server_destroy(&s);
		buf_free(&out);
	}
	CHECK_STR(salts[0], salts[1]);
	CHECK_STR(salts[0], salts[2]);
	CHECK(strcmp(salts[0], salts[3]) != 0);
}

/* Expect the first message to fail with an error containing `want`. */
static void test_first_fails(const char *msg, size_t len, const char *want)
{
	struct test_db db = {.name = "user", .password = "pencil"};
	struct scram_server *s = scram_server_create();
	struct buf out;
	const char *error = NULL;
	buf_init(&out, SCRAM_SERVER_MESSAGE_MAX);
	enum scram_result r = scram_server_step(s, (const unsigned char *)msg, len, test_lookup,
						&db, &out, &error);
	CHECK(r == SCRAM_FAIL);
	if (r != SCRAM_FAIL || error == NULL || strstr(error, want) == NULL)
		printf("  for '%.*s': %s\n", (int)len, msg, error != NULL ? error : "(no error)");
	CHECK(error != NULL && strstr(error, want) != NULL);
	CHECK(out.len == 0);
	CHECK(db.calls == 0);
	/* and the object stays failed */
	CHECK(test_step(s, &db, "n,,n=user,r=abc", &out, &error) == SCRAM_FAIL);
	scram_server_destroy(&s);
	buf_free(&out);
}

#define FIRST_FAILS(msg, want) test_first_fails((msg), strlen(msg), (want))

static void test_client_first_syntax(void)
{
	FIRST_FAILS("", "Malformed");
	FIRST_FAILS("n", "Malformed");
	FIRST_FAILS("p=tls-unique,,n=user,r=abc", "channel binding");
	FIRST_FAILS("x,,n=user,r=abc", "Malformed");
	FIRST_FAILS("n,n=user,r=abc", "Malformed");
	FIRST_FAILS("n,,,n=user,r=abc", "Malformed");
	FIRST_FAILS("n,a=,n=user,r=abc", "authorization");
	FIRST_FAILS("n,a=other,n=user,r=abc", "authorization identity must equal");
	FIRST_FAILS("n,b=user,n=user,r=abc", "authorization");
	FIRST_FAILS("n,,m=ext,n=user,r=abc", "mandatory extensions");
	FIRST_FAILS("n,,n=,r=abc", "Malformed");
	FIRST_FAILS("n,,n=us=41er,r=abc", "username");
	FIRST_FAILS("n,,n=us=2c,r=abc", "username"); /* escapes are upper case */
	FIRST_FAILS("n,,n=user=2,r=abc", "username");
	FIRST_FAILS("n,,n=user=,r=abc", "username");
	FIRST_FAILS("n,,u=user,r=abc", "username");
	FIRST_FAILS("n,,n=user", "nonce");
	FIRST_FAILS("n,,n=user,", "nonce");
	FIRST_FAILS("n,,n=user,r=", "nonce");
	FIRST_FAILS("n,,n=user,r=a b", "nonce");
	FIRST_FAILS("n,,n=user,x=abc", "nonce");
	FIRST_FAILS("n,,n=user,r=abc,", "Malformed");
	FIRST_FAILS("n,,n=user,r=abc,x=", "Malformed");
	FIRST_FAILS("n,,n=user,r=abc,1=x", "Malformed");
	FIRST_FAILS("n,,n=user,r=abc,r=def", "Malformed");
	FIRST_FAILS("n,,n=user,r=abc,p=def", "Malformed");
	test_first_fails("n,,n=us\0er,r=abc", 15, "Malformed");
	char longname[400];
	memset(longname, 'a', sizeof(longname));
	snprintf(longname, sizeof(longname), "n,,n=%0300d,r=abc", 0);
	FIRST_FAILS(longname, "username");
	char longnonce[400];
	snprintf(longnonce, sizeof(longnonce), "n,,n=user,r=%0300d", 0);
	FIRST_FAILS(longnonce, "nonce");
	char huge[SCRAM_MESSAGE_MAX + 2];
	memset(huge, 'x', sizeof(huge) - 1);
	huge[sizeof(huge) - 1] = '\0';
	FIRST_FAILS(huge, "Malformed");
}

static void test_client_first_accepted(void)
{
	struct test_db db = {.name = "us,e=r", .password = "pencil"};
	struct scram_server *s = scram_server_create();
	struct buf out;
	const char *error = NULL;
	buf_init(&out, SCRAM_SERVER_MESSAGE_MAX);
	/* escaped name and authzid; an unknown optional extension is ignored (RFC 5802 5.1) */
	CHECK(test_step(s, &db, "n,a=us=2Ce=3Dr,n=us=2Ce=3Dr,r=abc,x=whatever=,y=1", &out,
			&error) == SCRAM_CONTINUE);
	CHECK_STR(db.last_name, "us,e=r");
	scram_server_destroy(&s);

	/* fixed nonce test hook refuses what is not a printable nonce */
	s = scram_server_create();
	CHECK(scram_server_set_nonce(s, "a,b") == -1);
	CHECK(scram_server_set_nonce(s, "") == -1);
	CHECK(scram_server_set_nonce(s, "ok") == 0);
	CHECK(test_step(s, &db, "n,,n=x,r=abc", &out, &error) == SCRAM_CONTINUE);
	CHECK(strncmp((char *)out.data, "r=abcok,", 8) == 0);
	CHECK(scram_server_set_nonce(s, "late") == -1);
	scram_server_destroy(&s);

	/* output buffer too small: fails cleanly */
	struct buf small;
	buf_init(&small, 10);
	s = scram_server_create();
	CHECK(test_step(s, &db, "n,,n=x,r=abc", &small, &error) == SCRAM_FAIL);
	CHECK(small.len == 0);
	scram_server_destroy(&s);
	buf_free(&small);
	buf_free(&out);
}

/* Run the RFC vector's first step, then feed `final`; expect failure mentioning want. */
static void test_final_fails(const char *final, const char *want)
{
	struct test_db db = {.name = "user", .password = "pencil"};
	struct scram_server *s = scram_server_create();
	struct buf out;
	const char *error = NULL;
	buf_init(&out, SCRAM_SERVER_MESSAGE_MAX);
	scram_server_set_nonce(s, "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0");
	CHECK(test_step(s, &db, "n,,n=user,r=rOprNGfwEbeRWgbNEkqO", &out, &error) ==
	      SCRAM_CONTINUE);
	enum scram_result r = test_step(s, &db, final, &out, &error);
	CHECK(r == SCRAM_FAIL);
	if (r != SCRAM_FAIL || error == NULL || strstr(error, want) == NULL)
		printf("  for '%s': %s\n", final, error != NULL ? error : "(no error)");
	CHECK(error != NULL && strstr(error, want) != NULL);
	CHECK(out.len == 0);
	scram_server_destroy(&s);
	buf_free(&out);
}

#define NONCE "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define PROOF "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="

static void test_client_final_syntax(void)
{
	test_final_fails("c=eSws,r=" NONCE "," PROOF, "channel binding");
	test_final_fails("c=biwsAA==,r=" NONCE "," PROOF, "channel binding");
	test_final_fails("c=biw,r=" NONCE "," PROOF, "channel binding");
	test_final_fails("c=biws,r=rOprNGfwEbeRWgbNEkqO," PROOF, "nonce");
	test_final_fails("c=biws,r=" NONCE "x," PROOF, "nonce");
	test_final_fails("c=biws,r=" NONCE, "Malformed");
	test_final_fails("c=biws,r=" NONCE ",", "Malformed");
	test_final_fails("c=biws,r=" NONCE "," PROOF ",", "Malformed");
	test_final_fails("c=biws,r=" NONCE "," PROOF ",x=1", "Malformed");
	test_final_fails("c=biws,r=" NONCE ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndQ==",
			 "Malformed");
	test_final_fails("c=biws,r=" NONCE ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ",
			 "Malformed");
	test_final_fails("r=" NONCE ",c=biws," PROOF, "Malformed");
	test_final_fails("c=biws,r=" NONCE ",m=x," PROOF, "Malformed");
	test_final_fails("c=biws,r=" NONCE ",p=AAAA," PROOF, "Malformed");
	/* an ignored extension changes AuthMessage, so the RFC proof no longer verifies */
	test_final_fails("c=biws,r=" NONCE ",x=ext," PROOF, "Authentication failed");
	/* a flipped proof bit */
	test_final_fails("c=biws,r=" NONCE ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVM=",
			 "Authentication failed");

	/* data instead of the final empty message */
	struct test_db db = {.name = "user", .password = "pencil"};
	struct scram_server *s = scram_server_create();
	struct buf out;
	const char *error = NULL;
	buf_init(&out, SCRAM_SERVER_MESSAGE_MAX);
	scram_server_set_nonce(s, "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0");
	CHECK(test_step(s, &db, "n,,n=user,r=rOprNGfwEbeRWgbNEkqO", &out, &error) ==
	      SCRAM_CONTINUE);
	CHECK(test_step(s, &db, "c=biws,r=" NONCE "," PROOF, &out, &error) == SCRAM_CONTINUE);
	CHECK(test_step(s, &db, "x", &out, &error) == SCRAM_FAIL);
	CHECK(scram_server_username(s) == NULL);
	scram_server_destroy(&s);
	buf_free(&out);
}

int main(void)
{
	TEST_RUN(test_rfc7677_vector);
	TEST_RUN(test_keys_derive);
	TEST_RUN(test_full_exchange);
	TEST_RUN(test_unknown_user_salt);
	TEST_RUN(test_client_first_syntax);
	TEST_RUN(test_client_first_accepted);
	TEST_RUN(test_client_final_syntax);
	return test_finish();
}
