/* pop3-parser.c: POP3 command-line framing and splitting (pop3-parser.h). Traps: only the
 * keyword is upper-cased; arguments keep their case (user names, passwords, SASL data). */
#include "pop3-parser.h"

#include <stdio.h>
#include <string.h>

int pop3_line_next(const unsigned char *data, size_t len, size_t max, size_t *line_len_r,
		   size_t *consumed_r)
{
	if (len == 0)
		return 0; /* (data may be NULL then) */
	/* max bytes of line, then at most CR LF */
	size_t scan = len < max + 2 ? len : max + 2;
	const unsigned char *lf = memchr(data, '\n', scan);
	if (lf == NULL)
		return len >= max + 2 ? -1 : 0;
	size_t n = (size_t)(lf - data);
	if (n > 0 && data[n - 1] == '\r')
		n--;
	if (n > max)
		return -1;
	*consumed_r = (size_t)(lf - data) + 1;
	*line_len_r = n;
	return 1;
}

int pop3_cmd_parse(const char *line, size_t len, struct pop3_cmd_line *cmd_r,
		   const char **error_r)
{
	memset(cmd_r, 0, sizeof(*cmd_r));
	cmd_r->rest = "";
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)line[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			*error_r = "Control characters are not allowed";
			return -1;
		}
	}
	size_t k = 0;
	while (k < len && line[k] != ' ') {
		char c = line[k];
		if (k >= 4 || !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))) {
			*error_r = "Unknown command";
			return -1;
		}
		cmd_r->keyword[k] = (char)(c & ~0x20);
		k++;
	}
	if (k < 3) {
		*error_r = "Unknown command";
		return -1;
	}
	cmd_r->keyword[k] = '\0';
	if (k < len) {
		cmd_r->rest = line + k + 1;
		cmd_r->rest_len = len - k - 1;
	}
	/* the space-separated arguments */
	const char *p = cmd_r->rest, *end = cmd_r->rest + cmd_r->rest_len;
	char *out = cmd_r->argbuf;
	bool too_long = false;
	while (p < end) {
		while (p < end && *p == ' ')
			p++;
		if (p == end)
			break;
		const char *a = p;
		while (p < end && *p != ' ')
			p++;
		size_t alen = (size_t)(p - a);
		if (cmd_r->arg_count >= POP3_ARGS_MAX || alen > POP3_ARG_MAX) {
			too_long = true;
			cmd_r->arg_count++;
			continue;
		}
		memcpy(out, a, alen);
		out[alen] = '\0';
		cmd_r->args[cmd_r->arg_count++] = out;
		out += alen + 1;
	}
	/* not an error here: PASS uses rest, and the others refuse it themselves */
	cmd_r->args_bad = too_long;
	return 0;
}

int pop3_parse_number(const char *arg, bool zero_ok, uint32_t *n_r)
{
	if (arg == NULL || *arg == '\0')
		return -1;
	uint64_t v = 0;
	for (const char *p = arg; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > UINT32_MAX)
			return -1;
	}
	if (v == 0 && !zero_ok)
		return -1;
	*n_r = (uint32_t)v;
	return 0;
}

void pop3_uidl(uint32_t uidvalidity, uint32_t uid, char *out)
{
	snprintf(out, POP3_UIDL_LEN + 1, "%08x%08x", uidvalidity, uid);
}
