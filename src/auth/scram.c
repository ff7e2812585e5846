/* scram.c: SCRAM-SHA-256 server (RFC 5802 with RFC 7677's hash). Traps: AuthMessage must be
 * built from the exact bytes exchanged (client-first-message-bare, server-first, client-final
 * without proof), so messages are kept verbatim; an unknown user must be indistinguishable up to
 * the final proof check, so that path computes the same things with fake credentials. */
#include "auth/scram.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/base64.h"
#include "lib/secure.h"
#include "lib/xmalloc.h"

enum scram_state {
	SCRAM_STATE_CLIENT_FIRST,
	SCRAM_STATE_CLIENT_FINAL,
	SCRAM_STATE_CLIENT_EMPTY,
	SCRAM_STATE_DONE,
	SCRAM_STATE_FAILED,
};

struct scram_server {
	enum scram_state state;
	bool user_known;
	char server_nonce[SCRAM_CLIENT_NONCE_MAX + 1]; /* "" until generated or set */
	char username[SCRAM_USERNAME_MAX + 1];
	struct buf gs2_header;   /* verbatim, e.g. "n,," */
	struct buf nonce;        /* client nonce + server nonce */
	struct buf auth_message; /* grows through the exchange, RFC 5802 3 */
	struct scram_credentials creds;
};

/* A parsed "x=value" attribute: a view into the message. */
struct scram_attr {
	char name;
	const char *value;
	size_t len;
};

static unsigned char scram_secret[32];
static pthread_once_t scram_secret_once = PTHREAD_ONCE_INIT;

static void scram_secret_init(void)
{
	if (RAND_bytes(scram_secret, sizeof(scram_secret)) != 1)
		xabort("RAND_bytes failed");
}

int scram_keys_derive(const char *password, const unsigned char *salt, size_t salt_len,
		      unsigned iterations, unsigned char stored_key_r[SCRAM_KEY_LEN],
		      unsigned char server_key_r[SCRAM_KEY_LEN])
{
	unsigned char salted[SCRAM_KEY_LEN], client_key[SCRAM_KEY_LEN];
	unsigned int len = 0;
	int ret = -1;

	if (salt_len == 0 || salt_len > SCRAM_SALT_MAX || iterations == 0 ||
	    iterations > SCRAM_MAX_ITERATIONS)
		return -1;
	/* SaltedPassword := Hi(Normalize(password), salt, i); Hi is PBKDF2 with HMAC (RFC 5802 2.2) */
	if (PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, (int)salt_len, (int)iterations,
			      EVP_sha256(), sizeof(salted), salted) != 1)
		goto out;
	/* ClientKey := HMAC(SaltedPassword, "Client Key"); StoredKey := H(ClientKey) */
	if (HMAC(EVP_sha256(), salted, sizeof(salted), (const unsigned char *)"Client Key", 10,
		 client_key, &len) == NULL || len != SCRAM_KEY_LEN)
		goto out;
	if (SHA256(client_key, sizeof(client_key), stored_key_r) == NULL)
		goto out;
	/* ServerKey := HMAC(SaltedPassword, "Server Key") */
	if (HMAC(EVP_sha256(), salted, sizeof(salted), (const unsigned char *)"Server Key", 10,
		 server_key_r, &len) == NULL || len != SCRAM_KEY_LEN)
		goto out;
	ret = 0;
out:
	secure_zero(salted, sizeof(salted));
	secure_zero(client_key, sizeof(client_key));
	return ret;
}

struct scram_server *scram_server_create(void)
{
	struct scram_server *s = xcalloc(1, sizeof(*s));
	s->state = SCRAM_STATE_CLIENT_FIRST;
	buf_init(&s->gs2_header, SCRAM_MESSAGE_MAX);
	buf_init(&s->nonce, SCRAM_CLIENT_NONCE_MAX * 2 + 1);
	buf_init(&s->auth_message, SCRAM_MESSAGE_MAX * 2 + SCRAM_SERVER_MESSAGE_MAX + 2);
	return s;
}

