/* html-text.h: the text of an HTML part, for the search index (not for display).
 *
 * Rules (a small, predictable subset of what a browser shows; tests/search/test-search.py
 * implements the same rules in Python):
 *  - a tag "<" [ "/" ] letter ... ">" is removed; quoted attribute values may hold ">". A
 *    block-level tag (p, div, br, li, td, tr, h1-h6, table, ... see html-text.c) becomes a
 *    space, any other tag (b, span, a, ...) becomes nothing, so "foo<b>bar</b>" is "foobar";
 *  - "<!--" ... "-->", "<!" ... ">" and "<?" ... ">" are removed;
 *  - the content of <script> and <style> up to the matching end tag (or the end) is removed;
 *  - character references: "&#" digits ";", "&#x" hex ";", and the named ones listed in
 *    html-text.c, each with its ";"; anything else starting with "&" is text;
 *  - a "<" not starting a tag is text; an unterminated tag runs to the end (removed).
 * The input is UTF-8 (converted from the part's charset first); the output is UTF-8 (a
 * reference to a surrogate, to 0 or past U+10FFFF becomes U+FFFD). */
#ifndef KURA_MAIL_HTML_TEXT_H
#define KURA_MAIL_HTML_TEXT_H

#include <stddef.h>

#include "lib/buf.h"

/* Append the text of html[0..len) to out. 0, or -1 when out's maximum is reached (what fitted
 * stays). */
int html_to_text(struct buf *out, const void *html, size_t len);

#endif
