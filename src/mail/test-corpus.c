/* test-corpus.c: checks the golden corpus tests/mime-corpus/NAME.eml against NAME.expected
 * (format in tests/mime-corpus/make-corpus.py): ENVELOPE, BODY, BODYSTRUCTURE (rev2 and rev1),
 * byte-exact sections, BINARY decoding, RFC 2047 subjects, file names, decoded text, dates.
 * Run from the repository root, or set KURA_SRCDIR to it. Every message is also parsed and
 * rendered once more byte by byte truncated, to check the renderers' all-or-nothing rule. */
#include <dirent.h>
#include <stdlib.h>

#include "lib/buf.h"
#include "lib/pool.h"
#include "lib/test.h"
#include "mail/bodystructure.h"
#include "mail/charset.h"
#include "mail/date.h"
#include "mail/decode.h"
#include "mail/envelope.h"
#include "mail/header.h"
#include "mail/mime.h"
#include "mail/mime-parts.h"
#include "mail/rfc2047.h"

#define CORPUS_MAX (16 * 1024 * 1024)

static char *corpus_read(const char *path, size_t *len_r)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	char *data = malloc(CORPUS_MAX + 1);
	size_t n = fread(data, 1, CORPUS_MAX, f);
	fclose(f);
	data[n] = '\0';
	*len_r = n;
	return data;
}

/* The .expected notation: {CR} {LF} {TAB} {NUL}, {xHH} for other controls and bytes that are
 * not well-formed UTF-8; everything else as is. */
static void corpus_display(struct buf *out, const unsigned char *s, size_t len)
{
	for (size_t i = 0; i < len;) {
		unsigned char c = s[i];
		if (c == '\r') {
			buf_append_str(out, "{CR}");
		} else if (c == '\n') {
			buf_append_str(out, "{LF}");
		} else if (c == '\t') {
			buf_append_str(out, "{TAB}");
		} else if (c == 0) {
			buf_append_str(out, "{NUL}");
		} else if (c < 0x20 || c == 0x7f) {
			buf_printf(out, "{x%02X}", c);
		} else if (c >= 0x80) {
			size_t n = charset_utf8_seq_len(s + i, len - i);
			if (n == 0) {
				buf_printf(out, "{x%02X}", c);
			} else {
				buf_append(out, s + i, n);
				i += n;
				continue;
			}
		} else {
			buf_append_byte(out, c);
		}
		i++;
	}
}

struct corpus_msg {
	const char *name;
	const unsigned char *data;
	size_t len;
	struct mime_part *root;
	struct pool *pool;
};

static bool corpus_compare(const struct corpus_msg *m, const char *what, const void *got,
			   size_t got_len, const char *want)
{
	struct buf d;
	buf_init(&d, (size_t)-1 / 2);
	corpus_display(&d, got, got_len);
	bool ok = d.len == strlen(want) && (d.len == 0 || memcmp(d.data, want, d.len) == 0);
	if (!ok) {
		printf("  %s: %s differs\n    got:  %.*s\n    want: %s\n", m->name, what, (int)d.len,
		       d.data ? (char *)d.data : "", want);
		test_cur_failed = 1;
	}
	buf_free(&d);
	return ok;
}

/* A FETCH section spec: "HEADER", "TEXT", "1.2", "1.2.MIME", "3.HEADER", "3.TEXT". */
static bool corpus_section(const struct corpus_msg *m, const char *spec, const unsigned char **p_r,
			   size_t *len_r)
{
	const char *dot = strrchr(spec, '.');
	const char *last = dot != NULL ? dot + 1 : spec;
	size_t numlen = dot != NULL ? (size_t)(dot - spec) : 0;
	const struct mime_part *part;
	bool is_word = strcmp(last, "HEADER") == 0 || strcmp(last, "TEXT") == 0 ||
		       strcmp(last, "MIME") == 0;
	if (!is_word) {
		part = mime_part_find_section(m->root, spec, strlen(spec));
		if (part == NULL)
			return false;
		*p_r = m->data + part->body_offset;
		*len_r = part->body_size;
		return true;
	}
	part = mime_part_find_section(m->root, spec, numlen);
	if (part == NULL)
		return false;
	if (strcmp(last, "MIME") == 0) {
		if (numlen == 0)
			return false;
		*p_r = m->data + part->header_offset;
		*len_r = part->header_size;
		return true;
	}
	if (numlen > 0) {
		/* HEADER / TEXT of a message/rfc822 part: its embedded message */
		part = mime_part_message(part);
		if (part == NULL)
			return false;
	}
	if (strcmp(last, "HEADER") == 0) {
		*p_r = m->data + part->header_offset;
		*len_r = part->header_size;
	} else {
		*p_r = m->data + part->body_offset;
		*len_r = part->body_size;
	}
	return true;
}

