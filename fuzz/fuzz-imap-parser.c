/* fuzz-imap-parser.c: libFuzzer target for the IMAP command parser. The first 7 bytes choose
 * small limits (so every limit path is reachable), the chunking and a literal sink (streamed
 * literals, refusals and failing writes); the rest is client input, fed once whole and once in
 * chunks of varying sizes. Both runs must give the same transcript, and every result is
 * checked against the parser's contract; any violation aborts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/imap-parser.h"
#include "lib/buf.h"
#include "lib/pool.h"

#define CFG_LEN 7

struct fuzz_cfg {
	struct imap_parser_limits lim;
	size_t lit_max_append, lit_max_other;
	bool raw_after_a;  /* after a command whose name starts with "A", read a raw line */
	uint32_t seed;
	size_t chunk_max;
	bool sink;         /* literals of at least sink_min bytes are streamed to the sink */
	size_t sink_min;
	bool sink_refuse_odd; /* the sink refuses literals of odd size */
	size_t sink_cap;   /* a write past this many bytes of one command fails (0: none) */
};

/* The sink: the owner's side of imap-parser.h's contract; it keeps the current command's
 * streamed bytes until the parser returns 1 or -1. */
struct fuzz_sink {
	const struct fuzz_cfg *cfg;
	struct buf data;
	size_t streamed;   /* bytes of LITERAL_SINK arguments seen in the output */
	bool failed;       /* a write failed: this command must end in -1 */
};

static int fuzz_sink_begin(void *ctx, const char *name, uint64_t size, uint64_t *ref_r,
			   const char **error_r);
static int fuzz_sink_write(void *ctx, const void *data, size_t size, const char **error_r);

static void fuzz_check(bool ok)
{
	if (!ok)
		abort();
}

static size_t fuzz_literal_max(void *ctx, const char *name)
{
	const struct fuzz_cfg *cfg = ctx;
	fuzz_check(name != NULL && name[0] != '\0');
	return strcasecmp(name, "APPEND") == 0 ? cfg->lit_max_append : cfg->lit_max_other;
}

static void fuzz_check_str(const char *s, size_t len, bool nul_ok)
{
	fuzz_check(s != NULL && s[len] == '\0');
	if (!nul_ok)
		fuzz_check(memchr(s, '\0', len) == NULL);
}

static void fuzz_out_arg(struct buf *o, const struct imap_arg *a, const struct fuzz_cfg *cfg,
			 struct fuzz_sink *sink, unsigned depth)
{
	switch (a->type) {
	case IMAP_ARG_NIL:
		fuzz_check(a->str == NULL && a->nil_text != NULL && strlen(a->nil_text) == 3 &&
			   strcasecmp(a->nil_text, "NIL") == 0);
		buf_append_str(o, "N");
		break;
	case IMAP_ARG_ATOM:
		fuzz_check(a->len > 0 && !a->literal8 && !a->nonsync);
		fuzz_check_str(a->str, a->len, false);
		fuzz_check(memchr(a->str, '\r', a->len) == NULL && memchr(a->str, '\n', a->len) == NULL);
		buf_printf(o, "A%zu:", a->len);
		buf_append(o, a->str, a->len);
		break;
	case IMAP_ARG_QUOTED:
		fuzz_check(!a->literal8 && !a->nonsync);
		fuzz_check_str(a->str, a->len, false);
		fuzz_check(memchr(a->str, '\r', a->len) == NULL && memchr(a->str, '\n', a->len) == NULL);
		buf_printf(o, "Q%zu:", a->len);
		buf_append(o, a->str, a->len);
		break;
	case IMAP_ARG_LITERAL:
		fuzz_check_str(a->str, a->len, a->literal8);
		fuzz_check(a->len <= cfg->lit_max_append || a->len <= cfg->lit_max_other);
		if (a->nonsync && cfg->lim.literal_minus)
			fuzz_check(a->len <= 4096);
		buf_printf(o, "L%d%d%zu:", a->literal8, a->nonsync, a->len);
		buf_append(o, a->str, a->len);
		break;
	case IMAP_ARG_LITERAL_SINK:
		fuzz_check(cfg->sink && a->str == NULL && a->len > 0 && a->len >= cfg->sink_min);
		fuzz_check(a->len <= cfg->lit_max_append || a->len <= cfg->lit_max_other);
		if (a->nonsync && cfg->lim.literal_minus)
			fuzz_check(a->len <= 4096);
		fuzz_check(a->sink_ref <= sink->data.len && a->len <= sink->data.len - a->sink_ref);
		if (!a->literal8)
			fuzz_check(memchr(sink->data.data + a->sink_ref, 0, a->len) == NULL);
		sink->streamed += a->len;
		/* the same transcript as from the pool: streaming changes nothing else */
		buf_printf(o, "L%d%d%zu:", a->literal8, a->nonsync, a->len);
		buf_append(o, sink->data.data + a->sink_ref, a->len);
		break;
	case IMAP_ARG_LIST:
		fuzz_check(depth < cfg->lim.list_depth_max);
		fuzz_check((a->count == 0) == (a->list == NULL));
		fuzz_check(a->count <= cfg->lim.args_max);
		buf_append_str(o, "(");
		for (size_t i = 0; i < a->count; i++)
			fuzz_out_arg(o, &a->list[i], cfg, sink, depth + 1);
		buf_append_str(o, ")");
		break;
	default:
		abort();
	}
}

