/* test.h: the tiny unit-test harness used by every src/<layer>/test-*.c.
 *
 * A test file defines static void test functions that use the CHECK macros, and a main() that
 * calls TEST_RUN(fn) for each and returns test_finish(). Each failed CHECK prints the file, line
 * and expression. test_finish() prints "N passed, N failed" (counting test functions) and
 * returns the exit status (0 only if nothing failed). */
#ifndef KURA_LIB_TEST_H
#define KURA_LIB_TEST_H

#include <stdio.h>
#include <string.h>

static int test_passed, test_failed, test_cur_failed;

#define CHECK(expr)                                                                     \
	do {                                                                            \
		if (!(expr)) {                                                          \
			printf("  %s:%d: check failed: %s\n", __FILE__, __LINE__, #expr); \
			test_cur_failed = 1;                                            \
		}                                                                       \
	} while (0)

/* Compare n bytes; prints both sides on mismatch. */
#define CHECK_MEM(a, alen, b, blen)                                                       \
	do {                                                                              \
		size_t check_alen_ = (alen), check_blen_ = (blen);                        \
		if (check_alen_ != check_blen_ || memcmp((a), (b), check_alen_) != 0) {   \
			printf("  %s:%d: check failed: '%.*s' != '%.*s'\n", __FILE__,     \
			       __LINE__, (int)check_alen_, (const char *)(a),             \
			       (int)check_blen_, (const char *)(b));                      \
			test_cur_failed = 1;                                              \
		}                                                                         \
	} while (0)

#define CHECK_STR(a, b) CHECK_MEM((a), strlen(a), (b), strlen(b))

#define TEST_RUN(fn)                                   \
	do {                                           \
		test_cur_failed = 0;                   \
		fn();                                  \
		if (test_cur_failed) {                 \
			test_failed++;                 \
			printf("not ok - %s\n", #fn);  \
		} else {                               \
			test_passed++;                 \
			printf("ok - %s\n", #fn);      \
		}                                      \
	} while (0)

static inline int test_finish(void)
{
	printf("%d passed, %d failed\n", test_passed, test_failed);
	return test_failed == 0 ? 0 : 1;
}

#endif
