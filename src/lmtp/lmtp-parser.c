/* lmtp-parser.c: LMTP command lines, paths and ESMTP parameters (RFC 5321 4.1.2, RFC 1870,
 * RFC 6152, RFC 6531). Traps: a quoted local part may hold '>' and '@', so the closing bracket
 * is found by scanning, not by strchr; every byte >= 0x80 must be part of valid UTF-8; the path
 * length is checked before anything is copied. */
#include "lmtp/lmtp-parser.h"

#include <string.h>
#include <strings.h>

static int lmtp_fail(struct lmtp_error *err, unsigned code, const char *enh, const char *text)
{
	err->code = code;
	err->enh = enh;
	err->text = text;
	return -1;
}

int lmtp_line_next(const unsigned char *data, size_t len, size_t max, size_t *line_len_r,
		   size_t *consumed_r)
{
	/* max bytes of line, then at most CR LF */
	size_t scan = len < max + 2 ? len : max + 2;
	const unsigned char *lf = memchr(data, '\n', scan);
	if (lf == NULL)
		return len >= max + 2 ? -1 : 0;
	size_t n = (size_t)(lf - data);
	if (n > 0 && data[n - 1] == '\r')
		n--;
	if (n > max)
		return -1; /* max + 1 bytes and a bare LF */
	*consumed_r = (size_t)(lf - data) + 1;
	*line_len_r = n;
	return 1;
}

static const struct {
	const char *name;
	enum lmtp_verb verb;
} lmtp_verbs[] = {
	{"LHLO", LMTP_CMD_LHLO}, {"HELO", LMTP_CMD_HELO}, {"EHLO", LMTP_CMD_EHLO},
	{"MAIL", LMTP_CMD_MAIL}, {"RCPT", LMTP_CMD_RCPT}, {"DATA", LMTP_CMD_DATA},
	{"BDAT", LMTP_CMD_BDAT}, {"RSET", LMTP_CMD_RSET}, {"NOOP", LMTP_CMD_NOOP},
	{"QUIT", LMTP_CMD_QUIT}, {"VRFY", LMTP_CMD_VRFY}, {"EXPN", LMTP_CMD_EXPN},
	{"HELP", LMTP_CMD_HELP}, {"STARTTLS", LMTP_CMD_STARTTLS}, {"AUTH", LMTP_CMD_AUTH},
};

int lmtp_cmd_parse(const char *line, size_t line_len, struct lmtp_cmd *cmd_r,
		   struct lmtp_error *err_r)
{
	for (size_t i = 0; i < line_len; i++) {
		unsigned char c = (unsigned char)line[i];
		/* HTAB is tolerated as white space; other controls (NUL, a stray CR) are not */
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return lmtp_fail(err_r, 500, "5.5.2", "Syntax error: control character in command");
	}
	size_t v = 0;
	while (v < line_len && line[v] != ' ' && line[v] != '\t')
		v++;
	cmd_r->verb = LMTP_CMD_UNKNOWN;
	for (size_t i = 0; i < sizeof(lmtp_verbs) / sizeof(lmtp_verbs[0]); i++) {
		if (strlen(lmtp_verbs[i].name) == v && strncasecmp(line, lmtp_verbs[i].name, v) == 0) {
			cmd_r->verb = lmtp_verbs[i].verb;
			break;
		}
	}
	while (v < line_len && (line[v] == ' ' || line[v] == '\t'))
		v++;
	cmd_r->args = line + v;
	return 0;
}

/* --- UTF-8 --- */

bool lmtp_utf8_valid(const unsigned char *s, size_t len)
{
	size_t i = 0;
	while (i < len) {
		unsigned char c = s[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t n;
		unsigned lo = 0x80, hi = 0xbf;
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			if (c == 0xe0)
				lo = 0xa0; /* no overlongs */
			else if (c == 0xed)
				hi = 0x9f; /* no surrogates */
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			if (c == 0xf0)
				lo = 0x90;
			else if (c == 0xf4)
				hi = 0x8f; /* <= U+10FFFF */
		} else {
			return false;
		}
		if (len - i <= n)
			return false;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return false;
		for (size_t k = 2; k <= n; k++)
			if (s[i + k] < 0x80 || s[i + k] > 0xbf)
				return false;
		i += n + 1;
	}
	return true;
}

