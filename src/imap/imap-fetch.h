/* imap-fetch.h: FETCH data items (RFC 9051 6.4.5 and section 9: fetch-att, section,
 * section-binary, partial; RFC 3501 RFC822/RFC822.HEADER/RFC822.TEXT; RFC 3516 BINARY;
 * RFC 7162 MODSEQ) and the
 * byte streams that carry body sections to the client.
 *
 * Two halves, both free of any store or session knowledge so they can be tested alone:
 *  - the parser turns the FETCH argument (one atom, a macro, or a parenthesised list) into a
 *    list of items, strictly by the formal syntax;
 *  - a stream resolves one body item (BODY[...], BINARY[...], BINARY.SIZE, RFC822*) against
 *    one message, read from a file descriptor with pread, and produces its bytes in bounded
 *    pieces: a whole section is never held in memory, so a 50 MB BODY[] costs a chunk.
 *
 * Return convention: parser 0 / -1 with *error_r (a BAD text, static or from the pool).
 * Streams: see each function. */
#ifndef KURA_IMAP_IMAP_FETCH_H
#define KURA_IMAP_IMAP_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/imap-parser.h"
#include "lib/buf.h"
#include "lib/pool.h"
#include "mail/decode.h"

struct mime_part;

enum imap_fetch_kind {
	IMAP_FETCH_FLAGS,
	IMAP_FETCH_UID,
	IMAP_FETCH_INTERNALDATE,
	IMAP_FETCH_RFC822_SIZE,
	IMAP_FETCH_ENVELOPE,
	IMAP_FETCH_BODY,          /* BODYSTRUCTURE without extension data */
	IMAP_FETCH_BODYSTRUCTURE,
	IMAP_FETCH_BODY_SECTION,  /* BODY[...] / BODY.PEEK[...] / RFC822* */
	IMAP_FETCH_BINARY,        /* BINARY[...] / BINARY.PEEK[...] */
	IMAP_FETCH_BINARY_SIZE,
	IMAP_FETCH_MODSEQ,        /* RFC 7162 3.1.4.2 */
};

/* What follows the part numbers of a section (section-text / section-msgtext). */
enum imap_section_text {
	IMAP_SECTION_ALL,         /* nothing: the whole message or the part's body */
	IMAP_SECTION_HEADER,
	IMAP_SECTION_HEADER_FIELDS,
	IMAP_SECTION_HEADER_FIELDS_NOT,
	IMAP_SECTION_TEXT,
	IMAP_SECTION_MIME,        /* only after part numbers */
};

struct imap_fetch_section {
	const uint32_t *parts;    /* nz-numbers; NULL when part_count is 0 */
	size_t part_count;
	enum imap_section_text text;
	const char *const *fields; /* HEADER.FIELDS[.NOT] names (NUL-terminated, as sent) */
	size_t field_count;
};

struct imap_fetch_item {
	enum imap_fetch_kind kind;
	bool sets_seen;           /* BODY[...], BINARY[...], RFC822, RFC822.TEXT */
	struct imap_fetch_section section;
	bool partial;
	uint64_t origin, octets;  /* <origin.octets> */
	/* The name in the response, e.g. "BODY[HEADER.FIELDS (From To)]<0>" or "RFC822.TEXT";
	 * for BODY[...]/BINARY[...] it includes "<origin>" when partial. */
	const char *name;
};

struct imap_fetch_request {
	struct imap_fetch_item *items; /* in the order asked, duplicates dropped */
	size_t count;
	bool sets_seen;   /* some item sets \Seen (RFC 9051 6.4.5) */
	bool needs_info;  /* some item needs more than the view's UID and flags */
	bool needs_body;  /* some item reads the message text */
	bool has_uid, has_flags, has_modseq;
};

/* The largest number of items one FETCH may name. */
#define IMAP_FETCH_ITEMS_MAX 256
/* The largest number of field names in one HEADER.FIELDS list, and of part numbers. */
#define IMAP_FETCH_FIELDS_MAX 1000
#define IMAP_FETCH_PARTS_MAX 100

