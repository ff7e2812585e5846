/* uidset.h: IMAP sequence sets of UIDs ("1:3,7"), as the generator sends them and as servers
 * return them in APPENDUID and COPYUID (RFC 4315). */
#ifndef KURA_LOAD_UIDSET_H
#define KURA_LOAD_UIDSET_H

#include <stddef.h>
#include <stdint.h>

/* Expand s[0..n) into out (at most max UIDs, in the order written; "5:3" gives 3,4,5).
 * 1 on success, -1 when malformed, contains "*" or 0, or expands to more than max. */
int uidset_parse(const char *s, size_t n, uint32_t *out, size_t max, size_t *count_r);
/* Write uids (ascending) as a set with ranges into dst (NUL-terminated). Returns the length,
 * or -1 when it does not fit. */
int uidset_format(char *dst, size_t size, const uint32_t *uids, size_t count);
/* Sort and compare two UID lists as sets (both are sorted in place). 1 equal, 0 not. */
int uidset_equal(uint32_t *a, size_t na, uint32_t *b, size_t nb);

#endif