/* --- paths --- */

/* RFC 5322 atext, extended by RFC 6531 with UTF-8 (checked as a whole later) */
static bool lmtp_atext(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80)
		return true;
	return strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL && c != '\0';
}

/* Letters, digits, '-', '.', '_' (seen in real host names), UTF-8 (U-labels) */
static bool lmtp_domain_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c >= 0x80;
}

/* Parse "<...>" at *pp; on success *pp points after '>'. allow_null: MAIL's "<>";
 * allow_postmaster: RCPT's "<postmaster>". */
static int lmtp_parse_path(struct pool *pool, const char **pp, bool allow_null,
			   bool allow_postmaster, const char *bad_enh, struct lmtp_path *path,
			   struct lmtp_error *err)
{
	const char *p = *pp;
	memset(path, 0, sizeof(*path));
	if (*p != '<')
		return lmtp_fail(err, 501, "5.5.4", "Syntax error: the path must be in angle brackets");
	p++;
	if (*p == '>') {
		if (!allow_null)
			return lmtp_fail(err, 501, bad_enh, "Syntax error: empty path");
		path->addr = "";
		path->local = "";
		*pp = p + 1;
		return 0;
	}
	/* source route "@a,@b:" (RFC 5321 4.1.2 A-d-l): accepted and ignored */
	if (*p == '@') {
		const char *colon = p;
		while (*colon != '\0' && *colon != ':' && *colon != '>')
			colon++;
		if (*colon != ':')
			return lmtp_fail(err, 501, bad_enh, "Syntax error in the path's source route");
		p = colon + 1;
	}
	const char *start = p;
	/* local part */
	char local[LMTP_PATH_MAX + 1];
	size_t ll = 0;
	if (*p == '"') {
		p++;
		for (;;) {
			unsigned char c = (unsigned char)*p;
			if (c == '\0')
				return lmtp_fail(err, 501, bad_enh, "Syntax error: unterminated quoted string");
			if (c == '"')
				break;
			if (c == '\\') {
				unsigned char q = (unsigned char)p[1];
				if (q < 0x20 || q > 0x7e)
					return lmtp_fail(err, 501, bad_enh, "Syntax error: bad quoted pair");
				c = q;
				p++;
			} else if (c < 0x20 || c == 0x7f) {
				return lmtp_fail(err, 501, bad_enh, "Syntax error in the quoted local part");
			}
			if (ll >= LMTP_PATH_MAX)
				return lmtp_fail(err, 501, bad_enh, "Path too long");
			local[ll++] = (char)c;
			p++;
		}
		p++; /* closing quote */
		if (ll == 0)
			return lmtp_fail(err, 501, bad_enh, "Syntax error: empty local part");
	} else {
		while (lmtp_atext((unsigned char)*p) || *p == '.') {
			if (ll >= LMTP_PATH_MAX)
				return lmtp_fail(err, 501, bad_enh, "Path too long");
			local[ll++] = *p++;
		}
		if (ll == 0)
			return lmtp_fail(err, 501, bad_enh, "Syntax error: empty local part");
	}
	local[ll] = '\0';
	const char *domain = NULL;
	size_t dl = 0;
	if (*p == '@') {
		p++;
		domain = p;
		if (*p == '[') {
			/* address literal: printable, no brackets or backslash inside */
			p++;
			while (*p != '\0' && *p != ']' && *p != '[' && *p != '\\' &&
			       (unsigned char)*p > 0x20 && (unsigned char)*p < 0x7f)
				p++;
			if (*p != ']' || p == domain + 1)
				return lmtp_fail(err, 501, bad_enh, "Syntax error in the address literal");
			p++;
		} else {
			while (lmtp_domain_char((unsigned char)*p))
				p++;
			if (p == domain || *domain == '.' || *domain == '-')
				return lmtp_fail(err, 501, bad_enh, "Syntax error in the domain");
		}
		dl = (size_t)(p - domain);
	} else if (!(allow_postmaster && *p == '>' && strcasecmp(local, "postmaster") == 0 &&
		     start[0] != '"')) {
		return lmtp_fail(err, 501, bad_enh, "Syntax error: the address needs a domain");
	}
	if (*p != '>')
		return lmtp_fail(err, 501, bad_enh, "Syntax error in the path");
	size_t addr_len = (size_t)(p - start);
	if (addr_len > LMTP_PATH_MAX)
		return lmtp_fail(err, 501, bad_enh, "Path too long");
	bool utf8 = false;
	for (size_t i = 0; i < addr_len; i++)
		utf8 = utf8 || (unsigned char)start[i] >= 0x80;
	if (utf8 && !lmtp_utf8_valid((const unsigned char *)start, addr_len))
		return lmtp_fail(err, 501, bad_enh, "Syntax error: the address is not valid UTF-8");
	path->addr = pool_memdup(pool, start, addr_len);
	path->local = pool_memdup(pool, local, ll);
	path->domain = domain != NULL ? pool_memdup(pool, domain, dl) : NULL;
	path->utf8 = utf8;
	*pp = p + 1;
	return 0;
}

