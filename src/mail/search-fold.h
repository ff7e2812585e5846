/* search-fold.h: the search form of text, in which the index stores messages and queries are
 * compared (DESIGN.md "Search" and "Japanese mail as it really arrives"). Substring search is
 * then plain byte comparison of folded UTF-8.
 *
 * Folding, in this order:
 *  1. every byte sequence that is not well-formed UTF-8 becomes U+FFFD;
 *  2. full-width and half-width forms become their ordinary forms: exactly the characters
 *     whose Unicode compatibility decomposition is tagged <wide> or <narrow> (ＩＭＡＰ -> IMAP,
 *     ﾐｰﾃｨﾝｸﾞ -> ミーティング, the ideographic space -> space). Other compatibility forms are
 *     kept: ① stays ①, ㈱ stays ㈱, ﬁ is only changed by step 4 (a search never floods the
 *     user with false hits);
 *  3. every run of white space and control characters (C0, DEL, U+0085, U+00A0, U+1680,
 *     U+2000-U+200A, U+2028, U+2029, U+202F, U+205F, U+3000, NUL) becomes one space;
 *  4. Unicode full case folding, then NFC (libunistring u8_casefold): A -> a, Ä -> ä, ß -> ss,
 *     and a half-width katakana with its separate voiced mark composes (ｶﾞ -> ガ).
 * Leading and trailing white space is kept (collapsed to one space): callers that index
 * values trim them first.
 *
 * Tables: libunistring's (uc_decomposition for the width tags, u8_casefold), so the rules
 * follow the Unicode version of the installed library. */
#ifndef KURA_MAIL_SEARCH_FOLD_H
#define KURA_MAIL_SEARCH_FOLD_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"

/* Append the folded form of s[0..len) to out. 0, or -1 if out's maximum would be passed (out
 * unchanged). */
int search_fold(struct buf *out, const void *s, size_t len);

/* The same, but whatever does not fit in out's maximum is dropped at a character boundary
 * (indexing a value that is too long keeps its start). 0 all fitted, 1 truncated. */
int search_fold_truncate(struct buf *out, const void *s, size_t len);

/* Step 2 alone (and step 1's U+FFFD for malformed bytes): full-width and half-width forms to
 * their ordinary forms, nothing else changed: "Ｒｅ：" -> "Re:", U+3000 -> space. For SORT and
 * THREAD, whose base subject (RFC 5256 2.1) must see a full-width "Ｒｅ：" as the "re:" it is.
 * 0, or -1 if out's maximum would be passed. */
int search_fold_width_only(struct buf *out, const void *s, size_t len);

/* Number of characters (code points) of well-formed UTF-8 s[0..len). */
size_t search_fold_chars(const void *s, size_t len);

/* The white space of rule 3, for one code point. */
bool search_fold_is_space(unsigned int cp);

#endif
