/* search-text.h: what the search index holds of one message, decoded once at delivery.
 *
 * Seven columns of folded text (search-fold.h), each a list of values: every value is
 * decoded, trimmed and folded (so it holds no "\n"), values are separated by "\n", and a
 * non-empty column ends with "\n\n". No query can contain "\n" (folding turns it into a space),
 * so no match ever spans two values; and because every character of a value is followed by at
 * least two more, every 1- and 2-character substring is the start of a trigram (the index
 * finds short queries through its vocabulary, store-search.c).
 *
 *   HDR      every field of the message's header: "\n" name ": " value, one value per field
 *            (the name ASCII-lowercased; "\n" first, so "\nsubject:" finds the field)
 *   SUBJECT, FROM, TO, CC, BCC
 *            the values of those fields (every occurrence)
 *   BODY     in MIME order: the text of every text leaf (transfer encoding decoded,
 *            converted from its charset, text/html through html-text.h), the file name of
 *            every part that names one, and for an embedded message (message/rfc822,
 *            message/global) its header fields as "name: value" values, then its parts
 *
 * Header values: unfolded, RFC 2047 encoded words decoded; 8-bit text outside encoded words
 * that is not UTF-8 is read in the charset of the message's first text part (raw Shift_JIS
 * subjects from old clients). A text part labelled us-ascii (or not labelled) that holds ESC
 * is read as ISO-2022-JP. Non-text leaves (images, PDFs...) contribute only their names.
 *
 * Limits: HDR and each of the five field columns keep at most SEARCH_TEXT_HDR_MAX bytes, BODY
 * at most SEARCH_TEXT_BODY_MAX; text beyond is not indexed (cut at a character boundary). */
#ifndef KURA_MAIL_SEARCH_TEXT_H
#define KURA_MAIL_SEARCH_TEXT_H

#include <stddef.h>

#include "lib/buf.h"
#include "mail/mime.h"

#define SEARCH_TEXT_HDR_MAX (256u * 1024)
#define SEARCH_TEXT_BODY_MAX (1u * 1024 * 1024)

enum search_text_column {
	SEARCH_COL_HDR,
	SEARCH_COL_SUBJECT,
	SEARCH_COL_FROM,
	SEARCH_COL_TO,
	SEARCH_COL_CC,
	SEARCH_COL_BCC,
	SEARCH_COL_BODY,
	SEARCH_COL_COUNT
};

struct search_text {
	struct buf col[SEARCH_COL_COUNT];
};

void search_text_init(struct search_text *t);
void search_text_free(struct search_text *t);

/* Fill t (emptied first) from the message msg parsed as root (mime_parse of the same bytes).
 * Never fails: what cannot be decoded is left out or replaced by U+FFFD, what does not fit
 * is cut. */
void search_text_extract(struct search_text *t, const void *msg, const struct mime_part *root);

/* Append the folded, trimmed value of one header field (unfold, RFC 2047 with fallback
 * charset fallback (may be NULL), fold) to out, cut at out's maximum. */
void search_text_header_value(struct buf *out, const void *value, size_t len,
			      const char *fallback);

#endif
