/* fuzz-thread.c: libFuzzer target for RFC 5256 threading (imap/imap-thread.c), whose input is
 * what mail headers put into the store (Message-ID, References, subjects): hostile mail can
 * make duplicate ids, loops, self references and deep chains. Each input byte pair makes a
 * message: its id, its references (a few ids from a tiny alphabet, so they collide), subject,
 * reply flag and date. Both algorithms run; the output must be a well-formed thread list in
 * which every message appears exactly once. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap-thread.h"
#include "lib/buf.h"
#include "lib/pool.h"

static void fuzz_check(bool ok)
{
	if (!ok)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t n = size / 3;
	if (n > 2000)
		n = 2000;
	struct pool *pool = pool_create(4096);
	struct store_thread_msg *m = pool_alloc_array(pool, n ? n : 1, sizeof(*m));
	uint32_t *num = pool_alloc_array(pool, n ? n : 1, sizeof(uint32_t));
	static const char *const subj[4] = {"", "A", "B", "AB"};
	for (size_t i = 0; i < n; i++) {
		uint8_t a = data[3 * i], b = data[3 * i + 1], c = data[3 * i + 2];
		m[i].uid = num[i] = (uint32_t)(i + 1);
		m[i].date = c % 7;
		m[i].reply = (a & 0x80) != 0;
		m[i].subject = (struct store_thread_str){(const unsigned char *)subj[(a >> 5) & 3],
							 strlen(subj[(a >> 5) & 3])};
		char *id = (a & 0x10) ? pool_printf(pool, "<%u>", a & 0xf)
				      : pool_printf(pool, "<\"%u\">", a & 0xf);
		m[i].message_id = (struct store_thread_str){(const unsigned char *)id,
							    (a & 0x1f) == 0x1f ? 0 : strlen(id)};
		char *refs = pool_printf(pool, "<%u> <%u> <%u>", b & 0xf, b >> 4, c >> 4);
		size_t rlen = (c & 8) ? strlen(refs) : (c & 4) ? 3 : 0;
		m[i].references = (struct store_thread_str){(const unsigned char *)refs, rlen};
	}
	for (int alg = 0; alg < 2; alg++) {
		struct buf out;
		buf_init(&out, (size_t)-2);
		imap_thread_render(alg ? IMAP_THREAD_REFERENCES : IMAP_THREAD_ORDEREDSUBJECT, m, num,
				   n, pool, &out);
		/* balanced parentheses, and every number once */
		uint8_t *seen = calloc(n + 1, 1);
		long depth = 0;
		size_t count = 0;
		for (size_t i = 0; i < out.len; i++) {
			unsigned char ch = out.data[i];
			if (ch == '(') {
				depth++;
			} else if (ch == ')') {
				depth--;
				fuzz_check(depth >= 0);
			} else if (ch >= '1' && ch <= '9') {
				size_t v = 0;
				while (i < out.len && out.data[i] >= '0' && out.data[i] <= '9')
					v = v * 10 + (size_t)(out.data[i++] - '0');
				i--;
				fuzz_check(v >= 1 && v <= n && !seen[v]);
				seen[v] = 1;
				count++;
			} else {
				fuzz_check(ch == ' ');
			}
		}
		fuzz_check(depth == 0 && count == n);
		free(seen);
		buf_free(&out);
	}
	pool_destroy(&pool);
	return 0;
}
