/* sasl.c: PLAIN (RFC 4616), LOGIN (draft-murchison-sasl-login) and SCRAM-SHA-256 over userdb.
 * Traps: every path that rejects a user name or password must cost one password hash and say
 * the same thing, or the timing and the error text tell an attacker which names exist; input
 * bytes are untrusted (NUL inside, over-long fields) and are checked before they become C strings. */
#include "auth/sasl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/password.h"
#include "auth/scram.h"
#include "lib/log.h"
#include "lib/secure.h"
#include "lib/xmalloc.h"

#define SASL_AUTH_FAILED "Authentication failed"
#define SASL_TEMP_FAILED "Temporary authentication failure"

enum sasl_mech {
	SASL_MECH_PLAIN,
	SASL_MECH_LOGIN,
	SASL_MECH_SCRAM_SHA_256,
};

static const char *const sasl_mech_names[] = {
	[SASL_MECH_PLAIN] = "PLAIN",
	[SASL_MECH_LOGIN] = "LOGIN",
	[SASL_MECH_SCRAM_SHA_256] = "SCRAM-SHA-256",
};

enum sasl_state {
	SASL_STATE_START,
	SASL_STATE_LOGIN_USER,     /* "Username:" sent */
	SASL_STATE_LOGIN_PASSWORD, /* "Password:" sent */
	SASL_STATE_PLAIN_WAIT,     /* empty challenge sent, waiting for the PLAIN message */
	SASL_STATE_SCRAM,
	SASL_STATE_DONE,
	SASL_STATE_FAILED,
};

struct sasl_server {
	enum sasl_mech mech;
	enum sasl_state state;
	bool temporary;
	struct userdb *db;
	struct scram_server *scram;
	char login_user[SASL_PLAIN_FIELD_MAX + 1];
	char user[USERDB_NAME_MAX + 1]; /* canonical, set on success */
	char attempted[SASL_PLAIN_FIELD_MAX + 1]; /* "" until a name was received */
};

static int sasl_mech_lookup(const char *name, enum sasl_mech *mech_r)
{
	for (size_t i = 0; i < sizeof(sasl_mech_names) / sizeof(sasl_mech_names[0]); i++) {
		if (strcasecmp(name, sasl_mech_names[i]) == 0) {
			*mech_r = (enum sasl_mech)i;
			return 0;
		}
	}
	return -1;
}

int sasl_mech_supported(const char *name)
{
	enum sasl_mech mech;
	return name != NULL && sasl_mech_lookup(name, &mech) == 0;
}

struct sasl_server *sasl_server_create(const char *mech_name, struct userdb *db)
{
	enum sasl_mech mech;
	if (mech_name == NULL || sasl_mech_lookup(mech_name, &mech) < 0)
		return NULL;
	struct sasl_server *s = xcalloc(1, sizeof(*s));
	s->mech = mech;
	s->state = SASL_STATE_START;
	s->db = db;
	if (mech == SASL_MECH_SCRAM_SHA_256)
		s->scram = scram_server_create();
	return s;
}

void sasl_server_destroy(struct sasl_server **sp)
{
	struct sasl_server *s = *sp;
	if (s == NULL)
		return;
	scram_server_destroy(&s->scram);
	secure_zero(s, sizeof(*s));
	free(s);
	*sp = NULL;
}

const char *sasl_server_user(const struct sasl_server *s)
{
	return s->state == SASL_STATE_DONE ? s->user : NULL;
}

const char *sasl_server_attempted_user(const struct sasl_server *s)
{
	return s->attempted[0] != '\0' ? s->attempted : NULL;
}

/* Remember the name a client tried, folded like userdb when it is valid. */
static void sasl_set_attempted(struct sasl_server *s, const char *name)
{
	const char *error;
	char canon[USERDB_NAME_MAX + 1];
	if (userdb_name_canonical(name, canon, &error) == 0)
		snprintf(s->attempted, sizeof(s->attempted), "%s", canon);
	else
		snprintf(s->attempted, sizeof(s->attempted), "%.*s", SASL_PLAIN_FIELD_MAX, name);
}

const char *sasl_server_mech(const struct sasl_server *s)
{
	return sasl_mech_names[s->mech];
}

int sasl_server_failure_temporary(const struct sasl_server *s)
{
	return s->state == SASL_STATE_FAILED && s->temporary;
}

/* ASCII case-insensitive equality: authzid "Alice" names the same user as authcid "alice". */
static bool sasl_same_user(const char *a, const char *b)
{
	return strcasecmp(a, b) == 0;
}

