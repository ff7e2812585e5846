/* imap-flags.c: flag list parsing. Keywords are atoms (RFC 9051 flag-keyword); "\*" is only
 * meaningful in PERMANENTFLAGS and is refused here. */
#include "imap-flags.h"

#include <strings.h>

#include "imap/imap-arg.h"
#include "store/store.h"

static const struct {
	const char *name;
	uint8_t bit;
} system_flags[] = {
	{"\\Seen", STORE_FLAG_SEEN},     {"\\Answered", STORE_FLAG_ANSWERED},
	{"\\Flagged", STORE_FLAG_FLAGGED}, {"\\Deleted", STORE_FLAG_DELETED},
	{"\\Draft", STORE_FLAG_DRAFT},
};

int imap_flags_parse(const struct imap_arg *list, size_t count, struct pool *pool,
		     uint8_t *flags_r, const char ***keywords_r, size_t *keyword_count_r,
		     const char **error_r)
{
	*flags_r = 0;
	*keywords_r = pool_alloc_array(pool, count ? count : 1, sizeof(char *));
	*keyword_count_r = 0;
	for (size_t i = 0; i < count; i++) {
		const struct imap_arg *a = &list[i];
		if (a->type != IMAP_ARG_ATOM || a->len == 0) {
			*error_r = "Flags must be atoms";
			return -1;
		}
		if (a->str[0] == '\\') {
			uint8_t bit = 0;
			for (size_t k = 0; k < sizeof(system_flags) / sizeof(system_flags[0]); k++)
				if (strcasecmp(a->str, system_flags[k].name) == 0)
					bit = system_flags[k].bit;
			if (bit == 0) {
				*error_r = strcasecmp(a->str, "\\Recent") == 0
						   ? "\\Recent cannot be set"
						   : "Unknown system flag";
				return -1;
			}
			*flags_r |= bit;
			continue;
		}
		if (!imap_arg_is_atom(a)) {
			*error_r = "Invalid keyword";
			return -1;
		}
		if (a->len > STORE_KEYWORD_LEN_MAX) {
			*error_r = "Keyword too long";
			return -1;
		}
		(*keywords_r)[(*keyword_count_r)++] = a->str;
	}
	return 0;
}
