/* fuzz-imap-resp.c: libFuzzer target for the load generator's response reader and parser.
 * The first byte chooses the chunk size and the literal keep limit; the rest is server output,
 * fed once whole and once in chunks. Both runs must frame the same responses with the same
 * parse results (count, kinds, literal lengths and hashes), and nothing may crash or leak. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap-resp.h"
#include "lib/pool.h"

struct fuzz_summary {
	uint64_t hash;
	unsigned responses, errors;
};

static void fuzz_mix(struct fuzz_summary *s, uint64_t v)
{
	s->hash = (s->hash ^ v) * 0x100000001b3ULL;
}

static void fuzz_values(struct fuzz_summary *s, const struct imap_val *v, int depth)
{
	for (; v != NULL; v = v->next) {
		fuzz_mix(s, (uint64_t)v->type * 131 + (uint64_t)depth);
		fuzz_mix(s, v->len);
		if (v->type == IMAP_VAL_LITERAL)
			fuzz_mix(s, v->hash);
		if (v->type == IMAP_VAL_LIST)
			fuzz_values(s, v->list, depth + 1);
	}
}

static void fuzz_run(const uint8_t *data, size_t size, size_t chunk, size_t keep,
		     struct fuzz_summary *s)
{
	struct imap_resp_reader r;
	struct pool *pool = pool_create(4096);
	size_t pos = 0;
	memset(s, 0, sizeof(*s));
	imap_resp_reader_init(&r, 8192, keep);
	while (pos < size) {
		size_t n = chunk == 0 || size - pos < chunk ? size - pos : chunk;
		size_t off = 0;
		bool stop = false;
		while (off < n) {
			size_t used;
			const char *err;
			int ret = imap_resp_reader_feed(&r, data + pos + off, n - off, &used, &err);
			if (ret < 0) {
				s->errors++;
				stop = true;
				break;
			}
			off += used;
			if (ret == 0)
				break;
			struct imap_resp resp;
			if (imap_resp_parse(&r, pool, &resp, &err) < 0) {
				fuzz_mix(s, 0xbad);
			} else {
				fuzz_mix(s, resp.kind);
				fuzz_mix(s, resp.num);
				fuzz_values(s, resp.args, 0);
			}
			s->responses++;
			pool_clear(pool);
			imap_resp_reader_next(&r);
		}
		if (stop)
			break;
		pos += n;
	}
	imap_resp_reader_free(&r);
	pool_destroy(&pool);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t chunk = 1 + (data[0] & 15);
	size_t keep = (data[0] & 0x10) ? 4 : 1 << 16;
	struct fuzz_summary whole, chunked;
	fuzz_run(data + 1, size - 1, 0, keep, &whole);
	fuzz_run(data + 1, size - 1, chunk, keep, &chunked);
	if (whole.responses != chunked.responses || whole.errors != chunked.errors ||
	    whole.hash != chunked.hash)
		abort();
	return 0;
}
