/* mime.h: the MIME structure of a whole message held in memory (RFC 2045, RFC 2046, RFC 5322),
 * parsed once at delivery and cached, then used for BODY[section], BINARY, BODYSTRUCTURE and
 * search.
 *
 * mime_parse() never fails: broken mail is described as well as the RFCs allow.
 *  - Lines end in CRLF or bare LF (a bare CR is data); NUL and 8-bit bytes are data.
 *  - Each part has a header (up to and including the empty line that ends it) and a body.
 *    A header that never reaches an empty line ends at the end of the part: its body is empty.
 *  - Content-Type: absent or invalid (no "type/subtype" tokens) gives text/plain with a
 *    synthesised charset=us-ascii parameter (RFC 2045 5.2), or message/rfc822 without
 *    parameters for the children of multipart/digest (RFC 2046 5.1.5).
 *  - A multipart needs a non-empty boundary parameter, otherwise it is treated as an invalid
 *    Content-Type (text/plain). Boundary lines are "--" boundary, optionally "--" (closing),
 *    then only SP/HTAB up to the line end; the line end before a boundary line belongs to the
 *    boundary (RFC 2046 5.1.1), so a part's body stops before it. The preamble and the
 *    epilogue belong to no child; the epilogue is still part of the multipart's body. The
 *    line end after a closing delimiter is optional in the grammar ("[CRLF epilogue]"), so
 *    when an enclosing boundary follows at once it goes to that boundary: a nested
 *    multipart's body ends right after its "--b--". A line matching the boundary of an
 *    enclosing multipart ends the inner ones too (a missing closing boundary), innermost
 *    boundary checked first. A multipart with no boundary lines gets one synthetic empty
 *    text/plain child (MIME_PART_FLAG_SYNTHETIC) so that BODYSTRUCTURE's "1*body" holds and
 *    BODY[1] exists.
 *  - message/rfc822 and message/global bodies are parsed as a message (one child, flagged
 *    MIME_PART_FLAG_MESSAGE), whatever their transfer encoding.
 *  - Nesting: a multipart or message part at depth >= max_depth (the root is depth 0, each
 *    multipart child and each embedded message adds 1), or met once max_parts parts exist, is
 *    not descended into: it becomes an opaque leaf of type application/octet-stream
 *    (MIME_PART_FLAG_OPAQUE; its own parameters are kept) so that every renderer stays within
 *    the formal syntax. max_depth is capped at 1000 (the parser and the renderers recurse).
 *    At most max_params Content-Type / Content-Disposition parameters are read in the whole
 *    message. Work is linear in the message size (times at most the nesting depth for
 *    boundary comparisons), and so is memory.
 *  - Line counts (body_lines) count text lines: LFs in the body plus one for a last line
 *    without a line end. RFC 9051 asks for them for text and message/rfc822 parts; they are
 *    filled for every part.
 *
 * All structures and strings are allocated from the caller's pool and point nowhere into the
 * message except where noted, so they can outlive it; offsets are relative to the start of the
 * message passed to mime_parse(). */
#ifndef KURA_MAIL_MIME_H
#define KURA_MAIL_MIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/pool.h"
#include "mail/decode.h"
#include "mail/mime-param.h"

#define MIME_DEFAULT_MAX_DEPTH 100
#define MIME_DEFAULT_MAX_PARTS 10000
#define MIME_DEFAULT_MAX_PARAMS 10000

enum mime_part_flags {
	/* The part is a message (the root, or the child of a message/rfc822 or message/global
	 * part): its header is an RFC 5322 header with an ENVELOPE. */
	MIME_PART_FLAG_MESSAGE = 0x01,
	/* a multipart with children found by boundary */
	MIME_PART_FLAG_MULTIPART = 0x02,
	/* message/rfc822 or message/global with its message as the single child */
	MIME_PART_FLAG_RFC822 = 0x04,
	/* of those, message/global (RFC 6532): IMAP4rev1 has no syntax for it, see
	 * bodystructure.h */
	MIME_PART_FLAG_GLOBAL = 0x08,
	/* type "text" */
	MIME_PART_FLAG_TEXT = 0x10,
	/* a container not descended into because of max_depth / max_parts */
	MIME_PART_FLAG_OPAQUE = 0x20,
	/* the empty child invented for a multipart without boundary lines */
	MIME_PART_FLAG_SYNTHETIC = 0x40,
	/* no usable Content-Type header: type, subtype and params are the defaults */
	MIME_PART_FLAG_DEFAULT_TYPE = 0x80,
	/* a multipart whose closing boundary is missing */
	MIME_PART_FLAG_NO_CLOSE = 0x100,
};

