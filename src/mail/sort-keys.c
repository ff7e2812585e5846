/* sort-keys.c: SORT and THREAD keys of a message (sort-keys.h).
 * Traps: the base subject grammar of RFC 5256 is ambiguous, the steps of its section 2.1 are
 * followed literally (leaders removed as long as any matches, a blob only when something is
 * left after it, "[fwd: ...]" unwrapped and everything repeated); "fwd" is tried before "fw";
 * titlecasing is per character (RFC 5051), not libunistring's word-based u8_totitle. */
#include "sort-keys.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unicase.h>
#include <uninorm.h>
#include <unistr.h>

#include "lib/xmalloc.h"
#include "mail/address.h"
#include "mail/header.h"
#include "mail/rfc2047.h"
#include "mail/search-fold.h"

void sort_keys_init(struct sort_keys *k)
{
	for (unsigned i = 0; i < SORT_KEY_COUNT; i++)
		buf_init(&k->key[i], i == SORT_KEY_REFERENCES ? SORT_REFS_MAX : SORT_KEY_MAX);
	k->subject_reply = false;
}

void sort_keys_free(struct sort_keys *k)
{
	for (unsigned i = 0; i < SORT_KEY_COUNT; i++)
		buf_free(&k->key[i]);
}

void sort_casemap(struct buf *out, const void *s, size_t len)
{
	const uint8_t *p = s;
	uint32_t *cps = xcalloc(len + 1, sizeof(uint32_t));
	size_t n = 0;
	for (size_t i = 0; i < len;) {
		ucs4_t cp;
		int k = u8_mbtouc(&cp, p + i, len - i);
		i += k > 0 ? (size_t)k : 1;
		cps[n++] = uc_totitle(cp);
	}
	size_t rlen = 0;
	uint32_t *norm = u32_normalize(UNINORM_NFKD, cps, n, NULL, &rlen);
	free(cps);
	if (norm == NULL)
		xabort("u32_normalize failed");
	for (size_t i = 0; i < rlen; i++) {
		uint8_t enc[6];
		int k = u8_uctomb(enc, norm[i], sizeof(enc));
		if (k <= 0 || buf_append(out, enc, (size_t)k) < 0)
			break; /* full: cut here, on a character boundary */
	}
	free(norm);
}

static bool sk_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* A subj-blob at s[i..end): "[" *BLOBCHAR "]" *WSP. Its end, or 0 if none. */
static size_t sk_blob(const char *s, size_t i, size_t end)
{
	if (i >= end || s[i] != '[')
		return 0;
	size_t j = i + 1;
	while (j < end && s[j] != ']') {
		if (s[j] == '[')
			return 0;
		j++;
	}
	if (j >= end)
		return 0;
	j++;
	while (j < end && sk_wsp(s[j]))
		j++;
	return j;
}

/* A subj-leader "*subj-blob subj-refwd" at s[i..end): its end, or 0. */
static size_t sk_refwd_leader(const char *s, size_t i, size_t end)
{
	size_t b;
	while ((b = sk_blob(s, i, end)) != 0)
		i = b;
	size_t j;
	if (end - i >= 3 && strncasecmp(s + i, "fwd", 3) == 0)
		j = i + 3;
	else if (end - i >= 2 && (strncasecmp(s + i, "fw", 2) == 0 || strncasecmp(s + i, "re", 2) == 0))
		j = i + 2;
	else
		return 0;
	while (j < end && sk_wsp(s[j]))
		j++;
	if ((b = sk_blob(s, j, end)) != 0)
		j = b;
	if (j < end && s[j] == ':')
		return j + 1;
	/* "fwd" may also be "fw" followed by something else: only "fw" then "d" is the same */
	return 0;
}

