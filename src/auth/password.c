/* password.c: password hashes through libxcrypt (yescrypt, SHA512-CRYPT, BLF-CRYPT) and
 * libargon2 (Argon2id). Traps: crypt_rn() accepts almost any setting (DES crypt included), so a
 * hash is checked against the supported formats before it is used; struct crypt_data is 32 KiB
 * and holds the computed hash, so it lives on the heap and is wiped after use. */
#include "auth/password.h"

#include <argon2.h>
#include <crypt.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/secure.h"
#include "lib/xmalloc.h"

#define PASSWORD_SALT_BYTES 16

static bool password_crypt_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '/';
}

/* Length of the last '$'-separated segment (the hash proper) if every character after the
 * prefix is from the crypt alphabet (plus '$' separators and '=' of "rounds="), else -1. */
static long password_crypt_check(const char *hash, size_t prefix_len)
{
	size_t seg = 0;
	for (const char *p = hash + prefix_len; *p != '\0'; p++) {
		if (*p == '$') {
			seg = 0;
		} else if (password_crypt_char(*p) || *p == '=') {
			seg++;
		} else {
			return -1;
		}
	}
	return (long)seg;
}

static bool password_is_bcrypt_prefix(const char *hash)
{
	return strncmp(hash, "$2y$", 4) == 0 || strncmp(hash, "$2b$", 4) == 0 ||
	       strncmp(hash, "$2a$", 4) == 0;
}

/* Parse a decimal number of at most 10 digits, no sign, no leading zero; advances *p. */
static int password_parse_u32(const char **p, uint32_t *value_r)
{
	const char *s = *p;
	uint64_t v = 0;
	size_t n = 0;
	while (s[n] >= '0' && s[n] <= '9') {
		if (n == 10)
			return -1;
		v = v * 10 + (uint64_t)(s[n] - '0');
		n++;
	}
	if (n == 0 || (n > 1 && s[0] == '0') || v > UINT32_MAX)
		return -1;
	*value_r = (uint32_t)v;
	*p = s + n;
	return 0;
}

/* Unpadded base64 as argon2 writes it; returns the length, or 0 if empty or invalid. */
static size_t password_b64_nopad_len(const char *s, char end)
{
	size_t n = 0;
	while (s[n] != end) {
		char c = s[n];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '+' || c == '/'))
			return 0;
		n++;
	}
	return n % 4 == 1 ? 0 : n;
}

/* "$argon2id$[v=19$]m=M,t=T,p=P$salt$hash" with the cost limits of password.h. */
static bool password_argon2id_valid(const char *hash)
{
	const char *p = hash + strlen("$argon2id$");
	uint32_t v, m, t, par;
	if (strncmp(p, "v=", 2) == 0) {
		p += 2;
		if (password_parse_u32(&p, &v) < 0 || (v != 16 && v != 19) || *p++ != '$')
			return false;
	}
	if (strncmp(p, "m=", 2) != 0)
		return false;
	p += 2;
	if (password_parse_u32(&p, &m) < 0 || strncmp(p, ",t=", 3) != 0)
		return false;
	p += 3;
	if (password_parse_u32(&p, &t) < 0 || strncmp(p, ",p=", 3) != 0)
		return false;
	p += 3;
	if (password_parse_u32(&p, &par) < 0 || *p++ != '$')
		return false;
	if (m == 0 || m > PASSWORD_ARGON2_MAX_M_KIB || t == 0 || t > PASSWORD_ARGON2_MAX_T ||
	    par == 0 || par > PASSWORD_ARGON2_MAX_P)
		return false;
	size_t salt_len = password_b64_nopad_len(p, '$');
	if (salt_len == 0)
		return false;
	p += salt_len + 1;
	size_t hash_len = password_b64_nopad_len(p, '\0');
	/* argon2 wants at least 8 bytes of salt and 4 of output */
	return salt_len >= 11 && hash_len >= 6;
}

int password_hash_supported(const char *hash)
{
	long seg;
	if (strncmp(hash, "$argon2id$", 10) == 0)
		return password_argon2id_valid(hash);
	if (strncmp(hash, "$y$", 3) == 0) {
		seg = password_crypt_check(hash, 3);
		if (seg != 43)
			return 0;
	} else if (strncmp(hash, "$6$", 3) == 0) {
		seg = password_crypt_check(hash, 3);
		if (seg != 86)
			return 0;
	} else if (password_is_bcrypt_prefix(hash)) {
		if (strlen(hash) != 60 || password_crypt_check(hash, 4) != 53)
			return 0;
	} else {
		return 0;
	}
	int r = crypt_checksalt(hash);
	return r == CRYPT_SALT_OK || r == CRYPT_SALT_METHOD_LEGACY;
}

int password_hash(const char *pw, char **hash_r)
{
	unsigned char rnd[PASSWORD_SALT_BYTES];
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	int ret = -1;

	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return -1;
	if (crypt_gensalt_rn("$y$", 0, (const char *)rnd, sizeof(rnd), setting, sizeof(setting)) ==
	    NULL)
		goto out;
	struct crypt_data *cd = xcalloc(1, sizeof(*cd));
	const char *out = crypt_rn(pw, setting, cd, sizeof(*cd));
	if (out != NULL && out[0] != '*') {
		*hash_r = xstrdup(out);
		ret = 0;
	}
	secure_zero(cd, sizeof(*cd));
	free(cd);
out:
	secure_zero(rnd, sizeof(rnd));
	return ret;
}

