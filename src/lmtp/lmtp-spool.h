/* lmtp-spool.h: a message being delivered, kept in an unlinked temporary file (never in
 * memory: a 64 MB message costs a file, not 64 MB of RAM per connection) and then shown to
 * the store as one contiguous byte range: a per-recipient header prefix followed by the file's
 * bytes.
 *
 * The view is built without copying the message: the file is mapped right after an anonymous
 * page-aligned region, and the prefix is written at the end of that region, so prefix and
 * message are adjacent in memory. The mapped pages are the page cache's (clean, reclaimable
 * file pages), not the process's anonymous memory. The file lives only as long as its fd
 * (O_TMPFILE, or a name unlinked at once where the filesystem lacks it), so a crash leaves
 * nothing behind; it is never fsynced, since the store writes and syncs its own copy.
 *
 * Return convention: 0 success, -1 failure with *error_r (a static message, with strerror). */
#ifndef KURA_LMTP_SPOOL_H
#define KURA_LMTP_SPOOL_H

#include <stddef.h>
#include <stdint.h>

/* Room for the prefix in front of the mapped message; a longer prefix is an error. */
#define LMTP_SPOOL_PREFIX_MAX 8192

struct lmtp_spool;

/* A new empty spool file in dir (which must exist). */
int lmtp_spool_create(const char *dir, struct lmtp_spool **spool_r, const char **error_r);
/* Close and free (unmapping first); NULL-safe, clears *spool. */
void lmtp_spool_destroy(struct lmtp_spool **spool);

/* Append bytes (written at once: the caller decodes in chunks). Not after lmtp_spool_map. */
int lmtp_spool_write(struct lmtp_spool *spool, const void *data, size_t size,
		     const char **error_r);
uint64_t lmtp_spool_size(const struct lmtp_spool *spool);

/* Map the file for the views below (once; later writes are refused). */
int lmtp_spool_map(struct lmtp_spool *spool, const char **error_r);
/* prefix + message as one range, valid until the next view or unmap/destroy. */
int lmtp_spool_view(struct lmtp_spool *spool, const void *prefix, size_t prefix_len,
		    const unsigned char **data_r, size_t *size_r, const char **error_r);

#endif
