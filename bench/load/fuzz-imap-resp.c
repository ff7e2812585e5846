/* fuzz-imap-resp.c: libFuzzer target for the load generator's response readers: the IMAP
 * reader and parser, and the SMTP/LMTP reply framer (smtp-resp.c, for --mode lmtp). The first
 * byte chooses the chunk size and the literal keep limit; the rest is server output, fed to
 * each reader once whole and once in chunks. Both runs must frame the same responses with the
 * same results (count, kinds, literal lengths and hashes; reply codes and texts), and nothing
 * may crash or leak. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap-resp.h"
#include "lib/pool.h"
#include "smtp-resp.h"

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

static void fuzz_smtp(const uint8_t *data, size_t size, size_t chunk, struct fuzz_summary *s)
{
	struct smtp_resp_reader r;
	size_t pos = 0;
	memset(s, 0, sizeof(*s));
	smtp_resp_reader_init(&r, 8192);
	while (pos < size) {
		size_t n = chunk == 0 || size - pos < chunk ? size - pos : chunk;
		size_t off = 0;
		bool stop = false;
		while (off < n) {
			size_t used;
			const char *err;
			int ret = smtp_resp_reader_feed(&r, data + pos + off, n - off, &used, &err);
			if (ret < 0) {
				s->errors++;
				stop = true;
				break;
			}
			off += used;
			if (ret == 0)
				break;
			struct smtp_resp resp;
			smtp_resp_reader_get(&r, &resp);
			if (resp.code < 200 || resp.code > 599 || resp.lines == 0 ||
			    strlen(resp.text) != resp.text_len || resp.last < resp.text ||
			    resp.last > resp.text + resp.text_len)
				abort();
			fuzz_mix(s, resp.code);
			fuzz_mix(s, resp.lines);
			for (size_t i = 0; i < resp.text_len; i++)
				fuzz_mix(s, (unsigned char)resp.text[i]);
			s->responses++;
			smtp_resp_reader_next(&r);
		}
		if (stop)
			break;
		pos += n;
	}
	smtp_resp_reader_free(&r);
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
	fuzz_smtp(data + 1, size - 1, 0, &whole);
	fuzz_smtp(data + 1, size - 1, chunk, &chunked);
	if (whole.responses != chunked.responses || whole.errors != chunked.errors ||
	    whole.hash != chunked.hash)
		abort();
	return 0;
}
