/* imap-seqset.c: sequence-set parsing and resolution. Traps: ranges may be given high:low and
 * overlap; "*" means the largest number in use (for UIDs, the highest UID, even if the range
 * start is above it: "UID FETCH 1000:* " on a mailbox whose highest UID is 900 matches 900). */
#include "imap-seqset.h"

#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/xmalloc.h"

static int seq_number(const char **p, const char *end, uint32_t *v_r)
{
	if (*p < end && **p == '*') {
		(*p)++;
		*v_r = IMAP_SEQ_STAR;
		return 0;
	}
	if (*p >= end || **p < '1' || **p > '9')
		return -1;
	uint64_t v = 0;
	while (*p < end && **p >= '0' && **p <= '9') {
		v = v * 10 + (uint64_t)(**p - '0');
		if (v > 4294967295ULL)
			return -1;
		(*p)++;
	}
	*v_r = (uint32_t)v;
	return 0;
}

int imap_seqset_parse(const char *text, size_t len, struct pool *pool, size_t max_ranges,
		      struct imap_seqset *set_r, const char **error_r)
{
	memset(set_r, 0, sizeof(*set_r));
	if (len == 1 && text[0] == '$') {
		set_r->is_saved = true;
		return 0;
	}
	size_t commas = 0;
	for (size_t i = 0; i < len; i++)
		commas += text[i] == ',';
	if (commas + 1 > max_ranges) {
		*error_r = "Too many ranges in sequence set";
		return -1;
	}
	set_r->ranges = pool_alloc_array(pool, commas + 1, sizeof(*set_r->ranges));
	const char *p = text, *end = text + len;
	for (;;) {
		struct imap_seq_range r;
		if (seq_number(&p, end, &r.lo) < 0) {
			*error_r = "Invalid sequence set";
			return -1;
		}
		r.hi = r.lo;
		if (p < end && *p == ':') {
			p++;
			if (seq_number(&p, end, &r.hi) < 0) {
				*error_r = "Invalid sequence set";
				return -1;
			}
		}
		set_r->ranges[set_r->count++] = r;
		if (p == end)
			break;
		if (*p != ',' || p + 1 == end) {
			*error_r = "Invalid sequence set";
			return -1;
		}
		p++;
	}
	return 0;
}

static size_t lower_bound(const uint32_t *uids, size_t n, uint32_t v)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (uids[mid] < v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct seq_interval {
	size_t a, b; /* index range [a, b) */
};

static int interval_cmp(const void *x, const void *y)
{
	const struct seq_interval *p = x, *q = y;
	return p->a < q->a ? -1 : p->a > q->a ? 1 : 0;
}

int imap_seqset_resolve(const struct imap_seqset *set, const uint32_t *uids, size_t n,
			bool by_uid, struct pool *pool, uint32_t **idx_r, size_t *count_r,
			bool *bad_r)
{
	*bad_r = false;
	*count_r = 0;
	*idx_r = NULL;
	if (n == 0) {
		/* sequence numbers in an empty mailbox are always invalid */
		*bad_r = !by_uid && set->count > 0;
		return 0;
	}
	/* each range becomes an index interval; sorting and merging them makes the cost
	 * O(ranges log ranges + result), whatever the client sends */
	struct seq_interval *iv = xcalloc(set->count ? set->count : 1, sizeof(*iv));
	size_t niv = 0;
	for (size_t i = 0; i < set->count; i++) {
		uint32_t lo = set->ranges[i].lo, hi = set->ranges[i].hi;
		uint32_t max = by_uid ? uids[n - 1] : (uint32_t)n;
		if (lo == IMAP_SEQ_STAR)
			lo = max;
		if (hi == IMAP_SEQ_STAR)
			hi = max;
		if (lo > hi) {
			uint32_t t = lo;
			lo = hi;
			hi = t;
		}
		size_t a, b;
		if (by_uid) {
			a = lower_bound(uids, n, lo);
			b = hi == UINT32_MAX ? n : lower_bound(uids, n, hi + 1);
		} else {
			if (hi > n) {
				*bad_r = true;
				free(iv);
				return 0;
			}
			a = lo - 1;
			b = hi;
		}
		if (a < b)
			iv[niv++] = (struct seq_interval){a, b};
	}
	qsort(iv, niv, sizeof(*iv), interval_cmp);
	size_t total = 0, m = 0;
	for (size_t i = 0; i < niv; i++) {
		if (m > 0 && iv[i].a <= iv[m - 1].b) {
			if (iv[i].b > iv[m - 1].b)
				iv[m - 1].b = iv[i].b;
		} else {
			iv[m++] = iv[i];
		}
	}
	for (size_t i = 0; i < m; i++)
		total += iv[i].b - iv[i].a;
	uint32_t *idx = pool_alloc_array(pool, total ? total : 1, sizeof(uint32_t));
	size_t c = 0;
	for (size_t i = 0; i < m; i++)
		for (size_t k = iv[i].a; k < iv[i].b; k++)
			idx[c++] = (uint32_t)k;
	free(iv);
	*idx_r = idx;
	*count_r = c;
	return 0;
}

int imap_seqset_append(struct buf *b, const uint32_t *values, size_t count)
{
	int ret = 0;
	for (size_t i = 0; i < count && ret == 0;) {
		size_t j = i;
		while (j + 1 < count && values[j + 1] == values[j] + 1)
			j++;
		if (i > 0)
			ret |= buf_append_byte(b, ',');
		if (j == i)
			ret |= buf_printf(b, "%u", values[i]);
		else
			ret |= buf_printf(b, "%u:%u", values[i], values[j]);
		i = j + 1;
	}
	return ret;
}

char *imap_seqset_format(struct pool *pool, const uint32_t *values, size_t count)
{
	struct buf b;
	buf_init(&b, (size_t)-2);
	imap_seqset_append(&b, values, count);
	char *s = pool_memdup(pool, b.data != NULL ? (const char *)b.data : "", b.len);
	buf_free(&b);
	return s;
}

static int range_cmp(const void *x, const void *y)
{
	const struct imap_seq_range *p = x, *q = y;
	return p->lo < q->lo ? -1 : p->lo > q->lo ? 1 : 0;
}

void imap_seqset_normalize(const struct imap_seqset *set, uint32_t star, struct pool *pool,
			   struct imap_seq_range **ranges_r, size_t *count_r)
{
	struct imap_seq_range *r = pool_alloc_array(pool, set->count ? set->count : 1, sizeof(*r));
	for (size_t i = 0; i < set->count; i++) {
		uint32_t lo = set->ranges[i].lo, hi = set->ranges[i].hi;
		if (lo == IMAP_SEQ_STAR)
			lo = star;
		if (hi == IMAP_SEQ_STAR)
			hi = star;
		r[i].lo = lo < hi ? lo : hi;
		r[i].hi = lo < hi ? hi : lo;
	}
	qsort(r, set->count, sizeof(*r), range_cmp);
	size_t m = 0;
	for (size_t i = 0; i < set->count; i++) {
		if (m > 0 && (r[m - 1].hi == UINT32_MAX || r[i].lo <= r[m - 1].hi + 1)) {
			if (r[i].hi > r[m - 1].hi)
				r[m - 1].hi = r[i].hi;
		} else {
			r[m++] = r[i];
		}
	}
	*ranges_r = r;
	*count_r = m;
}

bool imap_seqset_ranges_contain(const struct imap_seq_range *ranges, size_t count, uint32_t v)
{
	size_t lo = 0, hi = count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (ranges[mid].hi < v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < count && ranges[lo].lo <= v;
}
