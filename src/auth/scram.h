/* scram.h: SCRAM-SHA-256 (RFC 5802, RFC 7677), server side, without channel binding.
 *
 * The server never advertises SCRAM-SHA-256-PLUS, so the gs2 flags "n" and "y" are accepted and
 * "p=" is refused. The exchange, in SASL terms:
 *   client-first  -> step returns SCRAM_CONTINUE, out = server-first ("r=..,s=..,i=..")
 *   client-final  -> step returns SCRAM_CONTINUE, out = server-final ("v=..")
 *   empty message -> step returns SCRAM_OK (IMAP has no "additional data with success", so the
 *                    server-final travels as a challenge and the client answers it empty)
 * Any error returns SCRAM_FAIL with a static *error_r, and every later step fails too.
 *
 * Unknown users: the lookup callback says so and the exchange goes on with a salt derived from
 * the name (HMAC with a per-process random secret, over the name with ASCII letters folded to lower
 * case, like userdb's names), so server-first looks the same whether or not the user exists and
 * "Bob" and "bob" get the same salt either way; the proof then fails to verify. A user without SCRAM keys (imported from a
 * passwd-file, see userdb.h) is treated the same way.
 *
 * The password is not SASLprep'ed (RFC 5802 2.2 Normalize()): keys are derived from its UTF-8
 * bytes as given. Clients that apply SASLprep agree for every ASCII password and for any password
 * already in NFKC without mapped characters. */
#ifndef KURA_AUTH_SCRAM_H
#define KURA_AUTH_SCRAM_H

#include <stddef.h>

#include "lib/buf.h"

#define SCRAM_KEY_LEN 32          /* SHA-256 output */
#define SCRAM_SALT_LEN 16         /* what kura generates */
#define SCRAM_SALT_MAX 64         /* what a credential may carry */
#define SCRAM_DEFAULT_ITERATIONS 4096
#define SCRAM_MAX_ITERATIONS 10000000u
#define SCRAM_SERVER_NONCE_BYTES 18 /* random bytes, sent base64-encoded (24 characters) */
#define SCRAM_USERNAME_MAX 255    /* after unescaping */
#define SCRAM_CLIENT_NONCE_MAX 256
#define SCRAM_MESSAGE_MAX 4096    /* longest client message accepted */
#define SCRAM_SERVER_MESSAGE_MAX 512 /* longest message the server sends */

enum scram_result {
	SCRAM_FAIL = -1,
	SCRAM_CONTINUE = 0,
	SCRAM_OK = 1,
};

/* What the server stores for a user (RFC 5802 3): never the password. Wipe after use. */
struct scram_credentials {
	unsigned char salt[SCRAM_SALT_MAX];
	size_t salt_len; /* 1..SCRAM_SALT_MAX */
	unsigned iterations; /* 1..SCRAM_MAX_ITERATIONS */
	unsigned char stored_key[SCRAM_KEY_LEN];
	unsigned char server_key[SCRAM_KEY_LEN];
};

/* Look up username (unescaped, NUL-free, 1..SCRAM_USERNAME_MAX bytes, otherwise unchecked).
 * Return 1 and fill *creds_r, 0 if there is no such user or it has no SCRAM keys, -1 on an
 * internal error (the exchange then fails with *error_r, which the callback sets to a static
 * string). Called at most once per exchange. */
typedef int scram_lookup_func(const char *username, struct scram_credentials *creds_r,
			      void *context, const char **error_r);

/* Derive StoredKey and ServerKey from a password (PBKDF2-HMAC-SHA-256, RFC 5802 3).
 * 0, or -1 if salt_len or iterations are out of range or libcrypto failed. Slow by design. */
int scram_keys_derive(const char *password, const unsigned char *salt, size_t salt_len,
		      unsigned iterations, unsigned char stored_key_r[SCRAM_KEY_LEN],
		      unsigned char server_key_r[SCRAM_KEY_LEN]);

struct scram_server *scram_server_create(void);
/* Wipes every key and message held. */
void scram_server_destroy(struct scram_server **s);

/* Feed one client message (raw bytes, already base64-decoded). out is reset, then receives the
 * next server message on SCRAM_CONTINUE (it is left empty otherwise); out's maximum must be at
 * least SCRAM_SERVER_MESSAGE_MAX or the step may fail. lookup/context are used on the first step
 * only. */
enum scram_result scram_server_step(struct scram_server *s, const unsigned char *in,
				    size_t in_len, scram_lookup_func *lookup, void *context,
				    struct buf *out, const char **error_r);

/* The authentication identity as the client sent it (unescaped), after SCRAM_OK; else NULL.
 * Valid until the object is destroyed. */
const char *scram_server_username(const struct scram_server *s);

/* For tests only: use this exact server nonce (printable ASCII without ',') instead of a random
 * one. Must be called before the first step; 0, or -1 if the nonce is not acceptable. */
int scram_server_set_nonce(struct scram_server *s, const char *nonce);

#endif
