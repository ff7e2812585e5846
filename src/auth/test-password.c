/* test-password.c: unit tests for password hashing, verification and Dovecot import. */
#include "auth/password.h"

#include <argon2.h>
#include <crypt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/test.h"

/* Hash with an explicit crypt prefix, the way another system would have. */
static char *test_crypt(const char *prefix, unsigned long count, const char *pw)
{
	static const char rnd[16] = "0123456789abcdef";
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

static char *test_argon2id(const char *pw)
{
	static const char salt[16] = "saltsaltsaltsalt";
	char encoded[256];
	if (argon2id_hash_encoded(2, 1024, 1, pw, strlen(pw), salt, sizeof(salt), 32, encoded,
				  sizeof(encoded)) != ARGON2_OK)
		return NULL;
	return strdup(encoded);
}

static void test_yescrypt(void)
{
	char *h1 = NULL, *h2 = NULL;
	CHECK(password_hash("secret", &h1) == 0);
	CHECK(password_hash("secret", &h2) == 0);
	CHECK(h1 != NULL && strncmp(h1, "$y$", 3) == 0);
	CHECK(strcmp(h1, h2) != 0); /* fresh salt each time */
	CHECK(password_hash_supported(h1) == 1);
	CHECK(password_verify(h1, "secret") == 1);
	CHECK(password_verify(h1, "Secret") == 0);
	CHECK(password_verify(h1, "") == 0);
	CHECK(password_verify(h2, "secret") == 1);
	/* truncated or extended hashes are malformed, not a mismatch */
	h1[strlen(h1) - 1] = '\0';
	CHECK(password_verify(h1, "secret") == -1);
	free(h1);
	free(h2);
}

static void test_other_schemes(void)
{
	char *sha = test_crypt("$6$", 0, "pw1");
	char *blf = test_crypt("$2b$", 5, "pw2");
	char *bly = test_crypt("$2y$", 5, "pw2");
	char *arg = test_argon2id("pw3");
	CHECK(sha != NULL && blf != NULL && bly != NULL && arg != NULL);
	if (sha == NULL || blf == NULL || bly == NULL || arg == NULL)
		return;
	CHECK(password_verify(sha, "pw1") == 1);
	CHECK(password_verify(sha, "pw2") == 0);
	CHECK(password_verify(blf, "pw2") == 1);
	CHECK(password_verify(blf, "pw1") == 0);
	CHECK(password_verify(bly, "pw2") == 1);
	CHECK(password_verify(arg, "pw3") == 1);
	CHECK(password_verify(arg, "pw1") == 0);
	free(sha);
	free(blf);
	free(bly);
	free(arg);
}

static void test_unsupported(void)
{
	char *md5 = test_crypt("$1$", 0, "pw");
	char *sha256 = test_crypt("$5$", 0, "pw");
	CHECK(md5 != NULL && password_verify(md5, "pw") == -1);
	CHECK(sha256 != NULL && password_verify(sha256, "pw") == -1);
	free(md5);
	free(sha256);
	CHECK(password_verify("abJnggxhB/yWI", "pw") == -1); /* DES crypt */
	CHECK(password_verify("", "pw") == -1);
	CHECK(password_verify("pw", "pw") == -1);             /* plaintext */
	CHECK(password_verify("$y$", "pw") == -1);
	CHECK(password_verify("$argon2i$v=19$m=1024,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g", "pw") == -1);
	/* absurd argon2 costs are refused before any work is done */
	CHECK(password_verify("$argon2id$v=19$m=4194304,t=2,p=1$c2FsdHNhbHRzYWx0$"
			      "aGFzaGhhc2hoYXNoaGFzaGhhc2g",
			      "pw") == -1);
	CHECK(password_verify("$argon2id$v=19$m=1024,t=0,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2g",
			      "pw") == -1);
	CHECK(password_verify("$argon2id$v=19$m=01024,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2g",
			      "pw") == -1);
	CHECK(password_verify("$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0$aGFz:Ghhc2g",
			      "pw") == -1);
}

static void test_dovecot(void)
{
	const char *error = NULL;
	char *hash = NULL;
	char *sha = test_crypt("$6$", 0, "pw1");
	char *blf = test_crypt("$2y$", 5, "pw2");
	char *arg = test_argon2id("pw3");
	char in[512];

	snprintf(in, sizeof(in), "{SHA512-CRYPT}%s", sha);
	CHECK(password_from_dovecot(in, &hash, &error) == 0);
	CHECK(hash != NULL && strcmp(hash, sha) == 0);
	free(hash);
	hash = NULL;

	snprintf(in, sizeof(in), "{blf-crypt}%s", blf); /* scheme names are case-insensitive */
	CHECK(password_from_dovecot(in, &hash, &error) == 0);
	CHECK(hash != NULL && strcmp(hash, blf) == 0);
	free(hash);
	hash = NULL;

	snprintf(in, sizeof(in), "{ARGON2ID}%s", arg);
	CHECK(password_from_dovecot(in, &hash, &error) == 0);
	CHECK(hash != NULL && password_verify(hash, "pw3") == 1);
	free(hash);
	hash = NULL;

	snprintf(in, sizeof(in), "{CRYPT}%s", sha);
	CHECK(password_from_dovecot(in, &hash, &error) == 0);
	free(hash);
	hash = NULL;

	CHECK(password_from_dovecot(sha, &hash, &error) == 0); /* no prefix, recognisable */
	free(hash);
	hash = NULL;

	CHECK(password_from_dovecot("{PLAIN}hunter2", &hash, &error) == 0);
	CHECK(hash != NULL && strncmp(hash, "$y$", 3) == 0);
	CHECK(hash != NULL && password_verify(hash, "hunter2") == 1);
	free(hash);
	hash = NULL;
	CHECK(password_from_dovecot("{CLEAR}x:y", &hash, &error) == 0);
	CHECK(hash != NULL && password_verify(hash, "x:y") == 1);
	free(hash);
	hash = NULL;
	CHECK(password_dovecot_plaintext("{clear}abc") != NULL);
	CHECK(password_dovecot_plaintext("{SHA512-CRYPT}abc") == NULL);
	CHECK(password_dovecot_plaintext("abc") == NULL);

	/* rejected */
	CHECK(password_from_dovecot("{PLAIN}", &hash, &error) == -1);
	CHECK(password_from_dovecot("{MD5-CRYPT}$1$abc$def", &hash, &error) == -1);
	CHECK(strstr(error, "unsupported password scheme") != NULL);
	CHECK(strstr(error, "{MD5-CRYPT}") != NULL);
	CHECK(password_from_dovecot("{SSHA}abcdef", &hash, &error) == -1);
	CHECK(password_from_dovecot("{SHA512-CRYPT.b64}abc", &hash, &error) == -1);
	CHECK(strstr(error, "encoding") != NULL);
	snprintf(in, sizeof(in), "{BLF-CRYPT}%s", sha); /* scheme and hash disagree */
	CHECK(password_from_dovecot(in, &hash, &error) == -1);
	CHECK(password_from_dovecot("{SHA512-CRYPT}$6$short", &hash, &error) == -1);
	CHECK(password_from_dovecot("{SHA512-CRYPT", &hash, &error) == -1);
	CHECK(password_from_dovecot("abJnggxhB/yWI", &hash, &error) == -1);
	CHECK(hash == NULL);
	free(sha);
	free(blf);
	free(arg);
}

static double test_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_dummy_cost(void)
{
	char *h = NULL;
	CHECK(password_hash("pw", &h) == 0);
	password_dummy_verify("warm-up");
	double best_real = 1e9, best_dummy = 1e9;
	for (int i = 0; i < 3; i++) {
		double t0 = test_seconds();
		CHECK(password_verify(h, "wrong") == 0);
		double t1 = test_seconds();
		password_dummy_verify("wrong");
		double t2 = test_seconds();
		if (t1 - t0 < best_real)
			best_real = t1 - t0;
		if (t2 - t1 < best_dummy)
			best_dummy = t2 - t1;
	}
	/* same algorithm and cost: within a factor of two even on a noisy machine */
	CHECK(best_dummy > best_real / 2 && best_dummy < best_real * 2);
	free(h);
}

int main(void)
{
	TEST_RUN(test_yescrypt);
	TEST_RUN(test_other_schemes);
	TEST_RUN(test_unsupported);
	TEST_RUN(test_dovecot);
	TEST_RUN(test_dummy_cost);
	return test_finish();
}
