/* mbox.h: the messages APPEND and fill send, loaded once before the workers fork (the pages
 * are then shared copy-on-write between them).
 *
 * mbox_load() reads an mbox file (mboxrd or mboxo: "From " separator lines, ">From " quoting
 * undone one level), turns line ends into CRLF as IMAP requires, and drops the blank line that
 * separates messages. mbox_synthetic() makes small plain-text messages when no file is given.
 * Every message carries the FNV-1a hash of its bytes, which FETCH BODY[] is compared with. */
#ifndef KURA_LOAD_MBOX_H
#define KURA_LOAD_MBOX_H

#include <stddef.h>
#include <stdint.h>

struct mbox_msg {
	const unsigned char *data;
	size_t len;
	uint64_t hash;
};

struct mbox {
	struct mbox_msg *msgs;
	size_t count;
	unsigned char *store;  /* all messages, back to back */
	size_t bytes;
};

/* 0, or -1 with *error_r (static or allocated once; the process exits after). Messages larger
 * than max_size are skipped (counted in *skipped_r). */
int mbox_load(struct mbox *m, const char *path, size_t max_size, size_t *skipped_r,
	      const char **error_r);
void mbox_synthetic(struct mbox *m, unsigned count, uint64_t seed);
void mbox_free(struct mbox *m);

#endif
