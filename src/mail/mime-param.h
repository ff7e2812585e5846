/* mime-param.h: the values of Content-Type and Content-Disposition: "type/subtype" or
 * "disposition", then ";"-separated parameters (RFC 2045 5.1, RFC 2183), with RFC 2231
 * continuations ("name*0", "name*1") and extended values ("name*=charset'lang'%E3%81...").
 *
 * Two lists are kept per header: `raw`, every parameter as written (name as written, value with
 * quoting removed), and `items`, the merged view RFC 9051 7.5.2 asks BODYSTRUCTURE to show and
 * search needs: continuations joined in section order, extended values percent-decoded and
 * converted to UTF-8 from their charset (charset.h), one item per parameter name and form,
 * in the order the names first appear.
 *
 * Lenient where mail is broken: comments anywhere, WSP around "=", a missing ";" between
 * parameters, unquoted values with spaces or 8-bit bytes (running to the next ";", comments and
 * trailing WSP removed), unterminated quoted strings, duplicate sections (first wins), gaps in
 * the sections (what is there is joined). Work is O(n log n) in the number of parameters. */
#ifndef KURA_MAIL_MIME_PARAM_H
#define KURA_MAIL_MIME_PARAM_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/pool.h"

struct mime_param_raw {
	const char *name;   /* as written, e.g. "filename*0*" */
	size_t name_len;
	const char *value;  /* quoting removed; may hold 8-bit bytes and NUL */
	size_t value_len;
};

struct mime_param {
	const char *name;     /* as written without the RFC 2231 suffix: "filename" */
	size_t name_len;
	const char *value;    /* extended: UTF-8; otherwise the raw value (continuations joined) */
	size_t value_len;
	const char *charset;  /* extended: the declared charset ("" if none); else NULL */
	const char *language; /* extended: the declared language ("" if none); else NULL */
	bool extended;        /* came from "name*" / "name*N*" (RFC 2231 section 4) */
	bool continued;       /* came from "name*N" sections (RFC 2231 section 3) */
};

struct mime_params {
	struct mime_param *items;
	unsigned int count;
	struct mime_param_raw *raw;
	unsigned int raw_count;
};

/* Parse a header value (unfolded) of the form token ["/" token] *(";" parameter).
 * With want_subtype (Content-Type) both tokens are required; otherwise (Content-Disposition)
 * only the first. Returns false when they are missing or not tokens: the caller then uses its
 * default (RFC 2045 5.2) and *params_r is left empty. type/subtype are pool copies as written.
 * At most max_params parameters are read (the rest is ignored; 0 reads none), which bounds the
 * memory a hostile header can cost. All strings are NUL-terminated pool copies. */
bool mime_param_parse_value(struct pool *pool, const void *value, size_t len, bool want_subtype,
			    unsigned int max_params, const char **type_r, const char **subtype_r,
			    struct mime_params *params_r);

/* The merged parameter called name (ASCII case-insensitive): the extended form if present,
 * else the plain or continued one. NULL if none. */
const struct mime_param *mime_params_find(const struct mime_params *params, const char *name);

/* RFC 2045 token character. */
bool mime_is_token_char(unsigned char c);

#endif