static bool fuzz_is_tag(const char *s)
{
	if (s[0] == '\0')
		return false;
	for (; *s != '\0'; s++) {
		if (!imap_is_tag_char((unsigned char)*s))
			return false;
	}
	return true;
}

static bool fuzz_is_atom(const char *s)
{
	if (s[0] == '\0')
		return false;
	for (; *s != '\0'; s++) {
		if (!imap_is_atom_char((unsigned char)*s))
			return false;
	}
	return true;
}

static void fuzz_out_error(struct buf *o, const struct imap_parser_error *err)
{
	fuzz_check(err->msg != NULL && err->msg[0] != '\0' && err->resp != NULL);
	fuzz_check(strcmp(err->resp, "BAD") == 0 || strcmp(err->resp, "NO") == 0);
	fuzz_check(err->tag == NULL || fuzz_is_tag(err->tag));
	/* messages never echo raw control or 8-bit bytes */
	for (const char *m = err->msg; *m != '\0'; m++)
		fuzz_check((unsigned char)*m >= 0x20 && (unsigned char)*m < 0x7f);
	buf_printf(o, "E%d %s %s %s %s\n", err->fatal, err->tag != NULL ? err->tag : "*", err->resp,
		   err->code != NULL ? err->code : "-", err->msg);
}

static uint32_t fuzz_rand(uint32_t *state)
{
	uint32_t x = *state;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*state = x;
	return x;
}

static int fuzz_sink_begin(void *ctx, const char *name, uint64_t size, uint64_t *ref_r,
			   const char **error_r)
{
	struct fuzz_sink *sink = ctx;
	fuzz_check(name != NULL && fuzz_is_atom(name) && size > 0 && !sink->failed);
	if (sink->cfg->sink_refuse_odd && (size & 1) != 0) {
		*error_r = "refused (odd size)";
		return -1;
	}
	if (size < sink->cfg->sink_min)
		return 0;
	*ref_r = sink->data.len;
	return 1;
}

static int fuzz_sink_write(void *ctx, const void *data, size_t size, const char **error_r)
{
	struct fuzz_sink *sink = ctx;
	fuzz_check(size > 0 && !sink->failed);
	/* the failure depends on the bytes, never on how the input was split */
	if (sink->cfg->sink_cap != 0 && sink->data.len + size > sink->cfg->sink_cap) {
		sink->failed = true;
		*error_r = "sink full";
		return -1;
	}
	fuzz_check(buf_append(&sink->data, data, size) == 0);
	return 0;
}

/* chunk == 0: all at once; else chunk sizes from the seed (1..chunk). */
static void fuzz_run(const struct fuzz_cfg *cfg, const uint8_t *data, size_t len, size_t chunk,
		     struct buf *out)
{
	struct fuzz_sink sink = {.cfg = cfg};
	buf_init(&sink.data, 64 * 1024 * 1024);
	struct imap_parser_limits lim = cfg->lim;
	if (cfg->sink) {
		lim.literal_sink_begin = fuzz_sink_begin;
		lim.literal_sink_write = fuzz_sink_write;
		lim.literal_sink_ctx = &sink;
	}
	struct imap_parser *p = imap_parser_create(&lim);
	struct pool *pool = pool_create(1024);
	struct buf in;
	buf_init(&in, len + 1);
	uint32_t rnd = cfg->seed | 1;
	size_t off = 0, lit_total_max;
	bool raw = false, fatal = false;
	size_t lit_max = cfg->lit_max_append > cfg->lit_max_other ? cfg->lit_max_append
								   : cfg->lit_max_other;
	lit_total_max = (cfg->lim.line_max / 4 + 1) * (lit_max + 64);