static void corpus_check_line(struct corpus_msg *m, char *line)
{
	char *sp = strchr(line, ' ');
	const char *key = line, *val = "";
	if (sp != NULL) {
		*sp = '\0';
		val = sp + 1;
	}
	struct buf out;
	buf_init(&out, (size_t)-1 / 2);

	if (strcmp(key, "ENVELOPE") == 0) {
		CHECK(envelope_render(&out, m->pool, m->data + m->root->header_offset,
				      m->root->header_size) == 0);
		corpus_compare(m, key, out.data, out.len, val);
	} else if (strcmp(key, "BODYSTRUCTURE") == 0 || strcmp(key, "BODY") == 0 ||
		   strcmp(key, "BODYSTRUCTURE-REV1") == 0) {
		unsigned int flags = strcmp(key, "BODY") == 0 ? 0 : BODYSTRUCTURE_EXTENDED;
		if (strcmp(key, "BODYSTRUCTURE-REV1") == 0)
			flags |= BODYSTRUCTURE_REV1;
		CHECK(bodystructure_render(&out, m->pool, m->data, m->root, flags) == 0);
		corpus_compare(m, key, out.data, out.len, val);
	} else if (strcmp(key, "SECTION") == 0 || strcmp(key, "BINARY") == 0 ||
		   strcmp(key, "BINARY.SIZE") == 0 || strcmp(key, "FILENAME") == 0 ||
		   strcmp(key, "TEXT") == 0) {
		char *spec = (char *)val;
		char *sp2 = strchr(spec, ' ');
		const char *want = "";
		if (sp2 != NULL) {
			*sp2 = '\0';
			want = sp2 + 1;
		}
		char what[128];
		snprintf(what, sizeof(what), "%s %s", key, spec);
		if (strcmp(key, "SECTION") == 0) {
			const unsigned char *p;
			size_t len;
			if (!corpus_section(m, spec, &p, &len)) {
				printf("  %s: no section %s\n", m->name, spec);
				test_cur_failed = 1;
			} else {
				corpus_compare(m, what, p, len, want);
			}
			buf_free(&out);
			return;
		}
		const struct mime_part *part = mime_part_find_section(m->root, spec, strlen(spec));
		if (part == NULL) {
			printf("  %s: no part %s\n", m->name, spec);
			test_cur_failed = 1;
		} else if (strcmp(key, "FILENAME") == 0) {
			CHECK(mime_part_filename(part, &out) == 1);
			corpus_compare(m, what, out.data, out.len, want);
		} else {
			unsigned int dflags = (part->flags & MIME_PART_FLAG_TEXT) != 0 ?
						      DECODE_FLAG_CRLF : 0;
			if (strcmp(key, "TEXT") == 0)
				dflags = 0;
			int r = decode_all(&out, part->enc, dflags, m->data + part->body_offset,
					   part->body_size);
			if (strcmp(key, "BINARY.SIZE") == 0) {
				uint64_t size = 0;
				char num[32];
				if (r < 0 || decode_size(part->enc, dflags, m->data + part->body_offset,
							 part->body_size, &size) < 0) {
					snprintf(num, sizeof(num), "UNKNOWN-CTE");
				} else {
					CHECK(size == out.len);
					snprintf(num, sizeof(num), "%llu", (unsigned long long)size);
				}
				corpus_compare(m, what, num, strlen(num), want);
			} else if (r < 0) {
				corpus_compare(m, what, "UNKNOWN-CTE", 11, want);
			} else if (strcmp(key, "TEXT") == 0) {
				struct buf text;
				buf_init(&text, (size_t)-1 / 2);
				const char *cs = mime_part_charset(part);
				charset_to_utf8(&text, cs, strlen(cs), out.data, out.len);
				corpus_compare(m, what, text.data, text.len, want);
				buf_free(&text);
			} else {
				corpus_compare(m, what, out.data, out.len, want);
			}
		}
	} else if (strcmp(key, "SUBJECT") == 0) {
		struct mail_header_field f;
		if (!mail_header_find(m->data + m->root->header_offset, m->root->header_size,
				      "subject", &f)) {
			printf("  %s: no Subject\n", m->name);
			test_cur_failed = 1;
		} else {
			size_t len;
			char *v = mail_header_unfold(m->pool, f.value, f.value_len, &len);
			rfc2047_decode(&out, v, len, NULL);
			corpus_compare(m, key, out.data, out.len, val);
		}
	} else if (strcmp(key, "DATE") == 0) {
		struct mail_header_field f;
		time_t t = 0;
		int tz = 0;
		char got[64];
		if (mail_header_find(m->data + m->root->header_offset, m->root->header_size, "date",
				     &f) &&
		    mail_date_parse(f.value, f.value_len, &t, &tz))
			snprintf(got, sizeof(got), "%lld %d", (long long)t, tz);
		else
			snprintf(got, sizeof(got), "unparsable");
		corpus_compare(m, key, got, strlen(got), val);
	} else {
		printf("  %s: unknown expectation %s\n", m->name, key);
		test_cur_failed = 1;
	}
	buf_free(&out);
}

