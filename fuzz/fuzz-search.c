/* fuzz-search.c: libFuzzer target for the SEARCH program parser (imap/imap-search.c) and the
 * folding of its strings (mail/search-fold.c). The input is the argument text of a SEARCH
 * command; it goes through the real command parser, then the search parser (with and without
 * CONDSTORE's MODSEQ) and as SORT and THREAD arguments, then resolution against a small view
 * and a saved result, then the
 * canonical description. Checks the contract: a failure names BAD or NO and a text, a success
 * has a program whose every UID set is ascending and disjoint; any violation aborts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap-parser.h"
#include "imap/imap-search.h"
#include "lib/buf.h"
#include "lib/pool.h"
#include "mail/search-fold.h"

static void fuzz_check(bool ok)
{
	if (!ok)
		abort();
}

static void fuzz_walk(const struct store_search_node *n, unsigned depth)
{
	fuzz_check(depth <= IMAP_SEARCH_DEPTH_MAX + 2);
	for (; n != NULL; n = n->next) {
		if (n->key == STORE_SEARCH_UIDS) {
			for (size_t i = 0; i < n->range_count; i++) {
				fuzz_check(n->ranges[i].lo <= n->ranges[i].hi);
				fuzz_check(i == 0 || n->ranges[i].lo > n->ranges[i - 1].hi);
			}
		}
		if (n->key >= STORE_SEARCH_HEADER && n->key <= STORE_SEARCH_TEXT) {
			fuzz_check(n->str != NULL && n->len <= IMAP_SEARCH_STRING_MAX);
			struct buf b;
			buf_init(&b, (size_t)-2);
			fuzz_check(search_fold(&b, n->str, n->len) == 0);
			fuzz_check(memchr(b.data != NULL ? b.data : (unsigned char *)"", '\n', b.len) ==
				   NULL);
			buf_free(&b);
		}
		if (n->key == STORE_SEARCH_NOT)
			fuzz_check(n->child != NULL && n->child->next == NULL);
		if (n->key == STORE_SEARCH_OR)
			fuzz_check(n->child != NULL && n->child->next != NULL &&
				   n->child->next->next == NULL);
		fuzz_walk(n->child, depth + 1);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t uids[6] = {3, 4, 9, 10, 11, 4000000000u};
	static const uint8_t flags[6] = {0, 0x80, 0, 0x80, 0x80, 0};
	static const uint32_t saved[3] = {4, 10, 12};
	struct imap_parser_limits lim;
	imap_parser_limits_default(&lim);
	struct buf in;
	buf_init(&in, size + 32);
	buf_append(&in, "t SEARCH ", 9);
	buf_append(&in, data, size);
	buf_append(&in, "\r\n", 2);
	struct imap_parser *p = imap_parser_create(&lim);
	struct pool *pool = pool_create(4096);
	struct imap_parsed cmd;
	struct imap_parser_error err;
	if (imap_parser_next(p, &in, pool, &cmd, &err) == 1) {
		for (unsigned flagset = 0; flagset < 2; flagset++) {
			struct imap_search_query q;
			const char *resp, *code, *text;
			if (imap_search_parse(cmd.args, cmd.count, flagset, pool, &q, &resp, &code,
					      &text) < 0) {
				fuzz_check(resp != NULL && text != NULL);
				fuzz_check(strcmp(resp, "BAD") == 0 || strcmp(resp, "NO") == 0);
				continue;
			}
			fuzz_check(q.root != NULL && q.key_count <= IMAP_SEARCH_KEYS_MAX);
			imap_search_resolve(&q, uids, flags, 0x80, flagset ? 6 : 0, saved, 3, pool);
			fuzz_walk(q.root, 0);
			fuzz_check(imap_search_describe(q.root, pool) != NULL);
		}
		/* the same arguments as SORT and THREAD programs */
		struct imap_sort_query sq;
		struct imap_thread_query tq;
		const char *resp, *code, *text;
		if (imap_sort_parse(cmd.args, cmd.count, 0, pool, &sq, &resp, &code, &text) == 0) {
			fuzz_check(sq.count >= 1 && sq.count <= STORE_SORT_CRITERIA_MAX);
			fuzz_check(sq.search.root != NULL);
		} else {
			fuzz_check(resp != NULL && text != NULL);
		}
		if (imap_thread_parse(cmd.args, cmd.count, 0, pool, &tq, &resp, &code, &text) == 0)
			fuzz_check(tq.search.root != NULL);
		else
			fuzz_check(resp != NULL && text != NULL);
	}
	imap_parser_destroy(&p);
	pool_destroy(&pool);
	buf_free(&in);
	return 0;
}
