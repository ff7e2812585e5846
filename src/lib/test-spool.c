/* test-spool.c: unit tests for the spool (spool.h) in a temporary folder: the prefixed view of
 * the file for every size around a page boundary, views without a prefix where byte ranges
 * recorded by offset while writing are found again (IMAP APPEND's use), the prefix limit, no
 * writes after mapping, and no file left behind. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/spool.h"
#include "lib/test.h"

static char test_dir[64];

static void dir_new(void)
{
	snprintf(test_dir, sizeof(test_dir), "/tmp/kura-test-spool-XXXXXX");
	if (mkdtemp(test_dir) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
}

/* The folder holds nothing (O_TMPFILE or unlinked at once); then it is removed. */
static void dir_check_empty_and_free(void)
{
	DIR *d = opendir(test_dir);
	int entries = 0;
	struct dirent *e;
	while (d != NULL && (e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			entries++;
	if (d != NULL)
		closedir(d);
	CHECK(d != NULL);
	CHECK(entries == 0);
	rmdir(test_dir);
}

static struct spool *spool_with(const void *data, size_t size)
{
	struct spool *sp = NULL;
	const char *err = NULL;
	CHECK(spool_create(test_dir, &sp, &err) == 0);
	if (sp == NULL)
		return NULL;
	/* in uneven pieces, as callers write chunks as they arrive */
	size_t pos = 0, step = 1;
	while (pos < size) {
		size_t n = size - pos < step ? size - pos : step;
		CHECK(spool_write(sp, (const unsigned char *)data + pos, n, &err) == 0);
		pos += n;
		step = step * 3 + 1;
	}
	CHECK(spool_size(sp) == size);
	return sp;
}

static void test_spool_views(void)
{
	dir_new();
	long page = sysconf(_SC_PAGESIZE);
	size_t sizes[] = {0, 1, 2, 100, (size_t)page - 1, (size_t)page, (size_t)page + 1,
			  3 * (size_t)page + 17, 1000003};
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		size_t size = sizes[k];
		unsigned char *msg = malloc(size + 1);
		for (size_t i = 0; i < size; i++)
			msg[i] = (unsigned char)('a' + (i * 7 + k) % 26);
		struct spool *sp = spool_with(msg, size);
		if (sp == NULL) {
			free(msg);
			continue;
		}
		const char *err = NULL;
		const unsigned char *data;
		size_t len;
		/* prefixes of different lengths, one after the other on the same mapping */
		const char *prefixes[] = {"", "Return-Path: <a@b>\r\n", "X: 1\r\n"};
		for (size_t p = 0; p < 3; p++) {
			size_t plen = strlen(prefixes[p]);
			CHECK(spool_view(sp, prefixes[p], plen, &data, &len, &err) == 0);
			CHECK(len == plen + size);
			CHECK(memcmp(data, prefixes[p], plen) == 0);
			CHECK(size == 0 || memcmp(data + plen, msg, size) == 0);
		}
		/* no prefix at all */
		CHECK(spool_view(sp, NULL, 0, &data, &len, &err) == 0);
		CHECK(len == size);
		CHECK(size == 0 || memcmp(data, msg, size) == 0);
		/* the largest prefix fits; one byte more does not */
		char *big = malloc(SPOOL_PREFIX_MAX + 1);
		memset(big, 'p', SPOOL_PREFIX_MAX + 1);
		CHECK(spool_view(sp, big, SPOOL_PREFIX_MAX, &data, &len, &err) == 0);
		CHECK(len == SPOOL_PREFIX_MAX + size);
		CHECK(size == 0 || memcmp(data + SPOOL_PREFIX_MAX, msg, size) == 0);
		CHECK(spool_view(sp, big, SPOOL_PREFIX_MAX + 1, &data, &len, &err) < 0);
		CHECK(err != NULL && err[0] != '\0');
		free(big);
		/* mapped: no more writes */
		CHECK(spool_write(sp, "x", 1, &err) < 0);
		spool_destroy(&sp);
		CHECK(sp == NULL);
		free(msg);
	}
	struct spool *none = NULL;
	spool_destroy(&none); /* NULL-safe */
	dir_check_empty_and_free();
}

/* Several pieces written one after the other (the literals of one MULTIAPPEND), each found
 * again at the offset spool_size() gave before it was written. */
static void test_spool_offsets(void)
{
	dir_new();
	struct spool *sp = NULL;
	const char *err = NULL;
	CHECK(spool_create(test_dir, &sp, &err) == 0);
	if (sp == NULL)
		return;
	size_t sizes[] = {70000, 1, 4096, 0, 123457};
	uint64_t offsets[5];
	unsigned char *pieces[5];
	for (size_t k = 0; k < 5; k++) {
		pieces[k] = malloc(sizes[k] + 1);
		for (size_t i = 0; i < sizes[k]; i++)
			pieces[k][i] = (unsigned char)(i * 31 + k); /* NUL bytes included */
		offsets[k] = spool_size(sp);
		for (size_t pos = 0; pos < sizes[k]; pos += 1000) {
			size_t n = sizes[k] - pos < 1000 ? sizes[k] - pos : 1000;
			CHECK(spool_write(sp, pieces[k] + pos, n, &err) == 0);
		}
	}
	const unsigned char *data;
	size_t len;
	CHECK(spool_map(sp, &err) == 0);
	CHECK(spool_map(sp, &err) == 0); /* once; again is a no-op */
	CHECK(spool_view(sp, NULL, 0, &data, &len, &err) == 0);
	CHECK(len == 70000 + 1 + 4096 + 0 + 123457);
	for (size_t k = 0; k < 5; k++) {
		CHECK(offsets[k] + sizes[k] <= len);
		CHECK(sizes[k] == 0 || memcmp(data + offsets[k], pieces[k], sizes[k]) == 0);
		free(pieces[k]);
	}
	spool_destroy(&sp);
	/* a folder that does not exist: an error, not a crash */
	CHECK(spool_create("/nonexistent/kura-spool", &sp, &err) < 0 && sp == NULL);
	CHECK(err != NULL && strstr(err, "spool") != NULL);
	dir_check_empty_and_free();
}

int main(void)
{
	TEST_RUN(test_spool_views);
	TEST_RUN(test_spool_offsets);
	return test_finish();
}
