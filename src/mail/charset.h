/* charset.h: conversion of MIME-labelled text to UTF-8 (glibc iconv plus the Japanese rules of
 * DESIGN.md), and UTF-8 validation.
 *
 * Labels are matched case-insensitively after trimming. Some labels are read as the superset
 * that real mail uses (the WHATWG Encoding Standard and Windows practice):
 *   us-ascii, utf-8, unknown-8bit   validated as UTF-8 here (not by iconv)
 *   iso-8859-1 / latin1 / cp819     WINDOWS-1252 (and iso-8859-9 as WINDOWS-1254, tis-620 CP874)
 *   shift_jis, sjis, windows-31j... CP932 (NEC row 13, IBM extensions, ～ as U+FF5E)
 *   euc-jp, x-euc-jp                EUC-JP-MS
 *   iso-2022-jp (-1, -2, -3), csiso2022jp, cp50220/1/2
 *                                   decoded here, CP50220/CP50221 style: every JIS X 0208
 *                                   pair (rows 13 and 89-92 included) is mapped arithmetically to
 *                                   Shift_JIS and decoded as CP932; ESC ( I and SO/SI half-width
 *                                   katakana, ESC ( J as ASCII, JIS X 0212 through EUC-JP-MS.
 *                                   glibc has no CP50220 and its ISO-2022-JP rejects ① and ㈱.
 *                                   Other ISO-2022-JP-2/-3 designations (GB 2312, KS C 5601,
 *                                   ISO-8859 high halves, JIS X 0213) make the whole input go
 *                                   through glibc's ISO-2022-JP-2 / ISO-2022-JP-3 instead.
 *   gb2312, gbk                     GB18030;  euc-kr, ks_c_5601-1987  CP949;  big5  BIG5-HKSCS
 * Any other label goes to iconv_open as it is (if it is a plain name: labels with "/" or odd
 * characters are refused so a message cannot ask for "//TRANSLIT" and the like).
 *
 * Conversion never fails on bad input: each byte that cannot be converted becomes U+FFFD and
 * conversion resumes at the next byte, so the rest of a line is never lost. An unknown label is
 * treated as UTF-8 (with U+FFFD for invalid bytes). */
#ifndef KURA_MAIL_CHARSET_H
#define KURA_MAIL_CHARSET_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"

/* Convert in[0..len) from the charset labelled label[0..label_len) (NULL or empty: us-ascii) to
 * UTF-8, appending to out. Returns 0 converted exactly, 1 converted with U+FFFD replacements or
 * under an unknown label, -1 out's maximum would be exceeded (out is then unchanged). */
int charset_to_utf8(struct buf *out, const char *label, size_t label_len, const void *in,
		    size_t len);

/* Length of the well-formed UTF-8 sequence at s[0..len) (RFC 3629: no overlong forms, no
 * surrogates, at most U+10FFFF), or 0 if s does not start with one. len must be > 0. */
size_t charset_utf8_seq_len(const unsigned char *s, size_t len);
/* s[0..len) is entirely well-formed UTF-8. */
bool charset_utf8_valid(const void *s, size_t len);
/* Append s[0..len) to out, replacing each byte that does not start a well-formed UTF-8
 * sequence with U+FFFD. Returns 0, 1 if anything was replaced, -1 on out's maximum (out
 * unchanged). */
int charset_utf8_sanitize(struct buf *out, const void *s, size_t len);
/* Append the UTF-8 encoding of code point cp (<= 0x10FFFF, not a surrogate). 0 or -1. */
int charset_append_utf8(struct buf *out, unsigned int cp);

#endif
