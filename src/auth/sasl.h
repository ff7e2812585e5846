/* sasl.h: server-side SASL mechanisms (PLAIN, LOGIN, SCRAM-SHA-256) as a synchronous state
 * machine with no I/O and no protocol knowledge.
 *
 * The caller (IMAP/POP3 through the auth process) base64-decodes client responses, feeds them
 * with sasl_server_step(), and base64-encodes the challenges it gets back. A step may block for
 * tens of milliseconds (password hashing): run it on a worker thread, one step at a time per
 * object. Objects are independent; several may share one struct userdb.
 *
 * Unknown users and wrong passwords give the same result, the same error text ("Authentication
 * failed") and, for PLAIN and LOGIN, the same time (a dummy yescrypt verification); SCRAM gives a
 * fake salt for unknown users (scram.h). Throttling is the caller's job (throttle.h).
 * EXTERNAL (client certificates) is not here yet. */
#ifndef KURA_AUTH_SASL_H
#define KURA_AUTH_SASL_H

#include <stdbool.h>
#include <stddef.h>

#include "auth/userdb.h"
#include "lib/buf.h"

#define SASL_PLAIN_FIELD_MAX 255 /* authzid, authcid, password: RFC 4616 asks for 255 at least */
#define SASL_CHALLENGE_MAX SCRAM_SERVER_MESSAGE_MAX /* challenge_r needs at least this max */

enum sasl_result {
	SASL_FAIL = -1,
	SASL_CONTINUE = 0,
	SASL_OK = 1,
};

/* 1 if name (case-insensitive) is a mechanism this module implements, else 0. */
int sasl_mech_supported(const char *name);

/* NULL if mech_name is not supported. db is borrowed: it must outlive the object. */
struct sasl_server *sasl_server_create(const char *mech_name, struct userdb *db);
/* Wipes passwords and keys held. */
void sasl_server_destroy(struct sasl_server **s);

/* One step. in/in_len: the decoded client response; have_input false means the client sent no
 * initial response (first step only; later steps always have input, possibly empty).
 * challenge_r is reset, then on SASL_CONTINUE holds the next challenge (possibly empty, raw bytes).
 * SASL_OK: authenticated, sasl_server_user() is set. SASL_FAIL: *error_r is a static text safe
 * to show the client; the object is finished and later steps fail too. */
enum sasl_result sasl_server_step(struct sasl_server *s, const unsigned char *in, size_t in_len,
				  bool have_input, struct buf *challenge_r, const char **error_r);

/* The canonical (userdb) user name after SASL_OK, else NULL. Valid until destroy. */
const char *sasl_server_user(const struct sasl_server *s);
/* The user name the client tried, canonical (userdb-folded) when it is a valid name, else as
 * sent (at most SASL_PLAIN_FIELD_MAX bytes, NUL-free, possibly with control characters: log it
 * through log.h, which escapes them). For throttling and logging a failure; NULL if the client
 * got no further than sending a malformed message. Valid until destroy. */
const char *sasl_server_attempted_user(const struct sasl_server *s);
/* The mechanism name, upper case. */
const char *sasl_server_mech(const struct sasl_server *s);
/* After SASL_FAIL: 1 if the failure was internal (database error), so the caller can answer
 * with a temporary-failure code (IMAP [UNAVAILABLE]) rather than [AUTHENTICATIONFAILED]. */
int sasl_server_failure_temporary(const struct sasl_server *s);

/* RFC 4616: message = [authzid] NUL authcid NUL passwd. Splits in[0..len) into NUL-terminated
 * copies. authzid must be empty or equal authcid (we do not support acting as another user);
 * authcid and passwd must be non-empty; each field at most SASL_PLAIN_FIELD_MAX bytes. 0, or -1
 * with a static *error_r. Exposed for the fuzzer. */
struct sasl_plain_fields {
	char authzid[SASL_PLAIN_FIELD_MAX + 1];
	char authcid[SASL_PLAIN_FIELD_MAX + 1];
	char passwd[SASL_PLAIN_FIELD_MAX + 1];
};
int sasl_plain_parse(const unsigned char *in, size_t len, struct sasl_plain_fields *fields_r,
		     const char **error_r);

#endif
