/* spool.c: the spool file and its prefixed mapping (see spool.h). Traps: mmap needs
 * page-aligned file offsets, so the prefix goes at the end of an anonymous region placed
 * right before the file mapping (MAP_FIXED inside one reservation, so nothing else can land in
 * between); an empty file has no file mapping at all. */
#include "lib/spool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lib/fdutil.h"
#include "lib/xmalloc.h"

struct spool {
	int fd;
	uint64_t size;
	bool mapped;
	unsigned char *base; /* the reservation: prefix region + file mapping */
	size_t base_len;
	size_t prefix_room;  /* page-aligned */
};

static __thread char spool_errbuf[256];

static int spool_fail(const char **error_r, const char *what, int err)
{
	snprintf(spool_errbuf, sizeof(spool_errbuf), "%s: %s", what, strerror(err));
	*error_r = spool_errbuf;
	return -1;
}

int spool_create(const char *dir, struct spool **spool_r, const char **error_r)
{
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
		/* no O_TMPFILE on this filesystem: a unique name, unlinked at once */
		char path[1200];
		int n = snprintf(path, sizeof(path), "%s/.spool.XXXXXX", dir);
		if (n < 0 || (size_t)n >= sizeof(path))
			return spool_fail(error_r, "spool folder name too long", ENAMETOOLONG);
		fd = mkostemp(path, O_CLOEXEC);
		if (fd >= 0)
			unlink(path);
	}
	if (fd < 0)
		return spool_fail(error_r, "cannot create a spool file", errno);
	struct spool *s = xcalloc(1, sizeof(*s));
	s->fd = fd;
	*spool_r = s;
	return 0;
}

static void spool_unmap(struct spool *s)
{
	if (s->base != NULL)
		munmap(s->base, s->base_len);
	s->base = NULL;
	s->base_len = 0;
}

void spool_destroy(struct spool **sp)
{
	struct spool *s = *sp;
	if (s == NULL)
		return;
	*sp = NULL;
	spool_unmap(s);
	close(s->fd);
	free(s);
}

int spool_write(struct spool *s, const void *data, size_t size, const char **error_r)
{
	if (s->mapped)
		return spool_fail(error_r, "spool already mapped", EINVAL);
	if (fd_write_all(s->fd, data, size) < 0)
		return spool_fail(error_r, "cannot write the spool file", errno);
	s->size += size;
	return 0;
}

uint64_t spool_size(const struct spool *s)
{
	return s->size;
}

int spool_map(struct spool *s, const char **error_r)
{
	if (s->mapped)
		return 0;
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t file_len;
	if (s->size > SIZE_MAX - 2 * page - SPOOL_PREFIX_MAX)
		return spool_fail(error_r, "spool file too big to map", EFBIG);
	file_len = ((size_t)s->size + page - 1) / page * page;
	s->prefix_room = (SPOOL_PREFIX_MAX + page - 1) / page * page;
	s->base_len = s->prefix_room + file_len;
	void *base = mmap(NULL, s->base_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			  -1, 0);
	if (base == MAP_FAILED)
		return spool_fail(error_r, "cannot reserve address space for the spool file", errno);
	s->base = base;
	if (s->size > 0 && mmap(s->base + s->prefix_room, (size_t)s->size, PROT_READ,
				MAP_SHARED | MAP_FIXED, s->fd, 0) == MAP_FAILED) {
		int e = errno;
		spool_unmap(s);
		return spool_fail(error_r, "cannot map the spool file", e);
	}
	s->mapped = true;
	return 0;
}

int spool_view(struct spool *s, const void *prefix, size_t prefix_len,
	       const unsigned char **data_r, size_t *size_r, const char **error_r)
{
	if (!s->mapped && spool_map(s, error_r) < 0)
		return -1;
	if (prefix_len > SPOOL_PREFIX_MAX)
		return spool_fail(error_r, "spool prefix too long", E2BIG);
	unsigned char *start = s->base + s->prefix_room - prefix_len;
	if (prefix_len > 0)
		memcpy(start, prefix, prefix_len);
	*data_r = start;
	*size_r = prefix_len + (size_t)s->size;
	return 0;
}
