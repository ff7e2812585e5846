/* uidset.c: parsing and formatting of UID sets. Trap: a range may be written high:low. */
#include "uidset.h"

#include <stdio.h>
#include <stdlib.h>

#include "imap-resp.h"

static int uidset_number(const char **p, const char *end, uint32_t *n_r)
{
	const char *start = *p;
	while (*p < end && **p >= '0' && **p <= '9')
		(*p)++;
	if (!imap_resp_u32(start, (size_t)(*p - start), n_r) || *n_r == 0)
		return -1;
	return 0;
}

int uidset_parse(const char *s, size_t n, uint32_t *out, size_t max, size_t *count_r)
{
	const char *p = s, *end = s + n;
	size_t count = 0;
	*count_r = 0;
	while (p < end) {
		uint32_t a, b;
		if (uidset_number(&p, end, &a) < 0)
			return -1;
		b = a;
		if (p < end && *p == ':') {
			p++;
			if (uidset_number(&p, end, &b) < 0)
				return -1;
		}
		if (a > b) {
			uint32_t t = a;
			a = b;
			b = t;
		}
		if ((uint64_t)b - a + 1 > max - count)
			return -1;
		for (uint64_t u = a; u <= b; u++)
			out[count++] = (uint32_t)u;
		if (p < end) {
			if (*p != ',' || p + 1 == end)
				return -1;
			p++;
		}
	}
	*count_r = count;
	return count > 0 ? 1 : -1;
}

int uidset_format(char *dst, size_t size, const uint32_t *uids, size_t count)
{
	size_t len = 0;
	if (size == 0)
		return -1;
	dst[0] = '\0';
	for (size_t i = 0; i < count;) {
		size_t j = i;
		while (j + 1 < count && uids[j + 1] == uids[j] + 1)
			j++;
		int n = j > i ? snprintf(dst + len, size - len, "%s%u:%u", i ? "," : "", uids[i], uids[j])
			      : snprintf(dst + len, size - len, "%s%u", i ? "," : "", uids[i]);
		if (n < 0 || (size_t)n >= size - len)
			return -1;
		len += (size_t)n;
		i = j + 1;
	}
	return (int)len;
}

static int uidset_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

int uidset_equal(uint32_t *a, size_t na, uint32_t *b, size_t nb)
{
	if (na != nb)
		return 0;
	if (na == 0)
		return 1;
	qsort(a, na, sizeof(*a), uidset_cmp);
	qsort(b, nb, sizeof(*b), uidset_cmp);
	for (size_t i = 0; i < na; i++) {
		if (a[i] != b[i])
			return 0;
	}
	return 1;
}