struct mime_value {
	const char *data; /* unfolded, trimmed, NUL-terminated (may hold NUL: use len); NULL when
			   * the header is absent */
	size_t len;
};

struct mime_part {
	struct mime_part *parent, *children, *next;
	unsigned int child_count;
	unsigned int depth;
	unsigned int flags;

	size_t header_offset, header_size; /* header including the empty line ending it */
	size_t body_offset, body_size;     /* body_offset = header_offset + header_size */
	uint64_t body_lines;

	/* Content-Type as written (e.g. "Text", "HTML") or the defaults "text"/"plain",
	 * "message"/"rfc822", "application"/"octet-stream" (opaque); and lowercased copies */
	const char *type, *subtype;
	const char *type_lc, *subtype_lc;
	struct mime_params params;

	/* Content-Transfer-Encoding token as written (NULL when absent or empty) and its meaning
	 * (7bit when absent) */
	const char *encoding;
	enum mime_encoding enc;

	struct mime_value id;          /* Content-ID */
	struct mime_value description; /* Content-Description (raw, not RFC 2047 decoded) */
	struct mime_value md5;         /* Content-MD5 */
	struct mime_value location;    /* Content-Location */
	struct mime_value language;    /* Content-Language (raw value) */
	/* the language tags of Content-Language (RFC 3282), comments removed */
	const char **languages;
	unsigned int language_count;

	/* Content-Disposition: type as written and lowercased (NULL when absent or invalid) */
	const char *disposition, *disposition_lc;
	struct mime_params disposition_params;
};

struct mime_parse_settings {
	unsigned int max_depth;  /* 0: MIME_DEFAULT_MAX_DEPTH */
	unsigned int max_parts;  /* 0: MIME_DEFAULT_MAX_PARTS */
	unsigned int max_params; /* Content-Type + Content-Disposition parameters in the whole
				  * message, the rest ignored; 0: MIME_DEFAULT_MAX_PARAMS */
};

/* Parse msg[0..len). set may be NULL for the defaults. Returns the root part (the message):
 * never NULL. */
struct mime_part *mime_parse(struct pool *pool, const void *msg, size_t len,
			     const struct mime_parse_settings *set);

/* The embedded message of a message/rfc822 or message/global part, or NULL. */
const struct mime_part *mime_part_message(const struct mime_part *part);

/* The part named by an IMAP section-part (RFC 9051 6.4.5): nums[0..count) are the part
 * numbers (1-based). count 0 gives the root. In a message (the root or an embedded message)
 * that is not multipart, part 1 is the message itself (its body); the subparts of a
 * message/rfc822 part number into its embedded message. NULL if there is no such part. */
const struct mime_part *mime_part_find(const struct mime_part *root, const uint32_t *nums,
				       size_t count);
/* The same with the numbers as text "1.2.3" (digits and dots only, no leading zeros, no
 * empty numbers; len 0 gives the root). NULL if malformed or not found.
 *
 * FETCH sections as byte ranges of the message (RFC 9051 6.4.5), p = the part found:
 *   BODY[]            0 .. root->body_offset + root->body_size (the whole message)
 *   BODY[HEADER]      root header;            BODY[TEXT]    root body
 *   BODY[n]           p's body (for a message/rfc822 part: the whole embedded message)
 *   BODY[n.MIME]      p's header
 *   BODY[n.HEADER], BODY[n.TEXT]   header / body of mime_part_message(p), only when p is
 *                     a message/rfc822 or message/global part (else the section is invalid) */
const struct mime_part *mime_part_find_section(const struct mime_part *root, const char *section,
					       size_t len);

/* The part's file name for display and search, as UTF-8: Content-Disposition's filename
 * (RFC 2231 form preferred), else Content-Type's name; plain values have RFC 2047 encoded
 * words decoded (widespread practice though RFC 2047 5 forbids them there).
 * Returns 1 and appends to out, 0 if the part names no file, -1 on out's maximum. */
int mime_part_filename(const struct mime_part *part, struct buf *out);

/* The charset parameter of the part ("us-ascii" when a text part has none). */
const char *mime_part_charset(const struct mime_part *part);

#endif