void scram_server_destroy(struct scram_server **sp)
{
	struct scram_server *s = *sp;
	if (s == NULL)
		return;
	buf_free_secure(&s->gs2_header);
	buf_free_secure(&s->nonce);
	buf_free_secure(&s->auth_message);
	secure_zero(s, sizeof(*s));
	free(s);
	*sp = NULL;
}

const char *scram_server_username(const struct scram_server *s)
{
	return s->state == SCRAM_STATE_DONE ? s->username : NULL;
}

/* RFC 5802 7: printable = %x21-2B / %x2D-7E */
static bool scram_printable(const char *p, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c < 0x21 || c > 0x7e || c == ',')
			return false;
	}
	return true;
}

int scram_server_set_nonce(struct scram_server *s, const char *nonce)
{
	size_t len = strlen(nonce);
	if (s->state != SCRAM_STATE_CLIENT_FIRST || len > SCRAM_CLIENT_NONCE_MAX ||
	    !scram_printable(nonce, len))
		return -1;
	memcpy(s->server_nonce, nonce, len + 1);
	return 0;
}

/* Split off the next ','-separated attribute "x=value" from [*p, end). Syntax of attr-val: one
 * ASCII letter, '=', at least one byte. Returns 0 or -1. */
static int scram_next_attr(const char **p, const char *end, struct scram_attr *attr_r)
{
	const char *start = *p;
	const char *comma = memchr(start, ',', (size_t)(end - start));
	const char *stop = comma != NULL ? comma : end;
	if (stop - start < 3 || start[1] != '=')
		return -1;
	char c = start[0];
	if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
		return -1;
	attr_r->name = c;
	attr_r->value = start + 2;
	attr_r->len = (size_t)(stop - start - 2);
	*p = comma != NULL ? comma + 1 : end;
	return 0;
}

/* saslname = 1*(value-safe-char / "=2C" / "=3D"): unescape into out (NUL-terminated). */
static int scram_unescape(const char *p, size_t len, char out[SCRAM_USERNAME_MAX + 1])
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		char c = p[i];
		if (c == '=') {
			if (len - i < 3)
				return -1;
			if (p[i + 1] == '2' && p[i + 2] == 'C')
				c = ',';
			else if (p[i + 1] == '3' && p[i + 2] == 'D')
				c = '=';
			else
				return -1;
			i += 2;
		}
		if (n == SCRAM_USERNAME_MAX)
			return -1;
		out[n++] = c;
	}
	out[n] = '\0';
	return n == 0 ? -1 : 0;
}

/* Attributes defined by RFC 5802 may not masquerade as optional extensions. */
static bool scram_is_reserved_attr(char name)
{
	return strchr("amnrcsipve", name) != NULL;
}

