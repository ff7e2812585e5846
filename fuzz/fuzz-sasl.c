/* fuzz-sasl.c: libFuzzer target for the pre-auth SASL parsing: the SCRAM-SHA-256 server state
 * machine (with a fixed in-memory user, no database), the PLAIN message parser, user name
 * validation and stored-hash recognition. The first input byte picks the mode. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/password.h"
#include "auth/sasl.h"
#include "auth/scram.h"
#include "auth/userdb.h"
#include "lib/base64.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct scram_credentials fuzz_creds;
static int fuzz_ready;

/* "user"/"pencil" with the RFC 7677 salt; anything else is unknown. */
static int fuzz_lookup(const char *username, struct scram_credentials *creds_r, void *context,
		       const char **error_r)
{
	(void)context;
	if (strcmp(username, "fail") == 0) {
		*error_r = "lookup failed";
		return -1;
	}
	if (strcmp(username, "user") != 0)
		return 0;
	*creds_r = fuzz_creds;
	return 1;
}

static void fuzz_init(void)
{
	struct buf salt;
	buf_init(&salt, SCRAM_SALT_MAX);
	base64_decode(&salt, "W22ZaJ0SNY7soEsUEjb6gQ==", 24);
	memcpy(fuzz_creds.salt, salt.data, salt.len);
	fuzz_creds.salt_len = salt.len;
	fuzz_creds.iterations = 4096;
	if (scram_keys_derive("pencil", fuzz_creds.salt, fuzz_creds.salt_len, 4096,
			      fuzz_creds.stored_key, fuzz_creds.server_key) < 0)
		abort();
	buf_free(&salt);
	fuzz_ready = 1;
}

/* Feed up to four '\n'-separated messages to one SCRAM exchange. */
static void fuzz_scram_split(const uint8_t *data, size_t size)
{
	struct scram_server *s = scram_server_create();
	struct buf out;
	const char *error;
	buf_init(&out, SCRAM_SERVER_MESSAGE_MAX);
	for (int i = 0; i < 4; i++) {
		const uint8_t *nl = memchr(data, '\n', size);
		size_t len = nl != NULL ? (size_t)(nl - data) : size;
		enum scram_result r =
			scram_server_step(s, data, len, fuzz_lookup, NULL, &out, &error);
		if (out.len > SCRAM_SERVER_MESSAGE_MAX)
			abort();
		if (r == SCRAM_OK && scram_server_username(s) == NULL)
			abort();
		if (r != SCRAM_CONTINUE || nl == NULL)
			break;
		size -= len + 1;
		data = nl + 1;
	}
	scram_server_destroy(&s);
	buf_free(&out);
}

/* A valid client-first with a fixed nonce, then the input as client-final, then an empty
 * message: reaches the proof parsing and verification with arbitrary bytes. */
static void fuzz_scram_final(const uint8_t *data, size_t size)
{
	static const char first[] = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
	struct scram_server *s = scram_server_create();
	struct buf out;
	const char *error;
	buf_init(&out, SCRAM_SERVER_MESSAGE_MAX);
	scram_server_set_nonce(s, "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0");
	if (scram_server_step(s, (const unsigned char *)first, sizeof(first) - 1, fuzz_lookup,
			      NULL, &out, &error) != SCRAM_CONTINUE)
		abort();
	if (scram_server_step(s, data, size, fuzz_lookup, NULL, &out, &error) == SCRAM_CONTINUE)
		(void)scram_server_step(s, (const unsigned char *)"", 0, fuzz_lookup, NULL, &out,
					&error);
	scram_server_destroy(&s);
	buf_free(&out);
}

static void fuzz_plain(const uint8_t *data, size_t size)
{
	struct sasl_plain_fields f;
	const char *error;
	if (sasl_plain_parse(data, size, &f, &error) == 0) {
		if (f.authcid[0] == '\0' || f.passwd[0] == '\0' ||
		    strlen(f.authcid) > SASL_PLAIN_FIELD_MAX)
			abort();
	}
}

/* NUL-terminated copy for the string APIs. */
static char *fuzz_cstr(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (s == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!fuzz_ready)
		fuzz_init();
	if (size == 0)
		return 0;
	uint8_t mode = data[0];
	data++;
	size--;
	switch (mode % 5) {
	case 0:
		fuzz_scram_split(data, size);
		break;
	case 1:
		fuzz_scram_final(data, size);
		break;
	case 2:
		fuzz_plain(data, size);
		break;
	case 3: {
		char *s = fuzz_cstr(data, size);
		const char *error;
		char canon[USERDB_NAME_MAX + 1];
		int v = userdb_name_valid(s, &error);
		if ((userdb_name_canonical(s, canon, &error) == 0) != (v == 1))
			abort();
		free(s);
		break;
	}
	case 4: {
		char *s = fuzz_cstr(data, size);
		(void)password_hash_supported(s);
		free(s);
		break;
	}
	}
	return 0;
}