static int password_verify_crypt(const char *hash, const char *pw)
{
	struct crypt_data *cd = xcalloc(1, sizeof(*cd));
	int ret = -1;
	const char *out = crypt_rn(pw, hash, cd, sizeof(*cd));
	if (out != NULL && out[0] != '*') {
		size_t hlen = strlen(hash);
		/* the lengths depend only on the stored hash, never on the password */
		if (strlen(out) == hlen)
			ret = secure_memeq(out, hash, hlen) ? 1 : 0;
	}
	secure_zero(cd, sizeof(*cd));
	free(cd);
	return ret;
}

int password_verify(const char *hash, const char *pw)
{
	if (!password_hash_supported(hash))
		return -1;
	if (strncmp(hash, "$argon2id$", 10) == 0) {
		/* argon2id_verify compares in constant time (argon2_compare) */
		int r = argon2id_verify(hash, pw, strlen(pw));
		if (r == ARGON2_OK)
			return 1;
		return r == ARGON2_VERIFY_MISMATCH ? 0 : -1;
	}
	return password_verify_crypt(hash, pw);
}

static char password_dummy_setting[CRYPT_GENSALT_OUTPUT_SIZE];
static pthread_once_t password_dummy_once = PTHREAD_ONCE_INIT;

static void password_dummy_init(void)
{
	/* The salt need not be secret or random: nobody ever sees this hash. What matters is that
	 * it has the default cost, the same as crypt_gensalt_rn() gives real hashes. */
	static const char rnd[PASSWORD_SALT_BYTES] = "kura-dummy-salt";
	if (crypt_gensalt_rn("$y$", 0, rnd, sizeof(rnd), password_dummy_setting,
			     sizeof(password_dummy_setting)) == NULL)
		xabort("crypt_gensalt_rn failed for yescrypt");
}

void password_dummy_verify(const char *pw)
{
	pthread_once(&password_dummy_once, password_dummy_init);
	struct crypt_data *cd = xcalloc(1, sizeof(*cd));
	const char *out = crypt_rn(pw, password_dummy_setting, cd, sizeof(*cd));
	if (out != NULL) {
		/* mirror the comparison of a real verification */
		(void)secure_memeq(out, password_dummy_setting, strnlen(out, 16));
	}
	secure_zero(cd, sizeof(*cd));
	free(cd);
}

/* Thread-local so that concurrent imports do not overwrite each other's messages. */
static __thread char password_error[160];

static const char *password_scheme_error(const char *what, const char *scheme, size_t len)
{
	snprintf(password_error, sizeof(password_error), "%s {%.*s}", what,
		 (int)(len > 40 ? 40 : len), scheme);
	return password_error;
}

static bool password_scheme_is(const char *scheme, size_t len, const char *name)
{
	return strlen(name) == len && strncasecmp(scheme, name, len) == 0;
}

const char *password_dovecot_plaintext(const char *scheme_hash)
{
	const char *end;
	if (scheme_hash[0] != '{' || (end = strchr(scheme_hash, '}')) == NULL)
		return NULL;
	const char *scheme = scheme_hash + 1;
	size_t len = (size_t)(end - scheme);
	if (password_scheme_is(scheme, len, "PLAIN") || password_scheme_is(scheme, len, "CLEAR"))
		return end + 1;
	return NULL;
}

int password_from_dovecot(const char *scheme_hash, char **hash_r, const char **error_r)
{
	const char *value = scheme_hash;
	const char *plain = password_dovecot_plaintext(scheme_hash);

	if (plain != NULL) {
		if (plain[0] == '\0') {
			*error_r = "empty plaintext password";
			return -1;
		}
		if (password_hash(plain, hash_r) < 0) {
			*error_r = "hashing the plaintext password failed";
			return -1;
		}
		return 0;
	}
	if (scheme_hash[0] == '{') {
		const char *end = strchr(scheme_hash, '}');
		if (end == NULL) {
			*error_r = "password scheme prefix has no closing '}'";
			return -1;
		}
		const char *scheme = scheme_hash + 1;
		size_t len = (size_t)(end - scheme);
		value = end + 1;
		bool ok;
		if (memchr(scheme, '.', len) != NULL) {
			*error_r = password_scheme_error("encoding suffixes are not supported:", scheme,
							 len);
			return -1;
		} else if (password_scheme_is(scheme, len, "SHA512-CRYPT")) {
			ok = strncmp(value, "$6$", 3) == 0;
		} else if (password_scheme_is(scheme, len, "BLF-CRYPT")) {
			ok = password_is_bcrypt_prefix(value);
		} else if (password_scheme_is(scheme, len, "ARGON2ID")) {
			ok = strncmp(value, "$argon2id$", 10) == 0;
		} else if (password_scheme_is(scheme, len, "CRYPT")) {
			ok = strncmp(value, "$argon2id$", 10) != 0;
		} else {
			*error_r = password_scheme_error(
				"unsupported password scheme (use SHA512-CRYPT, BLF-CRYPT, ARGON2ID, "
				"CRYPT, PLAIN or CLEAR):",
				scheme, len);
			return -1;
		}
		if (!ok) {
			*error_r = password_scheme_error("hash does not match its scheme", scheme,
							 len);
			return -1;
		}
	}
	if (!password_hash_supported(value)) {
		*error_r = "malformed or unsupported password hash";
		return -1;
	}
	*hash_r = xstrdup(value);
	return 0;
}