int sort_base_subject(struct buf *out, const char *s, size_t len, bool *reply_r)
{
	size_t start = 0, end = len;
	*reply_r = false;
	for (;;) {
		/* (2) trailers: "(fwd)" and WSP */
		for (;;) {
			if (end > start && sk_wsp(s[end - 1])) {
				end--;
			} else if (end - start >= 5 && strncasecmp(s + end - 5, "(fwd)", 5) == 0) {
				end -= 5;
				*reply_r = true;
			} else {
				break;
			}
		}
		/* (3), (4), (5) */
		bool changed = true;
		while (changed) {
			changed = false;
			for (;;) {
				size_t e;
				if (start < end && sk_wsp(s[start])) {
					start++;
				} else if ((e = sk_refwd_leader(s, start, end)) != 0) {
					start = e;
					*reply_r = true;
				} else {
					break;
				}
				changed = true;
			}
			size_t b = sk_blob(s, start, end);
			if (b != 0) {
				/* only when a non-empty subj-base is left */
				bool rest = false;
				for (size_t k = b; k < end && !rest; k++)
					rest = !sk_wsp(s[k]);
				if (rest) {
					start = b;
					changed = true;
				}
			}
		}
		/* (6) "[fwd:" ... "]" */
		if (end - start >= 6 && strncasecmp(s + start, "[fwd:", 5) == 0 && s[end - 1] == ']') {
			start += 5;
			end--;
			*reply_r = true;
			continue;
		}
		break;
	}
	return buf_append(out, s + start, end - start);
}

/* unfolded, RFC 2047 decoded value of the first field called name into out (empty if none) */
static bool sk_field(struct buf *out, const unsigned char *hdr, size_t hlen, const char *name,
		     bool decode)
{
	struct mail_header_field f;
	if (!mail_header_find(hdr, hlen, name, &f))
		return false;
	struct buf unfolded;
	buf_init(&unfolded, f.value_len + 1);
	mail_header_unfold_buf(&unfolded, f.value, f.value_len);
	if (decode)
		rfc2047_decode(out, unfolded.data != NULL ? unfolded.data : (unsigned char *)"",
			       unfolded.len, NULL);
	else
		buf_append(out, unfolded.data != NULL ? unfolded.data : (unsigned char *)"",
			   unfolded.len);
	buf_free(&unfolded);
	return true;
}

static void sk_subject(struct sort_keys *k, const unsigned char *hdr, size_t hlen)
{
	struct buf dec, wide, norm, base;
	buf_init(&dec, 4 * hlen + 64);
	buf_init(&wide, 4 * hlen + 64);
	buf_init(&norm, 4 * hlen + 64);
	buf_init(&base, 4 * hlen + 64);
	if (sk_field(&dec, hdr, hlen, "subject", true) &&
	    search_fold_width_only(&wide, dec.data != NULL ? dec.data : (unsigned char *)"",
				   dec.len) == 0) {
		/* Japanese mailers write "Ｒｅ：" and "Re：" (full-width forms, the ideographic
		 * space): the same "re:" token in another width, so it is read as one (RFC 5256
		 * 2.1's grammar is ASCII; its collation, NFKD, equates the widths anyway).
		 * Translations ("返信:", "転送:") are not removed: RFC 5256 section 7. */
		/* (1) tabs and continuations to space, runs of spaces to one */
		for (size_t i = 0; i < wide.len; i++) {
			char c = (char)wide.data[i];
			if (c == '\t' || c == '\r' || c == '\n')
				c = ' ';
			if (c == ' ' && norm.len > 0 && norm.data[norm.len - 1] == ' ')
				continue;
			buf_append_byte(&norm, (unsigned char)c);
		}
		sort_base_subject(&base, norm.data != NULL ? (const char *)norm.data : "", norm.len,
				  &k->subject_reply);
		sort_casemap(&k->key[SORT_KEY_SUBJECT], base.data, base.len);
	}
	buf_free(&dec);
	buf_free(&wide);
	buf_free(&norm);
	buf_free(&base);
}

