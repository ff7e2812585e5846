/* imap-flags.h: parsing flag lists of APPEND and STORE (RFC 9051 section 9: flag-list,
 * flag, flag-keyword). */
#ifndef KURA_IMAP_FLAGS_H
#define KURA_IMAP_FLAGS_H

#include <stddef.h>
#include <stdint.h>

#include "imap/imap-parser.h"
#include "lib/pool.h"

/* Parse the elements of a flag list (or a single flag). System flags into *flags_r (store
 * bits), keywords into *keywords_r (from pool). 0, or -1 with *error_r: \Recent, an unknown
 * \Flag, a non-atom, a keyword too long. */
int imap_flags_parse(const struct imap_arg *list, size_t count, struct pool *pool,
		     uint8_t *flags_r, const char ***keywords_r, size_t *keyword_count_r,
		     const char **error_r);

#endif