static void scram_fake_credentials(struct scram_server *s)
{
	unsigned char mac[32];
	unsigned int len = 0;
	char folded[SCRAM_USERNAME_MAX + 1];
	size_t n = strlen(s->username);

	pthread_once(&scram_secret_once, scram_secret_init);
	for (size_t i = 0; i <= n; i++) {
		char c = s->username[i];
		folded[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
	}
	/* Deterministic per name, so asking twice gives the same salt, as for a real user. */
	struct buf msg;
	buf_init(&msg, 32 + SCRAM_USERNAME_MAX);
	buf_append_str(&msg, "kura-scram-fake-salt:");
	buf_append(&msg, folded, n);
	if (HMAC(EVP_sha256(), scram_secret, sizeof(scram_secret), msg.data, msg.len, mac, &len) ==
	    NULL)
		xabort("HMAC failed");
	memcpy(s->creds.salt, mac, SCRAM_SALT_LEN);
	s->creds.salt_len = SCRAM_SALT_LEN;
	s->creds.iterations = SCRAM_DEFAULT_ITERATIONS;
	/* keys nobody can match: derived from the secret too, never sent */
	buf_append_str(&msg, ":keys");
	if (HMAC(EVP_sha256(), scram_secret, sizeof(scram_secret), msg.data, msg.len,
		 s->creds.stored_key, &len) == NULL ||
	    HMAC(EVP_sha256(), scram_secret, sizeof(scram_secret), s->creds.stored_key,
		 SCRAM_KEY_LEN, s->creds.server_key, &len) == NULL)
		xabort("HMAC failed");
	buf_free_secure(&msg);
	secure_zero(mac, sizeof(mac));
	secure_zero(folded, sizeof(folded));
}

static enum scram_result scram_client_first(struct scram_server *s, const char *in, size_t len,
					    scram_lookup_func *lookup, void *context,
					    struct buf *out, const char **error_r)
{
	const char *p = in, *end = in + len;
	struct scram_attr attr;
	char authzid[SCRAM_USERNAME_MAX + 1];
	bool have_authzid = false;

	/* gs2-header = gs2-cbind-flag "," [ authzid ] "," */
	if (len >= 1 && in[0] == 'p') {
		*error_r = "SCRAM channel binding is not supported";
		return SCRAM_FAIL;
	}
	if (len < 3 || (in[0] != 'n' && in[0] != 'y') || in[1] != ',') {
		*error_r = "Malformed SCRAM client-first message";
		return SCRAM_FAIL;
	}
	p = in + 2;
	if (*p != ',') {
		if (scram_next_attr(&p, end, &attr) < 0 || attr.name != 'a' ||
		    scram_unescape(attr.value, attr.len, authzid) < 0 || p == end ||
		    p[-1] != ',') {
			*error_r = "Malformed SCRAM authorization identity";
			return SCRAM_FAIL;
		}
		have_authzid = true;
	} else {
		p++;
	}
	if (buf_append(&s->gs2_header, in, (size_t)(p - in)) < 0) {
		*error_r = "Malformed SCRAM client-first message";
		return SCRAM_FAIL;
	}
	const char *bare = p;

	/* client-first-message-bare = [reserved-mext ","] username "," nonce ["," extensions] */
	if (scram_next_attr(&p, end, &attr) < 0) {
		*error_r = "Malformed SCRAM client-first message";
		return SCRAM_FAIL;
	}
	if (attr.name == 'm') {
		*error_r = "SCRAM mandatory extensions are not supported";
		return SCRAM_FAIL;
	}
	if (attr.name != 'n' || scram_unescape(attr.value, attr.len, s->username) < 0) {
		*error_r = "Malformed SCRAM username";
		return SCRAM_FAIL;
	}
	if (have_authzid && strcmp(authzid, s->username) != 0) {
		*error_r = "SCRAM authorization identity must equal the username";
		return SCRAM_FAIL;
	}
	if (p == end || scram_next_attr(&p, end, &attr) < 0 || attr.name != 'r' ||
	    attr.len > SCRAM_CLIENT_NONCE_MAX || !scram_printable(attr.value, attr.len)) {
		*error_r = "Malformed SCRAM client nonce";
		return SCRAM_FAIL;
	}
	const char *cnonce = attr.value;
	size_t cnonce_len = attr.len;
	/* RFC 5802 5.1: unknown optional extensions MUST be ignored */
	if (end[-1] == ',') {
		*error_r = "Malformed SCRAM client-first message";
		return SCRAM_FAIL;
	}
	while (p < end) {
		if (scram_next_attr(&p, end, &attr) < 0 || scram_is_reserved_attr(attr.name)) {
			*error_r = "Malformed SCRAM client-first message";
			return SCRAM_FAIL;
		}
	}

	int r = lookup(s->username, &s->creds, context, error_r);
	if (r < 0) {
		if (*error_r == NULL)
			*error_r = "Temporary authentication failure";
		return SCRAM_FAIL;
	}
	if (r > 0 && (s->creds.salt_len == 0 || s->creds.salt_len > SCRAM_SALT_MAX ||
		      s->creds.iterations == 0 || s->creds.iterations > SCRAM_MAX_ITERATIONS))
		r = 0; /* unusable credentials: behave as for an unknown user */
	s->user_known = r > 0;
	if (!s->user_known)
		scram_fake_credentials(s);

	if (s->server_nonce[0] == '\0') {
		unsigned char rnd[SCRAM_SERVER_NONCE_BYTES];
		struct buf b64;
		if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
			*error_r = "Temporary authentication failure";
			return SCRAM_FAIL;
		}
		buf_init(&b64, sizeof(s->server_nonce) - 1);
		base64_encode(&b64, rnd, sizeof(rnd));
		memcpy(s->server_nonce, b64.data, b64.len + 1);
		buf_free(&b64);
	}
	buf_append(&s->nonce, cnonce, cnonce_len);
	buf_append_str(&s->nonce, s->server_nonce);

	/* server-first-message = nonce "," salt "," iteration-count */
	buf_reset(out);
	if (buf_append_str(out, "r=") < 0 || buf_append(out, s->nonce.data, s->nonce.len) < 0 ||
	    buf_append_str(out, ",s=") < 0 ||
	    base64_encode(out, s->creds.salt, s->creds.salt_len) < 0 ||
	    buf_printf(out, ",i=%u", s->creds.iterations) < 0) {
		buf_reset(out);
		*error_r = "SCRAM output buffer too small";
		return SCRAM_FAIL;
	}
	/* AuthMessage := client-first-message-bare + "," + server-first-message + "," + ... */
	if (buf_append(&s->auth_message, bare, (size_t)(end - bare)) < 0 ||
	    buf_append_byte(&s->auth_message, ',') < 0 ||
	    buf_append(&s->auth_message, out->data, out->len) < 0 ||
	    buf_append_byte(&s->auth_message, ',') < 0) {
		buf_reset(out);
		*error_r = "Malformed SCRAM client-first message";
		return SCRAM_FAIL;
	}
	s->state = SCRAM_STATE_CLIENT_FINAL;
	return SCRAM_CONTINUE;
}

