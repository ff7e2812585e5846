/* charset.c: MIME charset labels to UTF-8 through glibc iconv, with the Japanese supersets of
 * DESIGN.md and an own ISO-2022-JP decoder (CP50220 style, which glibc lacks).
 * Traps: iconv stops at the first bad byte (EILSEQ) or at a truncated sequence at the end
 * (EINVAL); both are answered with U+FFFD and the conversion resumes one byte later. The output
 * is built in a scratch buffer first so a full `out` is left unchanged. */
#include "charset.h"

#include <errno.h>
#include <iconv.h>
#include <stdint.h>
#include <string.h>

#include "lib/xmalloc.h"

#define CHARSET_LABEL_MAX 64

enum charset_kind {
	CHARSET_UTF8,    /* validate as UTF-8 here */
	CHARSET_ICONV,   /* iconv with the given name */
	CHARSET_JIS,     /* own ISO-2022-JP decoder */
};

struct charset_alias {
	const char *label;
	enum charset_kind kind;
	const char *iconv_name;
};

/* Lowercase labels. Anything not here goes to iconv under its own name. */
static const struct charset_alias charset_aliases[] = {
	{ "us-ascii", CHARSET_UTF8, NULL },
	{ "ascii", CHARSET_UTF8, NULL },
	{ "ansi_x3.4-1968", CHARSET_UTF8, NULL },
	{ "iso646-us", CHARSET_UTF8, NULL },
	{ "us", CHARSET_UTF8, NULL },
	{ "utf-8", CHARSET_UTF8, NULL },
	{ "utf8", CHARSET_UTF8, NULL },
	{ "unicode-1-1-utf-8", CHARSET_UTF8, NULL },
	{ "unknown-8bit", CHARSET_UTF8, NULL },
	{ "x-unknown", CHARSET_UTF8, NULL },
	{ "default", CHARSET_UTF8, NULL },
	{ "iso-8859-1", CHARSET_ICONV, "WINDOWS-1252" },
	{ "iso8859-1", CHARSET_ICONV, "WINDOWS-1252" },
	{ "iso_8859-1", CHARSET_ICONV, "WINDOWS-1252" },
	{ "latin1", CHARSET_ICONV, "WINDOWS-1252" },
	{ "l1", CHARSET_ICONV, "WINDOWS-1252" },
	{ "cp819", CHARSET_ICONV, "WINDOWS-1252" },
	{ "ibm819", CHARSET_ICONV, "WINDOWS-1252" },
	{ "iso-8859-9", CHARSET_ICONV, "WINDOWS-1254" },
	{ "latin5", CHARSET_ICONV, "WINDOWS-1254" },
	{ "tis-620", CHARSET_ICONV, "CP874" },
	{ "iso-8859-11", CHARSET_ICONV, "CP874" },
	{ "shift_jis", CHARSET_ICONV, "CP932" },
	{ "shift-jis", CHARSET_ICONV, "CP932" },
	{ "sjis", CHARSET_ICONV, "CP932" },
	{ "x-sjis", CHARSET_ICONV, "CP932" },
	{ "ms_kanji", CHARSET_ICONV, "CP932" },
	{ "csshiftjis", CHARSET_ICONV, "CP932" },
	{ "windows-31j", CHARSET_ICONV, "CP932" },
	{ "cswindows31j", CHARSET_ICONV, "CP932" },
	{ "cp932", CHARSET_ICONV, "CP932" },
	{ "ms932", CHARSET_ICONV, "CP932" },
	{ "x-ms-cp932", CHARSET_ICONV, "CP932" },
	{ "euc-jp", CHARSET_ICONV, "EUC-JP-MS" },
	{ "x-euc-jp", CHARSET_ICONV, "EUC-JP-MS" },
	{ "eucjp", CHARSET_ICONV, "EUC-JP-MS" },
	{ "euc-jp-ms", CHARSET_ICONV, "EUC-JP-MS" },
	{ "eucjp-ms", CHARSET_ICONV, "EUC-JP-MS" },
	{ "cseucpkdfmtjapanese", CHARSET_ICONV, "EUC-JP-MS" },
	{ "iso-2022-jp", CHARSET_JIS, "ISO-2022-JP-2" },
	{ "csiso2022jp", CHARSET_JIS, "ISO-2022-JP-2" },
	{ "iso-2022-jp-1", CHARSET_JIS, "ISO-2022-JP-2" },
	{ "iso-2022-jp-2", CHARSET_JIS, "ISO-2022-JP-2" },
	{ "csiso2022jp2", CHARSET_JIS, "ISO-2022-JP-2" },
	{ "iso-2022-jp-3", CHARSET_JIS, "ISO-2022-JP-3" },
	{ "iso-2022-jp-ms", CHARSET_JIS, "ISO-2022-JP-2" },
	{ "cp50220", CHARSET_JIS, "ISO-2022-JP-2" },
	{ "cp50221", CHARSET_JIS, "ISO-2022-JP-2" },
	{ "cp50222", CHARSET_JIS, "ISO-2022-JP-2" },
	{ "gb2312", CHARSET_ICONV, "GB18030" },
	{ "csgb2312", CHARSET_ICONV, "GB18030" },
	{ "euc-cn", CHARSET_ICONV, "GB18030" },
	{ "gbk", CHARSET_ICONV, "GB18030" },
	{ "x-gbk", CHARSET_ICONV, "GB18030" },
	{ "cp936", CHARSET_ICONV, "GB18030" },
	{ "euc-kr", CHARSET_ICONV, "CP949" },
	{ "ks_c_5601-1987", CHARSET_ICONV, "CP949" },
	{ "ks_c_5601", CHARSET_ICONV, "CP949" },
	{ "csksc56011987", CHARSET_ICONV, "CP949" },
	{ "korean", CHARSET_ICONV, "CP949" },
	{ "windows-949", CHARSET_ICONV, "CP949" },
	{ "big5", CHARSET_ICONV, "BIG5-HKSCS" },
	{ "x-big5", CHARSET_ICONV, "BIG5-HKSCS" },
	{ "cn-big5", CHARSET_ICONV, "BIG5-HKSCS" },
	{ "csbig5", CHARSET_ICONV, "BIG5-HKSCS" },
};