	while (!fatal) {
		size_t n = len - off;
		if (chunk != 0) {
			size_t c = 1 + fuzz_rand(&rnd) % chunk;
			if (n > c)
				n = c;
		}
		fuzz_check(buf_append(&in, data + off, n) == 0);
		off += n;
		for (;;) {
			size_t before = in.len;
			bool next_raw = false;
			int ret;
			struct imap_parser_error err;
			memset(&err, 0, sizeof(err));
			if (raw) {
				const char *line = NULL;
				size_t l = 0;
				ret = imap_parser_read_line(p, &in, pool, &line, &l, &err);
				fuzz_check(in.len <= before);
				if (ret == 1) {
					fuzz_check_str(line, l, true);
					fuzz_check(l < cfg->lim.line_max);
					buf_printf(out, "R%zu:", l);
					buf_append(out, line, l);
					buf_append_str(out, "\n");
				}
			} else {
				struct imap_parsed cmd;
				memset(&cmd, 0, sizeof(cmd));
				ret = imap_parser_next(p, &in, pool, &cmd, &err);
				fuzz_check(in.len <= before);
				if (ret == 1) {
					fuzz_check(cmd.tag != NULL && cmd.name != NULL);
					fuzz_check(fuzz_is_tag(cmd.tag) && fuzz_is_atom(cmd.name));
					fuzz_check((cmd.count == 0) == (cmd.args == NULL));
					fuzz_check(cmd.count <= cfg->lim.args_max);
					fuzz_check(!imap_parser_busy(p));
					buf_printf(out, "C %s %s", cmd.tag, cmd.name);
					sink.streamed = 0;
					for (size_t i = 0; i < cmd.count; i++)
						fuzz_out_arg(out, &cmd.args[i], cfg, &sink, 0);
					buf_append_str(out, "\n");
					/* every streamed byte is in exactly one argument */
					fuzz_check(!sink.failed && sink.streamed == sink.data.len);
					next_raw = cfg->raw_after_a &&
						   (cmd.name[0] == 'A' || cmd.name[0] == 'a');
				}
			}
			/* bounded memory: the pool holds at most ~64 bytes per byte of line and
			 * the accepted literals */
			fuzz_check(pool_allocated(pool) <= 128 * cfg->lim.line_max + lit_total_max + 8192);
			bool cont = imap_parser_take_continuation(p);
			fuzz_check(!imap_parser_take_continuation(p));
			if (cont)
				fuzz_check(ret == 0 && imap_parser_busy(p));
			if (ret == 0) {
				/* everything given was consumed (nothing is buffered in `in`) */
				fuzz_check(in.len == 0);
				break;
			}
			fuzz_check(ret == 1 || ret == -1);
			if (ret < 0) {
				fuzz_out_error(out, &err);
				if (err.fatal) {
					fatal = true;
					break;
				}
			}
			raw = next_raw;
			pool_clear(pool);
			/* the command is over: the owner lets go of its streamed literals */
			buf_reset(&sink.data);
			sink.failed = false;
		}
		if (off >= len)
			break;
	}
	if (fatal) {
		struct imap_parsed cmd;
		struct imap_parser_error err;
		fuzz_check(imap_parser_next(p, &in, pool, &cmd, &err) == -1 && err.fatal);
	}
	buf_free(&in);
	buf_free(&sink.data);
	pool_destroy(&pool);
	imap_parser_destroy(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < CFG_LEN)
		return 0;
	struct fuzz_cfg cfg;
	memset(&cfg, 0, sizeof(cfg));
	imap_parser_limits_default(&cfg.lim);
	cfg.lim.line_max = 8 + (size_t)data[0];
	cfg.lim.list_depth_max = data[1] & 7;
	cfg.lim.args_max = 1 + (size_t)((data[1] >> 3) & 15);
	cfg.lim.nonsync_skip_max = (size_t)data[2] * 4;
	cfg.lim.literal_minus = (data[3] & 1) != 0;
	cfg.lim.literal_max = (data[3] & 2) != 0 ? fuzz_literal_max : NULL;
	cfg.lim.literal_max_ctx = &cfg;
	cfg.lim.literal_max_default = (size_t)(data[3] >> 2) * 2;
	cfg.raw_after_a = (data[4] & 1) != 0;
	cfg.lit_max_append = (size_t)(data[4] >> 1) * 64;
	cfg.lit_max_other = (size_t)(data[5] & 15);
	cfg.seed = (uint32_t)data[5] << 8 | data[0];
	cfg.chunk_max = 1 + (size_t)(data[5] >> 4) * 3;
	cfg.sink = (data[6] & 1) != 0;
	cfg.sink_min = (size_t)((data[6] >> 1) & 7) * 4;
	cfg.sink_refuse_odd = (data[6] & 16) != 0;
	cfg.sink_cap = (size_t)(data[6] >> 5) * 48;
	if (cfg.lim.literal_max == NULL)
		cfg.lit_max_append = cfg.lit_max_other = cfg.lim.literal_max_default;
	data += CFG_LEN;
	size -= CFG_LEN;

	struct buf whole, pieces, bytes;
	buf_init(&whole, 64 * 1024 * 1024);
	buf_init(&pieces, 64 * 1024 * 1024);
	buf_init(&bytes, 64 * 1024 * 1024);
	fuzz_run(&cfg, data, size, 0, &whole);
	fuzz_run(&cfg, data, size, cfg.chunk_max, &pieces);
	fuzz_run(&cfg, data, size, 1, &bytes);
	/* resumable: the split of the input changes nothing */
	fuzz_check(whole.len == pieces.len && whole.len == bytes.len);
	if (whole.len > 0) {
		fuzz_check(memcmp(whole.data, pieces.data, whole.len) == 0);
		fuzz_check(memcmp(whole.data, bytes.data, whole.len) == 0);
	}
	buf_free(&whole);
	buf_free(&pieces);
	buf_free(&bytes);
	return 0;
}