static enum scram_result scram_client_final(struct scram_server *s, const char *in, size_t len,
					    struct buf *out, const char **error_r)
{
	const char *p = in, *end = in + len;
	struct scram_attr attr;
	unsigned char proof[SCRAM_KEY_LEN], sig[SCRAM_KEY_LEN], client_key[SCRAM_KEY_LEN];
	unsigned char hashed[SCRAM_KEY_LEN], server_sig[SCRAM_KEY_LEN];
	unsigned int mlen = 0;
	struct buf tmp;
	enum scram_result ret = SCRAM_FAIL;

	*error_r = "Malformed SCRAM client-final message";
	buf_init(&tmp, SCRAM_MESSAGE_MAX);
	if (len == 0 || in[len - 1] == ',')
		goto out;
	/* channel-binding = "c=" base64 of the gs2 header (no cbind-data: flag n or y) */
	if (scram_next_attr(&p, end, &attr) < 0 || attr.name != 'c' || p == end)
		goto out;
	if (base64_decode(&tmp, attr.value, attr.len) < 0 || tmp.len != s->gs2_header.len ||
	    memcmp(tmp.data, s->gs2_header.data, tmp.len) != 0) {
		*error_r = "SCRAM channel binding data does not match";
		goto out;
	}
	/* nonce: exactly client nonce + server nonce */
	if (scram_next_attr(&p, end, &attr) < 0 || attr.name != 'r' || p == end)
		goto out;
	if (attr.len != s->nonce.len || memcmp(attr.value, s->nonce.data, attr.len) != 0) {
		*error_r = "SCRAM nonce does not match";
		goto out;
	}
	/* [extensions] "," proof: the proof is the last attribute */
	const char *proof_start;
	for (;;) {
		proof_start = p;
		if (scram_next_attr(&p, end, &attr) < 0)
			goto out;
		if (p == end)
			break;
		if (scram_is_reserved_attr(attr.name))
			goto out;
	}
	if (attr.name != 'p')
		goto out;
	buf_reset(&tmp);
	if (base64_decode(&tmp, attr.value, attr.len) < 0 || tmp.len != SCRAM_KEY_LEN)
		goto out;
	memcpy(proof, tmp.data, SCRAM_KEY_LEN);

