/* address.h: RFC 5322 section 3.4 address lists (From, To, Cc, ...), parsed the way IMAP's
 * ENVELOPE needs them (RFC 9051 7.5.2): display name and local-part with quoting removed,
 * obs-route kept as the at-domain-list, groups as start/end markers.
 *
 * Best effort, never failing: comments, quoted strings, domain literals, obs- forms (routes,
 * CFWS around dots, empty list members) are understood; broken input gives what can be made of
 * it: a bare word is a mailbox without a domain, "addr@host <addr@host>" reads the first part as
 * a display name, an unterminated quote or "<" runs to the end, a comment after an addr-spec
 * ("user@host (Full Name)") becomes the display name when there is no other. Nothing is decoded
 * (encoded words stay as they are: rfc2047.h decodes them for display).
 *
 * The input is a header value, raw or unfolded (line ends are whitespace here). Results are
 * allocated from the pool and hold NUL-terminated copies (which may contain NUL from the input:
 * use the lengths). Work and memory are linear in the input. */
#ifndef KURA_MAIL_ADDRESS_H
#define KURA_MAIL_ADDRESS_H

#include <stddef.h>

#include "lib/pool.h"

enum mail_address_type {
	MAIL_ADDRESS_MAILBOX,     /* an address */
	MAIL_ADDRESS_GROUP_START, /* "name:" - mailbox holds the group name, the rest NULL */
	MAIL_ADDRESS_GROUP_END,   /* ";" - every field NULL */
};

struct mail_address {
	struct mail_address *next;
	enum mail_address_type type;
	const char *name;    /* display name, quoting removed; NULL when there is none (or "") */
	size_t name_len;
	const char *route;   /* obs-route as "@a,@b" (without the colon); NULL when none */
	size_t route_len;
	const char *mailbox; /* local-part, quoting removed (may be ""); never NULL for MAILBOX and
			      * GROUP_START */
	size_t mailbox_len;
	const char *domain;  /* NULL when the address has no domain */
	size_t domain_len;
};

/* Parse an address list. Returns the first element or NULL if there is none. Every
 * GROUP_START is followed (after its members) by a GROUP_END, also when the input forgot ";". */
struct mail_address *mail_address_parse(struct pool *pool, const void *value, size_t len);

#endif