/* Parse the FETCH argument: an atom (a macro ALL/FAST/FULL or one fetch-att) or a list of
 * fetch-att. rev2: the session enabled IMAP4rev2, where RFC822, RFC822.HEADER and RFC822.TEXT
 * do not exist. Everything is allocated from pool. 0, or -1 with *error_r. */
int imap_fetch_parse(const struct imap_arg *arg, bool rev2, struct pool *pool,
		     struct imap_fetch_request *req_r, const char **error_r);
/* One fetch-att given as text (an atom as the parser delivers it, brackets included). */
int imap_fetch_parse_att(const char *str, size_t len, bool rev2, struct pool *pool,
			 struct imap_fetch_item *item_r, const char **error_r);

/* --- one message, read from a file --- */

/* A message being fetched: the body file and what was learnt of it. Everything allocated from
 * pool; the mapping (if any was made) is released by imap_fetch_msg_deinit(). */
struct imap_fetch_msg {
	int fd;
	uint64_t size;
	struct pool *pool;
	const unsigned char *head; /* the first bytes (read to find the top-level header) */
	size_t head_len;
	const unsigned char *map; /* the whole message, mapped only when structure is needed */
	const struct mime_part *root;
	const unsigned char *parts; /* the stored part table (store_msg_info), if any */
	size_t parts_size;
	bool header_known;
	uint64_t header_size;     /* of the top-level header, blank line included */
};

void imap_fetch_msg_init(struct imap_fetch_msg *msg, int fd, uint64_t size, struct pool *pool);
void imap_fetch_msg_deinit(struct imap_fetch_msg *msg);

enum imap_fetch_src {
	IMAP_FETCH_SRC_NIL,    /* no such part: NIL */
	IMAP_FETCH_SRC_RANGE,  /* bytes [off, off + len) of the file */
	IMAP_FETCH_SRC_HEADER, /* header [off, off + len) filtered by HEADER.FIELDS[.NOT] */
	IMAP_FETCH_SRC_DECODE, /* bytes [off, off + len) with the transfer encoding removed */
};

/* The state of one body item: plain data (no pointers into the mapping, no open resources),
 * so a command can keep it across calls and resume a literal in the middle. */
struct imap_fetch_stream {
	enum imap_fetch_src src;
	uint64_t off, len;
	const struct imap_fetch_section *section; /* SRC_HEADER: the field list */
	uint64_t blank_len;   /* SRC_HEADER: bytes of the blank line ending the header */
	enum mime_encoding enc;
	unsigned int decode_flags;
	bool nul_to_80;       /* BODY: a NUL cannot go in a literal; send 0x80 (as Dovecot does) */
	uint64_t total;       /* the whole section's size */
	uint64_t start, size; /* what is sent: size bytes from start (the partial window) */
	bool literal8;        /* BINARY data with NUL: "~{n}" */
	/* progress */
	uint64_t done;        /* bytes of the window produced */
	uint64_t in_pos, out_pos;
	struct decode_state dec;
};

enum imap_fetch_result {
	IMAP_FETCH_OK = 0,
	IMAP_FETCH_ERROR = -1,       /* I/O error, file shorter than recorded: *error_r */
	IMAP_FETCH_UNKNOWN_CTE = -2, /* BINARY of a part whose encoding is unknown */
};

/* Resolve item (a BODY_SECTION, BINARY or BINARY_SIZE item) against msg and fill *st, sizes
 * computed (a BINARY item decodes the section once to learn its size). */
enum imap_fetch_result imap_fetch_stream_init(struct imap_fetch_stream *st,
					      const struct imap_fetch_item *item,
					      struct imap_fetch_msg *msg, const char **error_r);
/* Append at most max bytes (max >= 1024) of the window to out, reading fd. 1 the window is
 * complete, 0 more remains, IMAP_FETCH_ERROR on I/O errors or a file changed under us. */
int imap_fetch_stream_read(struct imap_fetch_stream *st, int fd, struct buf *out, size_t max,
			   const char **error_r);
/* Append the literal introducer ("{n}\r\n", "~{n}\r\n"), or "NIL" / "\"\"" (nothing follows). */
int imap_fetch_stream_head(const struct imap_fetch_stream *st, struct buf *out);

#endif