	/* ... + "," + client-final-message-without-proof */
	if (buf_append(&s->auth_message, in, (size_t)(proof_start - 1 - in)) < 0)
		goto out;

	/* RFC 5802 3: ClientSignature := HMAC(StoredKey, AuthMessage);
	 * ClientKey := ClientProof XOR ClientSignature; check H(ClientKey) == StoredKey */
	if (HMAC(EVP_sha256(), s->creds.stored_key, SCRAM_KEY_LEN, s->auth_message.data,
		 s->auth_message.len, sig, &mlen) == NULL ||
	    HMAC(EVP_sha256(), s->creds.server_key, SCRAM_KEY_LEN, s->auth_message.data,
		 s->auth_message.len, server_sig, &mlen) == NULL) {
		*error_r = "Temporary authentication failure";
		goto out;
	}
	for (size_t i = 0; i < SCRAM_KEY_LEN; i++)
		client_key[i] = proof[i] ^ sig[i];
	if (SHA256(client_key, sizeof(client_key), hashed) == NULL) {
		*error_r = "Temporary authentication failure";
		goto out;
	}
	int match = secure_memeq(hashed, s->creds.stored_key, SCRAM_KEY_LEN);
	if (!match || !s->user_known) {
		*error_r = "Authentication failed";
		goto out;
	}
	/* server-final-message = "v=" base64(ServerSignature) */
	buf_reset(out);
	if (buf_append_str(out, "v=") < 0 || base64_encode(out, server_sig, SCRAM_KEY_LEN) < 0) {
		buf_reset(out);
		*error_r = "SCRAM output buffer too small";
		goto out;
	}
	*error_r = NULL;
	s->state = SCRAM_STATE_CLIENT_EMPTY;
	ret = SCRAM_CONTINUE;
out:
	buf_free_secure(&tmp);
	secure_zero(proof, sizeof(proof));
	secure_zero(sig, sizeof(sig));
	secure_zero(client_key, sizeof(client_key));
	secure_zero(hashed, sizeof(hashed));
	secure_zero(server_sig, sizeof(server_sig));
	return ret;
}

enum scram_result scram_server_step(struct scram_server *s, const unsigned char *in,
				    size_t in_len, scram_lookup_func *lookup, void *context,
				    struct buf *out, const char **error_r)
{
	enum scram_result ret = SCRAM_FAIL;
	const char *msg = (const char *)in;

	buf_reset(out);
	*error_r = NULL;
	if (s->state == SCRAM_STATE_DONE || s->state == SCRAM_STATE_FAILED) {
		*error_r = "SCRAM exchange already finished";
		s->state = SCRAM_STATE_FAILED;
		return SCRAM_FAIL;
	}
	/* value-char excludes NUL everywhere, and C string handling below relies on it */
	if (in_len > SCRAM_MESSAGE_MAX || (in_len > 0 && memchr(in, '\0', in_len) != NULL)) {
		*error_r = "Malformed SCRAM message";
		s->state = SCRAM_STATE_FAILED;
		return SCRAM_FAIL;
	}
	switch (s->state) {
	case SCRAM_STATE_CLIENT_FIRST:
		ret = scram_client_first(s, msg, in_len, lookup, context, out, error_r);
		break;
	case SCRAM_STATE_CLIENT_FINAL:
		ret = scram_client_final(s, msg, in_len, out, error_r);
		break;
	case SCRAM_STATE_CLIENT_EMPTY:
		if (in_len == 0) {
			s->state = SCRAM_STATE_DONE;
			return SCRAM_OK;
		}
		*error_r = "Unexpected data after SCRAM server-final message";
		break;
	case SCRAM_STATE_DONE:
	case SCRAM_STATE_FAILED:
		break;
	}
	if (ret == SCRAM_FAIL)
		s->state = SCRAM_STATE_FAILED;
	return ret;
}