static const unsigned char charset_fffd[3] = { 0xef, 0xbf, 0xbd };

size_t charset_utf8_seq_len(const unsigned char *s, size_t len)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t n;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f; /* no UTF-16 surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f; /* <= U+10FFFF */
	} else {
		return 0;
	}
	if (len < n || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++) {
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	}
	return n;
}

bool charset_utf8_valid(const void *s, size_t len)
{
	const unsigned char *p = s;
	for (size_t i = 0; i < len;) {
		size_t n = charset_utf8_seq_len(p + i, len - i);
		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

int charset_append_utf8(struct buf *out, unsigned int cp)
{
	unsigned char u[4];
	size_t n;
	if (cp < 0x80) {
		u[0] = (unsigned char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (unsigned char)(0xc0 | (cp >> 6));
		u[1] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (unsigned char)(0xe0 | (cp >> 12));
		u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (unsigned char)(0xf0 | (cp >> 18));
		u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return buf_append(out, u, n);
}

/* Like charset_utf8_sanitize but on failure out may hold part of the output. */
static int charset_utf8_sanitize_raw(struct buf *out, const unsigned char *p, size_t len)
{
	int replaced = 0;
	size_t i = 0;
	while (i < len) {
		size_t start = i;
		size_t n;
		while (i < len && (n = charset_utf8_seq_len(p + i, len - i)) != 0)
			i += n;
		if (buf_append(out, p + start, i - start) < 0)
			return -1;
		if (i < len) {
			if (buf_append(out, charset_fffd, 3) < 0)
				return -1;
			replaced = 1;
			i++;
		}
	}
	return replaced;
}

int charset_utf8_sanitize(struct buf *out, const void *s, size_t len)
{
	size_t start = out->len;
	int ret = charset_utf8_sanitize_raw(out, s, len);
	if (ret < 0 && out->data != NULL) {
		out->len = start;
		out->data[start] = '\0';
	}
	return ret;
}

/* Run iconv from `name` to UTF-8 over in[0..len), appending to out (partial on failure).
 * Returns 0, 1 with replacements, -1 on out's maximum, -2 if iconv does not know the name. */
static int charset_iconv(struct buf *out, const char *name, const unsigned char *in, size_t len)
{
	iconv_t cd = iconv_open("UTF-8", name);
	if (cd == (iconv_t)-1)
		return -2;
	int replaced = 0;
	char *ip = (char *)(uintptr_t)in;
	size_t ileft = len;
	char tmp[1024];
	int ret = 0;
	for (;;) {
		char *op = tmp;
		size_t oleft = sizeof(tmp);
		size_t r = ileft > 0 ? iconv(cd, &ip, &ileft, &op, &oleft)
				     : iconv(cd, NULL, NULL, &op, &oleft);
		int err = errno;
		if (buf_append(out, tmp, sizeof(tmp) - oleft) < 0) {
			ret = -1;
			break;
		}
		if (r != (size_t)-1) {
			if (ileft == 0 && op == tmp)
				break; /* flushed, nothing more */
			continue;
		}
		if (err == E2BIG)
			continue;
		/* EILSEQ: a bad byte; EINVAL: a sequence cut short by the end of the input */
		if (buf_append(out, charset_fffd, 3) < 0) {
			ret = -1;
			break;
		}
		replaced = 1;
		if (err == EINVAL || ileft == 0) {
			ip += ileft;
			ileft = 0;
		} else {
			ip++;
			ileft--;
		}
	}
	iconv_close(cd);
	return ret < 0 ? ret : replaced;
}

/* ---- ISO-2022-JP, CP50220/CP50221 style ---- */

enum jis_set { JIS_ASCII, JIS_KANA, JIS_X0208, JIS_X0212 };

struct jis_out {
	struct buf *out;
	struct buf seg;      /* bytes in the current target encoding */
	bool seg_eucjp;      /* seg holds EUC-JP-MS (JIS X 0212) rather than CP932 */
	int replaced;
	int failed;
};

static void jis_flush(struct jis_out *jo)
{
	if (jo->seg.len == 0 || jo->failed)
		return;
	int r = charset_iconv(jo->out, jo->seg_eucjp ? "EUC-JP-MS" : "CP932", jo->seg.data,
			      jo->seg.len);
	if (r == -1)
		jo->failed = 1;
	else if (r == -2)
		r = charset_utf8_sanitize_raw(jo->out, jo->seg.data, jo->seg.len);
	if (r == 1)
		jo->replaced = 1;
	buf_reset(&jo->seg);
}

static void jis_emit(struct jis_out *jo, bool eucjp, const unsigned char *b, size_t n)
{
	if (jo->seg_eucjp != eucjp) {
		jis_flush(jo);
		jo->seg_eucjp = eucjp;
	}
	if (buf_append(&jo->seg, b, n) < 0)
		xabort("charset: segment buffer");
}

static void jis_replacement(struct jis_out *jo)
{
	/* 0xFF is not a CP932 byte: iconv turns it into U+FFFD in order with the rest */
	unsigned char ff = 0xff;
	jis_emit(jo, false, &ff, 1);
}

/* The escape sequence at in[0..len) (in[0] is ESC): 1 with its length and the set it designates
 * (-1: none), 0 if it is unknown or cut short, -1 if it designates a set only glibc decodes. */
static int jis_escape(const unsigned char *in, size_t len, int *set_r, size_t *n_r)
{
	static const struct {
		const char *seq;
		int set; /* enum jis_set, or -1 for "hand the input to glibc" */
	} escapes[] = {
		{ "(B", JIS_ASCII },  { "(J", JIS_ASCII },  { "(H", JIS_ASCII },
		{ "(I", JIS_KANA },   { "$@", JIS_X0208 },  { "$B", JIS_X0208 },
		{ "$(B", JIS_X0208 }, { "$(@", JIS_X0208 }, { "$(D", JIS_X0212 },
		{ "$A", -1 },         { "$(C", -1 },        { ".A", -1 },
		{ ".F", -1 },         { "N", -1 },          { "$(O", -1 },
		{ "$(P", -1 },        { "$(Q", -1 },
	};
	for (size_t k = 0; k < sizeof(escapes) / sizeof(escapes[0]); k++) {
		size_t n = strlen(escapes[k].seq);
		if (len - 1 >= n && memcmp(in + 1, escapes[k].seq, n) == 0) {
			if (escapes[k].set < 0)
				return -1;
			*set_r = escapes[k].set;
			*n_r = n + 1;
			return 1;
		}
	}
	/* ESC & @ announces JIS X 0208-1990 before ESC $ B: skip it */
	if (len >= 3 && in[1] == '&' && in[2] == '@') {
		*set_r = -1; /* no change */
		*n_r = 3;
		return 1;
	}
	return 0;
}

/* Returns as charset_iconv; -3 when the input needs glibc's ISO-2022-JP-2/-3. */
static int charset_jis(struct buf *out, const unsigned char *in, size_t len)
{
	struct jis_out jo = { .out = out };
	enum jis_set set = JIS_ASCII, saved = JIS_ASCII;
	/* at most 3 segment bytes per input byte, so no maximum is needed here */
	buf_init(&jo.seg, SIZE_MAX / 2);

	for (size_t i = 0; i < len && !jo.failed;) {
		unsigned char c = in[i];
		if (c == 0x1b) {
			int nset;
			size_t n;
			int r = jis_escape(in + i, len - i, &nset, &n);
			if (r < 0) {
				buf_free(&jo.seg);
				return -3;
			}
			if (r == 0) {
				jis_replacement(&jo);
				i++;
				continue;
			}
			if (nset >= 0)
				set = (enum jis_set)nset;
			i += n;
			continue;
		}
		if (c == 0x0e) { /* SO: half-width katakana until SI (CP50221) */
			if (set != JIS_KANA)
				saved = set;
			set = JIS_KANA;
			i++;
			continue;
		}
		if (c == 0x0f) {
			set = set == JIS_KANA ? saved : set;
			i++;
			continue;
		}
		if (set == JIS_X0208 || set == JIS_X0212) {
			if (c >= 0x21 && c <= 0x7e && i + 1 < len && in[i + 1] >= 0x21 &&
			    in[i + 1] <= 0x7e) {
				unsigned char j1 = c, j2 = in[i + 1], b[3];
				if (set == JIS_X0212) {
					b[0] = 0x8f;
					b[1] = j1 | 0x80;
					b[2] = j2 | 0x80;
					jis_emit(&jo, true, b, 3);
				} else {
					/* JIS row/cell to Shift_JIS, then CP932 maps it (row 13 = NEC
					 * specials, rows 89-92 = NEC-selected IBM extensions) */
					b[0] = (unsigned char)(((j1 + 1) >> 1) + (j1 <= 0x5e ? 0x70 : 0xb0));
					if (j1 & 1)
						b[1] = (unsigned char)(j2 + (j2 <= 0x5f ? 0x1f : 0x20));
					else
						b[1] = (unsigned char)(j2 + 0x7e);
					jis_emit(&jo, false, b, 2);
				}
				i += 2;
				continue;
			}
			if (c < 0x21) { /* controls, space and line ends pass through */
				jis_emit(&jo, false, &c, 1);
			} else {
				jis_replacement(&jo);
			}
			i++;
			continue;
		}
		if (set == JIS_KANA && c >= 0x21 && c <= 0x5f) {
			unsigned char k = (unsigned char)(c + 0x80);
			jis_emit(&jo, false, &k, 1);
			i++;
			continue;
		}
		/* ASCII (ESC ( J roman reads as ASCII, as Windows does); raw 8-bit bytes are
		 * decoded as CP932 since mislabelled Shift_JIS is what they usually are */
		jis_emit(&jo, false, &c, 1);
		i++;
	}
	jis_flush(&jo);
	buf_free(&jo.seg);
	if (jo.failed)
		return -1;
	return jo.replaced;
}

/* Normalise a label: trimmed, unquoted, lowercase. false if it is unusable. */
static bool charset_label_norm(const char *label, size_t len, char norm[CHARSET_LABEL_MAX + 1])
{
	while (len > 0 && (label[0] == ' ' || label[0] == '\t' || label[0] == '"')) {
		label++;
		len--;
	}
	while (len > 0 && (label[len - 1] == ' ' || label[len - 1] == '\t' ||
			   label[len - 1] == '"'))
		len--;
	if (len > CHARSET_LABEL_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)label[i];
		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		/* a plain charset name; no "/" (iconv suffixes), no spaces or controls */
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		      c == '.' || c == ':' || c == '+' || c == '(' || c == ')'))
			return false;
		norm[i] = (char)c;
	}
	norm[len] = '\0';
	return true;
}

int charset_to_utf8(struct buf *out, const char *label, size_t label_len, const void *in,
		    size_t len)
{
	char norm[CHARSET_LABEL_MAX + 1];
	enum charset_kind kind = CHARSET_UTF8;
	const char *iconv_name = NULL;
	int unknown = 0;
	size_t start = out->len;
	int ret;

	if (label == NULL || label_len == 0) {
		kind = CHARSET_UTF8;
	} else if (!charset_label_norm(label, label_len, norm)) {
		unknown = 1;
	} else {
		kind = CHARSET_ICONV;
		iconv_name = norm;
		for (size_t k = 0; k < sizeof(charset_aliases) / sizeof(charset_aliases[0]); k++) {
			if (strcmp(norm, charset_aliases[k].label) == 0) {
				kind = charset_aliases[k].kind;
				iconv_name = charset_aliases[k].iconv_name;
				break;
			}
		}
	}

	if (kind == CHARSET_JIS) {
		ret = charset_jis(out, in, len);
		if (ret == -3) {
			/* designations only glibc knows: start over with its decoder */
			if (out->data != NULL) {
				out->len = start;
				out->data[start] = '\0';
			}
			ret = charset_iconv(out, iconv_name, in, len);
		}
	} else if (kind == CHARSET_ICONV && !unknown) {
		ret = charset_iconv(out, iconv_name, in, len);
	} else {
		ret = -2;
	}
	if (ret == -2) {
		if (kind != CHARSET_UTF8)
			unknown = 1;
		ret = charset_utf8_sanitize_raw(out, in, len);
	}
	if (ret < 0) {
		if (out->data != NULL) {
			out->len = start;
			out->data[start] = '\0';
		}
		return -1;
	}
	return ret || unknown ? 1 : 0;
}