/* Structural invariants that hold for every part of every message. */
static void corpus_check_tree(const struct corpus_msg *m, const struct mime_part *p)
{
	CHECK(p->header_offset + p->header_size == p->body_offset);
	CHECK(p->body_offset + p->body_size <= m->len);
	for (const struct mime_part *c = p->children; c != NULL; c = c->next) {
		CHECK(c->parent == p);
		CHECK(c->header_offset >= p->body_offset);
		CHECK(c->body_offset + c->body_size <= p->body_offset + p->body_size);
		corpus_check_tree(m, c);
	}
}

/* The part table keeps what sections need: the decoded tree matches the parsed one. */
static bool parts_same(const struct mime_part *a, const struct mime_part *b)
{
	if (a->flags != b->flags || a->enc != b->enc || a->header_offset != b->header_offset ||
	    a->header_size != b->header_size || a->body_offset != b->body_offset ||
	    a->body_size != b->body_size || a->child_count != b->child_count ||
	    a->depth != b->depth)
		return false;
	const struct mime_part *x = a->children, *y = b->children;
	for (; x != NULL && y != NULL; x = x->next, y = y->next)
		if (!parts_same(x, y) || y->parent != b)
			return false;
	return x == NULL && y == NULL;
}

static void corpus_check_parts(struct corpus_msg *m)
{
	struct buf table;
	buf_init(&table, (size_t)-1 / 2);
	CHECK(mime_parts_encode(m->root, &table) == 0);
	const struct mime_part *back = mime_parts_decode(table.data, table.len, m->len, m->pool);
	CHECK(back != NULL && parts_same(m->root, back));
	/* every prefix is refused */
	for (size_t n = 0; n < table.len; n++)
		CHECK(mime_parts_decode(table.data, n, m->len, m->pool) == NULL);
	/* and a message shorter than the ranges */
	if (m->len > 0)
		CHECK(mime_parts_decode(table.data, table.len, m->len - 1, m->pool) == NULL);
	buf_free(&table);
}

static void corpus_one(const char *dir, const char *name)
{
	char path[2300];
	size_t len, elen;
	struct corpus_msg m = { .name = name };
	test_cur_failed = 0;

	snprintf(path, sizeof(path), "%s/%s.eml", dir, name);
	char *data = corpus_read(path, &len);
	snprintf(path, sizeof(path), "%s/%s.expected", dir, name);
	char *exp = corpus_read(path, &elen);
	if (data == NULL || exp == NULL) {
		printf("  %s: cannot read the .eml or .expected\n", name);
		test_cur_failed = 1;
	} else {
		m.data = (const unsigned char *)data;
		m.len = len;
		m.pool = pool_create(16384);
		m.root = mime_parse(m.pool, data, len, NULL);
		corpus_check_tree(&m, m.root);
		corpus_check_parts(&m);
		unsigned int checks = 0;
		for (char *line = exp; *line != '\0';) {
			char *nl = strchr(line, '\n');
			if (nl != NULL)
				*nl = '\0';
			if (line[0] != '#' && line[0] != '\0') {
				corpus_check_line(&m, line);
				checks++;
			}
			line = nl != NULL ? nl + 1 : line + strlen(line);
		}
		if (checks == 0) {
			printf("  %s: no expectations\n", name);
			test_cur_failed = 1;
		}
		/* all-or-nothing rendering into buffers too small */
		struct buf full, small;
		buf_init(&full, (size_t)-1 / 2);
		bodystructure_render(&full, m.pool, data, m.root, BODYSTRUCTURE_EXTENDED);
		for (size_t max = 0; max < full.len; max += 1 + max / 8) {
			buf_init(&small, max);
			CHECK(bodystructure_render(&small, m.pool, data, m.root,
						   BODYSTRUCTURE_EXTENDED) == -1);
			CHECK(small.len == 0);
			buf_free(&small);
		}
		buf_free(&full);
		pool_destroy(&m.pool);
	}
	free(data);
	free(exp);
	if (test_cur_failed) {
		test_failed++;
		printf("not ok - %s\n", name);
	} else {
		test_passed++;
		printf("ok - %s\n", name);
	}
}

static int corpus_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(void)
{
	const char *srcdir = getenv("KURA_SRCDIR");
	char dir[1024];
	snprintf(dir, sizeof(dir), "%s%stests/mime-corpus", srcdir != NULL ? srcdir : "",
		 srcdir != NULL ? "/" : "");
	DIR *d = opendir(dir);
	if (d == NULL) {
		printf("cannot open %s (run from the repository root or set KURA_SRCDIR)\n", dir);
		printf("0 passed, 1 failed\n");
		return 1;
	}
	char **names = NULL;
	size_t count = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);
		if (n > 4 && strcmp(de->d_name + n - 4, ".eml") == 0) {
			names = realloc(names, (count + 1) * sizeof(*names));
			names[count++] = strndup(de->d_name, n - 4);
		}
	}
	closedir(d);
	qsort(names, count, sizeof(*names), corpus_cmp);
	for (size_t i = 0; i < count; i++) {
		corpus_one(dir, names[i]);
		free(names[i]);
	}
	free(names);
	if (count < 40) {
		printf("only %zu messages in the corpus (40 required)\n", count);
		test_failed++;
	}
	return test_finish();
}