/* Copy one NUL-free field of at most SASL_PLAIN_FIELD_MAX bytes. */
static int sasl_copy_field(const unsigned char *p, size_t len, char out[SASL_PLAIN_FIELD_MAX + 1])
{
	if (len > SASL_PLAIN_FIELD_MAX || memchr(p, '\0', len) != NULL)
		return -1;
	memcpy(out, p, len);
	out[len] = '\0';
	return 0;
}

int sasl_plain_parse(const unsigned char *in, size_t len, struct sasl_plain_fields *fields_r,
		     const char **error_r)
{
	memset(fields_r, 0, sizeof(*fields_r));
	const unsigned char *nul1 = len > 0 ? memchr(in, '\0', len) : NULL;
	if (nul1 == NULL) {
		*error_r = "Malformed PLAIN response";
		return -1;
	}
	const unsigned char *rest = nul1 + 1;
	size_t rest_len = len - (size_t)(rest - in);
	const unsigned char *nul2 = memchr(rest, '\0', rest_len);
	if (nul2 == NULL) {
		*error_r = "Malformed PLAIN response";
		return -1;
	}
	const unsigned char *pw = nul2 + 1;
	size_t pw_len = len - (size_t)(pw - in);
	/* a third NUL is caught by sasl_copy_field on the password */
	if (sasl_copy_field(in, (size_t)(nul1 - in), fields_r->authzid) < 0 ||
	    sasl_copy_field(rest, (size_t)(nul2 - rest), fields_r->authcid) < 0 ||
	    sasl_copy_field(pw, pw_len, fields_r->passwd) < 0) {
		secure_zero(fields_r, sizeof(*fields_r));
		*error_r = "Malformed PLAIN response";
		return -1;
	}
	if (fields_r->authcid[0] == '\0' || fields_r->passwd[0] == '\0') {
		secure_zero(fields_r, sizeof(*fields_r));
		*error_r = "Malformed PLAIN response";
		return -1;
	}
	if (fields_r->authzid[0] != '\0' && !sasl_same_user(fields_r->authzid, fields_r->authcid)) {
		secure_zero(fields_r, sizeof(*fields_r));
		*error_r = "Authorization identity must be empty or equal the user name";
		return -1;
	}
	return 0;
}

/* The one place PLAIN and LOGIN check a password. */
static enum sasl_result sasl_verify(struct sasl_server *s, const char *user, const char *pw,
				    const char **error_r)
{
	struct userdb_user u;
	const char *db_error = NULL;
	enum sasl_result ret = SASL_FAIL;

	int r = userdb_lookup(s->db, user, &u, &db_error);
	if (r < 0) {
		log_error("user database lookup failed: %s", db_error);
		s->temporary = true;
		*error_r = SASL_TEMP_FAILED;
		goto out;
	}
	if (r == 0) {
		/* unknown user (or an invalid name): same cost, same answer */
		password_dummy_verify(pw);
		*error_r = SASL_AUTH_FAILED;
		goto out;
	}
	int v = password_verify(u.password_hash, pw);
	if (v < 0) {
		log_error("user %s has an unusable password hash", u.name);
		password_dummy_verify(pw);
	}
	if (v != 1) {
		*error_r = SASL_AUTH_FAILED;
		goto out;
	}
	memcpy(s->user, u.name, sizeof(s->user));
	ret = SASL_OK;
out:
	userdb_user_clear(&u);
	return ret;
}

static enum sasl_result sasl_plain_step(struct sasl_server *s, const unsigned char *in,
					size_t in_len, bool have_input, const char **error_r)
{
	struct sasl_plain_fields f;
	if (s->state == SASL_STATE_START && !have_input) {
		s->state = SASL_STATE_PLAIN_WAIT; /* empty challenge: "send it" (RFC 4616 2) */
		return SASL_CONTINUE;
	}
	if (sasl_plain_parse(in, in_len, &f, error_r) < 0)
		return SASL_FAIL;
	sasl_set_attempted(s, f.authcid);
	enum sasl_result r = sasl_verify(s, f.authcid, f.passwd, error_r);
	secure_zero(&f, sizeof(f));
	return r;
}

