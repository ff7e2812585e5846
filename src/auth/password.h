/* password.h: password hashing and verification.
 *
 * New hashes are yescrypt ("$y$", libxcrypt's default cost). Verification also accepts, for users
 * migrated from Dovecot or elsewhere: SHA512-CRYPT ("$6$"), BLF-CRYPT ("$2y$", "$2b$", "$2a$")
 * and Argon2id ("$argon2id$v=19$m=..,t=..,p=..$salt$hash"). Nothing else (no DES crypt, no MD5,
 * no plaintext) is ever stored or verified.
 *
 * All functions are thread-safe (the auth process verifies on worker threads). They may block for
 * tens of milliseconds: that is the point of a password hash. Passwords are C strings (no NUL
 * inside); callers wipe their own copies. */
#ifndef KURA_AUTH_PASSWORD_H
#define KURA_AUTH_PASSWORD_H

/* Argon2id parameters above these are refused (as malformed) so that an imported hash cannot make
 * every login allocate gigabytes or burn seconds of CPU. */
#define PASSWORD_ARGON2_MAX_M_KIB (1024u * 1024u) /* 1 GiB */
#define PASSWORD_ARGON2_MAX_T 64u
#define PASSWORD_ARGON2_MAX_P 64u

/* Hash pw with yescrypt and a fresh random salt. *hash_r is a malloc'ed C string (free() it; it is
 * not secret). 0, or -1 if the random source or libxcrypt failed. */
int password_hash(const char *pw, char **hash_r);

/* Verify pw against a stored hash. 1 match, 0 mismatch, -1 unsupported or malformed hash. The
 * final comparison is constant-time. */
int password_verify(const char *hash, const char *pw);

/* Spend the time a yescrypt verification at the default cost spends, and return nothing. Called
 * when the user does not exist (or has an unusable hash), so response time does not reveal it. */
void password_dummy_verify(const char *pw);

/* 1 if hash is syntactically one of the supported formats above (cheap, no hashing), else 0. */
int password_hash_supported(const char *hash);

/* Normalise a hash exported from Dovecot ("{SCHEME}value", scheme case-insensitive) to the form
 * stored by kura:
 *   {SHA512-CRYPT} "$6$..."        {BLF-CRYPT} "$2y$/$2b$/$2a$..."
 *   {ARGON2ID} "$argon2id$..."     {CRYPT} any supported crypt-style hash above
 *   {PLAIN}, {CLEAR}: plaintext, hashed now with yescrypt (slow: one hash per call)
 *   no "{...}" prefix: accepted if the value itself is a supported hash.
 * Every other scheme (MD5-CRYPT, SHA256-CRYPT, SSHA, SCRAM-SHA-256, encoding suffixes such as
 * ".b64", ...) is rejected. 0 with *hash_r malloc'ed (free()), or -1 with *error_r a static
 * message naming the problem. */
int password_from_dovecot(const char *scheme_hash, char **hash_r, const char **error_r);

/* If scheme_hash is a Dovecot plaintext entry ({PLAIN} or {CLEAR}), return a pointer to the
 * plaintext inside it, else NULL. Lets an importer derive SCRAM keys for such users. */
const char *password_dovecot_plaintext(const char *scheme_hash);

#endif