/* The next "keyword[=value]" of an ESMTP parameter list (RFC 5321 4.1.2 esmtp-param, with
 * RFC 6531's UTF-8 values). 1 found, 0 end of line, -1 syntax error. */
static int lmtp_next_param(const char **pp, char *kw, size_t kw_size, const char **val_r,
			   size_t *val_len_r)
{
	const char *p = *pp;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\0') {
		*pp = p;
		return 0;
	}
	size_t k = 0;
	if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
		return -1;
	while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
	       *p == '-') {
		if (k + 1 >= kw_size)
			return -1;
		kw[k++] = *p++;
	}
	kw[k] = '\0';
	*val_r = NULL;
	*val_len_r = 0;
	if (*p == '=') {
		p++;
		const char *v = p;
		while ((unsigned char)*p > 0x20 && *p != '=' && (unsigned char)*p != 0x7f)
			p++;
		if (p == v)
			return -1;
		*val_r = v;
		*val_len_r = (size_t)(p - v);
	}
	if (*p != '\0' && *p != ' ' && *p != '\t')
		return -1;
	*pp = p;
	return 1;
}

/* "FROM:" / "TO:" then optional white space (a common client quirk, accepted as Postfix and
 * Dovecot do) */
static const char *lmtp_skip_prefix(const char *args, const char *prefix)
{
	size_t n = strlen(prefix);
	if (strncasecmp(args, prefix, n) != 0)
		return NULL;
	args += n;
	while (*args == ' ' || *args == '\t')
		args++;
	return args;
}

int lmtp_parse_mail(struct pool *pool, const char *args, struct lmtp_path *path_r,
		    struct lmtp_mail_params *params_r, struct lmtp_error *err_r)
{
	memset(params_r, 0, sizeof(*params_r));
	const char *p = lmtp_skip_prefix(args, "FROM:");
	if (p == NULL)
		return lmtp_fail(err_r, 501, "5.5.4", "Syntax: MAIL FROM:<address> [parameters]");
	if (lmtp_parse_path(pool, &p, true, false, "5.1.7", path_r, err_r) < 0)
		return -1;
	if (*p != '\0' && *p != ' ' && *p != '\t') /* parameters follow a space */
		return lmtp_fail(err_r, 501, "5.5.4", "Syntax error after the path");
	char kw[32];
	const char *val;
	size_t vlen;
	int r;
	while ((r = lmtp_next_param(&p, kw, sizeof(kw), &val, &vlen)) > 0) {
		if (strcasecmp(kw, "SIZE") == 0) {
			if (params_r->has_size)
				return lmtp_fail(err_r, 501, "5.5.4", "Duplicate SIZE parameter");
			uint64_t v = 0;
			if (val == NULL || vlen > 20)
				return lmtp_fail(err_r, 501, "5.5.4", "Invalid SIZE parameter");
			for (size_t i = 0; i < vlen; i++) {
				if (val[i] < '0' || val[i] > '9' ||
				    __builtin_mul_overflow(v, 10, &v) ||
				    __builtin_add_overflow(v, (uint64_t)(val[i] - '0'), &v))
					return lmtp_fail(err_r, 501, "5.5.4", "Invalid SIZE parameter");
			}
			params_r->has_size = true;
			params_r->size = v;
		} else if (strcasecmp(kw, "BODY") == 0) {
			if (params_r->body != LMTP_BODY_NONE)
				return lmtp_fail(err_r, 501, "5.5.4", "Duplicate BODY parameter");
			if (val != NULL && vlen == 4 && strncasecmp(val, "7BIT", 4) == 0)
				params_r->body = LMTP_BODY_7BIT;
			else if (val != NULL && vlen == 8 && strncasecmp(val, "8BITMIME", 8) == 0)
				params_r->body = LMTP_BODY_8BITMIME;
			else if (val != NULL && vlen == 10 && strncasecmp(val, "BINARYMIME", 10) == 0)
				/* RFC 3030 2: BINARYMIME needs BDAT, and CHUNKING is not offered */
				return lmtp_fail(err_r, 555, "5.5.4", "BODY=BINARYMIME is not supported");
			else
				return lmtp_fail(err_r, 501, "5.5.4", "Invalid BODY parameter");
		} else if (strcasecmp(kw, "SMTPUTF8") == 0) {
			/* RFC 6531 3.4: the parameter takes no value */
			if (val != NULL || params_r->smtputf8)
				return lmtp_fail(err_r, 501, "5.5.4", "Invalid SMTPUTF8 parameter");
			params_r->smtputf8 = true;
		} else {
			return lmtp_fail(err_r, 555, "5.5.4", "Unsupported MAIL parameter");
		}
	}
	if (r < 0)
		return lmtp_fail(err_r, 501, "5.5.4", "Syntax error in the MAIL parameters");
	return 0;
}