static enum sasl_result sasl_login_step(struct sasl_server *s, const unsigned char *in,
					size_t in_len, bool have_input, struct buf *challenge_r,
					const char **error_r)
{
	char pw[SASL_PLAIN_FIELD_MAX + 1];
	switch (s->state) {
	case SASL_STATE_START:
		if (!have_input || in_len == 0) {
			s->state = SASL_STATE_LOGIN_USER;
			if (buf_append_str(challenge_r, "Username:") < 0)
				break;
			return SASL_CONTINUE;
		}
		/* an initial response carries the user name */
		/* fall through */
	case SASL_STATE_LOGIN_USER:
		if (in_len == 0 || sasl_copy_field(in, in_len, s->login_user) < 0) {
			*error_r = "Malformed LOGIN user name";
			return SASL_FAIL;
		}
		sasl_set_attempted(s, s->login_user);
		s->state = SASL_STATE_LOGIN_PASSWORD;
		if (buf_append_str(challenge_r, "Password:") < 0)
			break;
		return SASL_CONTINUE;
	case SASL_STATE_LOGIN_PASSWORD:
		if (in_len == 0 || sasl_copy_field(in, in_len, pw) < 0) {
			*error_r = "Malformed LOGIN password";
			return SASL_FAIL;
		}
		enum sasl_result r = sasl_verify(s, s->login_user, pw, error_r);
		secure_zero(pw, sizeof(pw));
		return r;
	default:
		break;
	}
	*error_r = "SASL challenge buffer too small";
	return SASL_FAIL;
}

static int sasl_scram_lookup(const char *username, struct scram_credentials *creds_r,
			     void *context, const char **error_r)
{
	struct sasl_server *s = context;
	struct userdb_user u;
	const char *db_error = NULL;
	sasl_set_attempted(s, username);
	int r = userdb_lookup(s->db, username, &u, &db_error);
	if (r < 0) {
		log_error("user database lookup failed: %s", db_error);
		s->temporary = true;
		*error_r = SASL_TEMP_FAILED;
	} else if (r > 0 && u.has_scram) {
		*creds_r = u.scram;
	} else {
		r = 0; /* unknown, or imported without SCRAM keys: fake salt, then failure */
	}
	userdb_user_clear(&u);
	return r;
}

static enum sasl_result sasl_scram_step(struct sasl_server *s, const unsigned char *in,
					size_t in_len, bool have_input, struct buf *challenge_r,
					const char **error_r)
{
	if (s->state == SASL_STATE_START && !have_input) {
		/* SCRAM is client-first: an empty challenge asks for client-first */
		s->state = SASL_STATE_SCRAM;
		return SASL_CONTINUE;
	}
	s->state = SASL_STATE_SCRAM;
	enum scram_result r =
		scram_server_step(s->scram, in, in_len, sasl_scram_lookup, s, challenge_r, error_r);
	if (r == SCRAM_CONTINUE)
		return SASL_CONTINUE;
	if (r == SCRAM_FAIL)
		return SASL_FAIL;
	const char *name_error;
	if (userdb_name_canonical(scram_server_username(s->scram), s->user, &name_error) < 0) {
		/* impossible: the lookup found this name, so it is valid */
		*error_r = SASL_AUTH_FAILED;
		return SASL_FAIL;
	}
	return SASL_OK;
}

enum sasl_result sasl_server_step(struct sasl_server *s, const unsigned char *in, size_t in_len,
				  bool have_input, struct buf *challenge_r, const char **error_r)
{
	enum sasl_result r = SASL_FAIL;

	buf_reset(challenge_r);
	*error_r = NULL;
	if (s->state == SASL_STATE_DONE || s->state == SASL_STATE_FAILED) {
		*error_r = "Authentication already finished";
		s->state = SASL_STATE_FAILED;
		return SASL_FAIL;
	}
	if (!have_input || in == NULL) {
		in = (const unsigned char *)"";
		in_len = 0;
	}
	if (s->state != SASL_STATE_START)
		have_input = true;
	switch (s->mech) {
	case SASL_MECH_PLAIN:
		r = sasl_plain_step(s, in, in_len, have_input, error_r);
		break;
	case SASL_MECH_LOGIN:
		r = sasl_login_step(s, in, in_len, have_input, challenge_r, error_r);
		break;
	case SASL_MECH_SCRAM_SHA_256:
		r = sasl_scram_step(s, in, in_len, have_input, challenge_r, error_r);
		break;
	}
	if (r == SASL_OK) {
		s->state = SASL_STATE_DONE;
		secure_zero(s->login_user, sizeof(s->login_user));
	} else if (r == SASL_FAIL) {
		s->state = SASL_STATE_FAILED;
		buf_reset(challenge_r);
		secure_zero(s->login_user, sizeof(s->login_user));
		if (*error_r == NULL)
			*error_r = SASL_AUTH_FAILED;
	}
	return r;
}
