/* html-text.c: HTML to text for the search index (html-text.h). One linear pass; no tree.
 * Traps: a quoted attribute value may hold ">" (so a tag ends at the first ">" outside
 * quotes); the end of <script>/<style> is searched case-insensitively; work stays linear
 * because every scan only moves forward. */
#include "html-text.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "mail/charset.h"

/* Tags that separate words (HTML block-level elements and line breaks). */
static const char *const html_block_tags[] = {
	"address", "article", "aside", "blockquote", "body", "br", "caption", "center", "dd",
	"details", "dialog", "dir", "div", "dl", "dt", "fieldset", "figcaption", "figure",
	"footer", "form", "frame", "h1", "h2", "h3", "h4", "h5", "h6", "head", "header", "hr",
	"html", "iframe", "img", "input", "legend", "li", "main", "menu", "nav", "ol", "option",
	"p", "pre", "section", "select", "summary", "table", "tbody", "td", "textarea", "tfoot",
	"th", "thead", "title", "tr", "ul",
};

static const struct html_entity {
	const char *name;
	unsigned int cp;
} html_entities[] = {
	{"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''},
	{"nbsp", 0xa0}, {"copy", 0xa9}, {"reg", 0xae}, {"trade", 0x2122}, {"hellip", 0x2026},
	{"mdash", 0x2014}, {"ndash", 0x2013}, {"laquo", 0xab}, {"raquo", 0xbb},
	{"lsquo", 0x2018}, {"rsquo", 0x2019}, {"ldquo", 0x201c}, {"rdquo", 0x201d},
	{"bull", 0x2022}, {"middot", 0xb7}, {"yen", 0xa5}, {"euro", 0x20ac}, {"pound", 0xa3},
	{"cent", 0xa2}, {"sect", 0xa7}, {"deg", 0xb0}, {"plusmn", 0xb1}, {"times", 0xd7},
	{"divide", 0xf7},
};

static bool html_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool html_alnum(unsigned char c)
{
	return html_alpha(c) || (c >= '0' && c <= '9');
}

static bool html_is_block(const char *name)
{
	for (size_t i = 0; i < sizeof(html_block_tags) / sizeof(html_block_tags[0]); i++) {
		if (strcmp(html_block_tags[i], name) == 0)
			return true;
	}
	return false;
}

/* The position after the ">" that ends the tag starting at p[i] ("<"), or len. */
static size_t html_tag_end(const unsigned char *p, size_t len, size_t i)
{
	unsigned char quote = 0;
	for (i++; i < len; i++) {
		unsigned char c = p[i];
		if (quote != 0) {
			if (c == quote)
				quote = 0;
		} else if (c == '"' || c == '\'') {
			quote = c;
		} else if (c == '>') {
			return i + 1;
		}
	}
	return len;
}

/* The position of "</name" (case-insensitive) at or after i, or len. */
static size_t html_find_end_tag(const unsigned char *p, size_t len, size_t i, const char *name)
{
	size_t n = strlen(name);
	for (; i + 2 + n <= len; i++) {
		if (p[i] == '<' && p[i + 1] == '/' && strncasecmp((const char *)p + i + 2, name, n) == 0 &&
		    (i + 2 + n == len || !html_alnum(p[i + 2 + n])))
			return i;
	}
	return len;
}

/* A character reference at p[i] ("&"): 1 with its code point and end, 0 if it is none. */
static int html_entity(const unsigned char *p, size_t len, size_t i, unsigned int *cp_r,
		       size_t *end_r)
{
	size_t j = i + 1;
	if (j < len && p[j] == '#') {
		j++;
		bool hex = j < len && (p[j] == 'x' || p[j] == 'X');
		if (hex)
			j++;
		unsigned long v = 0;
		size_t start = j;
		while (j < len && j - start < 8) {
			unsigned char c = p[j];
			int d = c >= '0' && c <= '9' ? c - '0'
				: hex && c >= 'a' && c <= 'f' ? c - 'a' + 10
				: hex && c >= 'A' && c <= 'F' ? c - 'A' + 10
							      : -1;
			if (d < 0)
				break;
			v = v * (hex ? 16 : 10) + (unsigned long)d;
			j++;
		}
		if (j == start || j >= len || p[j] != ';')
			return 0;
		if (v == 0 || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
			v = 0xfffd;
		*cp_r = (unsigned int)v;
		*end_r = j + 1;
		return 1;
	}
	size_t start = j;
	while (j < len && j - start < 8 && html_alnum(p[j]))
		j++;
	if (j == start || j >= len || p[j] != ';')
		return 0;
	for (size_t k = 0; k < sizeof(html_entities) / sizeof(html_entities[0]); k++) {
		if (strlen(html_entities[k].name) == j - start &&
		    memcmp(html_entities[k].name, p + start, j - start) == 0) {
			*cp_r = html_entities[k].cp;
			*end_r = j + 1;
			return 1;
		}
	}
	return 0;
}

int html_to_text(struct buf *out, const void *html, size_t len)
{
	const unsigned char *p = html;
	size_t i = 0, text = 0; /* p[text..i) is pending plain text */
	int ret = 0;
#define HTML_FLUSH()                                                                        \
	do {                                                                                \
		if (i > text && ret == 0 && buf_append(out, p + text, i - text) < 0)         \
			ret = -1;                                                           \
	} while (0)
	while (i < len && ret == 0) {
		unsigned char c = p[i];
		if (c == '&') {
			unsigned int cp;
			size_t end;
			if (html_entity(p, len, i, &cp, &end) == 1) {
				HTML_FLUSH();
				if (ret == 0 && charset_append_utf8(out, cp) < 0)
					ret = -1;
				i = text = end;
				continue;
			}
			i++;
			continue;
		}
		if (c != '<' || i + 1 >= len) {
			i++;
			continue;
		}
		unsigned char n = p[i + 1];
		if (n == '!' || n == '?') {
			HTML_FLUSH();
			if (n == '!' && i + 3 < len && p[i + 2] == '-' && p[i + 3] == '-') {
				/* a comment runs to "-->" */
				size_t j = i + 4;
				while (j + 2 < len && !(p[j] == '-' && p[j + 1] == '-' && p[j + 2] == '>'))
					j++;
				i = text = j + 2 < len ? j + 3 : len;
			} else {
				i = text = html_tag_end(p, len, i);
			}
			continue;
		}
		bool closing = n == '/';
		size_t j = i + 1 + (closing ? 1 : 0);
		if (j >= len || !html_alpha(p[j])) {
			i++; /* "<" as text */
			continue;
		}
		char name[16];
		size_t k = 0;
		while (j < len && html_alnum(p[j])) {
			if (k < sizeof(name) - 1)
				name[k++] = (char)(p[j] | 0x20);
			j++;
		}
		name[k] = '\0';
		HTML_FLUSH();
		i = text = html_tag_end(p, len, i);
		if (ret == 0 && html_is_block(name) && buf_append_byte(out, ' ') < 0)
			ret = -1;
		if (!closing && (strcmp(name, "script") == 0 || strcmp(name, "style") == 0))
			i = text = html_find_end_tag(p, len, i, name);
	}
	HTML_FLUSH();
#undef HTML_FLUSH
	return ret;
}
