/* spool.h: bytes too big for memory (a message being delivered over LMTP or `kura deliver`,
 * the literals of an IMAP APPEND), kept in an unlinked temporary file and then shown as one
 * contiguous byte range: an optional caller-supplied prefix (LMTP's per-recipient trace
 * header) followed by the file's bytes. A 64 MB message costs a file, not 64 MB of RAM.
 *
 * The view is built without copying: the file is mapped right after an anonymous page-aligned
 * region, and the prefix is written at the end of that region, so prefix and file bytes are
 * adjacent in memory. The mapped pages are the page cache's (clean, reclaimable file pages,
 * RssFile), not the process's anonymous memory; without a prefix the anonymous region is
 * never touched. The file lives only as long as its fd (O_TMPFILE, or a name unlinked at once
 * where the filesystem lacks it), so a crash or a dropped connection leaves nothing behind; it
 * is never fsynced, since whoever keeps the bytes (the store) writes and syncs its own copy.
 *
 * Return convention: 0 success, -1 failure with *error_r (a static per-thread message with
 * strerror, valid until the next failing call). */
#ifndef KURA_LIB_SPOOL_H
#define KURA_LIB_SPOOL_H

#include <stddef.h>
#include <stdint.h>

/* Room for the prefix in front of the mapped file; a longer prefix is an error. */
#define SPOOL_PREFIX_MAX 8192

struct spool;

/* A new empty spool file in dir (which must exist). */
int spool_create(const char *dir, struct spool **spool_r, const char **error_r);
/* Close and free (unmapping first); NULL-safe, clears *spool. */
void spool_destroy(struct spool **spool);

/* Append bytes (written at once: callers write in chunks as they arrive). Not after
 * spool_map. spool_size() is the number of bytes written so far. */
int spool_write(struct spool *spool, const void *data, size_t size, const char **error_r);
uint64_t spool_size(const struct spool *spool);

/* Map the file for the views below (once; later writes are refused). */
int spool_map(struct spool *spool, const char **error_r);
/* prefix (may be NULL when prefix_len is 0) + the file's bytes as one range, mapping first if
 * needed; valid until the next view or destroy. */
int spool_view(struct spool *spool, const void *prefix, size_t prefix_len,
	       const unsigned char **data_r, size_t *size_r, const char **error_r);

#endif