int lmtp_parse_rcpt(struct pool *pool, const char *args, struct lmtp_path *path_r,
		    struct lmtp_error *err_r)
{
	const char *p = lmtp_skip_prefix(args, "TO:");
	if (p == NULL)
		return lmtp_fail(err_r, 501, "5.5.4", "Syntax: RCPT TO:<address> [parameters]");
	if (lmtp_parse_path(pool, &p, false, true, "5.1.3", path_r, err_r) < 0)
		return -1;
	if (*p != '\0' && *p != ' ' && *p != '\t')
		return lmtp_fail(err_r, 501, "5.5.4", "Syntax error after the path");
	char kw[32];
	const char *val;
	size_t vlen;
	int r = lmtp_next_param(&p, kw, sizeof(kw), &val, &vlen);
	if (r > 0)
		return lmtp_fail(err_r, 555, "5.5.4", "Unsupported RCPT parameter");
	if (r < 0)
		return lmtp_fail(err_r, 501, "5.5.4", "Syntax error in the RCPT parameters");
	return 0;
}

/* --- recipients --- */

static void lmtp_names_add(struct lmtp_rcpt_names *n, const char *name)
{
	for (unsigned i = 0; i < n->count; i++)
		if (strcmp(n->names[i], name) == 0)
			return;
	if (n->count < LMTP_NAMES_MAX && name[0] != '\0')
		n->names[n->count++] = name;
}

void lmtp_rcpt_names(struct pool *pool, const struct lmtp_path *path, const char *delimiters,
		     struct lmtp_rcpt_names *r)
{
	memset(r, 0, sizeof(*r));
	const char *local = path->local;
	if (path->domain != NULL)
		lmtp_names_add(r, pool_printf(pool, "%s@%s", local, path->domain));
	lmtp_names_add(r, local);
	r->detail_from = r->count;
	size_t cut = delimiters != NULL && delimiters[0] != '\0' ? strcspn(local, delimiters)
							      : strlen(local);
	if (local[cut] == '\0' || cut == 0)
		return;
	char *base = pool_memdup(pool, local, cut);
	r->detail = pool_strdup(pool, local + cut + 1);
	if (path->domain != NULL)
		lmtp_names_add(r, pool_printf(pool, "%s@%s", base, path->domain));
	lmtp_names_add(r, base);
	if (r->detail_from == r->count)
		r->detail = NULL;
}

const char *lmtp_helo_sanitize(struct pool *pool, const char *arg)
{
	size_t n = strlen(arg);
	if (n > LMTP_HELO_MAX)
		n = LMTP_HELO_MAX;
	char *out = pool_memdup(pool, arg, n);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)out[i];
		if (c <= 0x20 || c >= 0x7f || c == '(' || c == ')')
			out[i] = '?';
	}
	return out;
}