/* The first address of a field: addr-mailbox, and the RFC 5957 display value. */
static void sk_address(struct sort_keys *k, struct pool *pool, const unsigned char *hdr,
		       size_t hlen, const char *name, enum sort_key_field mailbox_key,
		       enum sort_key_field display_key)
{
	struct mail_header_field f;
	if (!mail_header_find(hdr, hlen, name, &f))
		return;
	const struct mail_address *a = mail_address_parse(pool, f.value, f.value_len);
	if (a == NULL || a->type == MAIL_ADDRESS_GROUP_END)
		return;
	if (a->mailbox != NULL)
		sort_casemap(&k->key[mailbox_key], a->mailbox, a->mailbox_len);
	if (display_key == SORT_KEY_COUNT)
		return;
	struct buf d;
	buf_init(&d, 4 * f.value_len + 64);
	if (a->type == MAIL_ADDRESS_MAILBOX && a->name != NULL)
		rfc2047_decode(&d, a->name, a->name_len, NULL);
	if (d.len == 0 && a->type == MAIL_ADDRESS_MAILBOX && a->mailbox != NULL) {
		buf_append(&d, a->mailbox, a->mailbox_len);
		if (a->domain != NULL) {
			buf_append_byte(&d, '@');
			buf_append(&d, a->domain, a->domain_len);
		}
	}
	sort_casemap(&k->key[display_key], d.data != NULL ? d.data : (unsigned char *)"", d.len);
	buf_free(&d);
}

/* Set out to the "<...>" message ids of a field value (all of them, or only the first),
 * space-separated; when they do not fit, the oldest are dropped (the last ones name the
 * parent and the nearest ancestors, which threading needs most). */
static void sk_msgids(struct buf *out, const struct buf *v, bool all)
{
	struct buf ids;
	buf_init(&ids, v->len + 1);
	const char *p = (const char *)v->data, *end = p + v->len;
	while (p != NULL && p < end) {
		const char *lt = memchr(p, '<', (size_t)(end - p));
		if (lt == NULL)
			break;
		const char *gt = memchr(lt, '>', (size_t)(end - lt));
		if (gt == NULL)
			break;
		if (ids.len > 0)
			buf_append_byte(&ids, ' ');
		buf_append(&ids, lt, (size_t)(gt - lt + 1));
		if (!all)
			break;
		p = gt + 1;
	}
	size_t from = 0;
	while (ids.len - from > out->max) {
		const char *sp = memchr(ids.data + from, ' ', ids.len - from);
		if (sp == NULL) {
			from = ids.len;
			break;
		}
		from = (size_t)((const unsigned char *)sp - ids.data) + 1;
	}
	buf_reset(out);
	if (ids.len > from)
		buf_append(out, ids.data + from, ids.len - from);
	buf_free(&ids);
}

void sort_keys_extract(struct sort_keys *k, struct pool *pool, const void *msg,
		       const struct mime_part *root)
{
	for (unsigned i = 0; i < SORT_KEY_COUNT; i++)
		buf_reset(&k->key[i]);
	k->subject_reply = false;
	const unsigned char *hdr = (const unsigned char *)msg + root->header_offset;
	size_t hlen = root->header_size;
	sk_subject(k, hdr, hlen);
	sk_address(k, pool, hdr, hlen, "from", SORT_KEY_FROM, SORT_KEY_DISPLAY_FROM);
	sk_address(k, pool, hdr, hlen, "to", SORT_KEY_TO, SORT_KEY_DISPLAY_TO);
	sk_address(k, pool, hdr, hlen, "cc", SORT_KEY_CC, SORT_KEY_COUNT);

	struct buf v;
	buf_init(&v, hlen + 1);
	if (sk_field(&v, hdr, hlen, "message-id", false))
		sk_msgids(&k->key[SORT_KEY_MESSAGE_ID], &v, false);
	buf_reset(&v);
	if (sk_field(&v, hdr, hlen, "references", false))
		sk_msgids(&k->key[SORT_KEY_REFERENCES], &v, true);
	if (k->key[SORT_KEY_REFERENCES].len == 0) {
		buf_reset(&v);
		if (sk_field(&v, hdr, hlen, "in-reply-to", false))
			sk_msgids(&k->key[SORT_KEY_REFERENCES], &v, false);
	}
	buf_free(&v);
}
