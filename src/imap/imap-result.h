/* imap-result.h: writing the answer of SEARCH and SORT as the output drains: "* SEARCH n ..."
 * or "* SORT n ..." (with "(MODSEQ m)" at the end, RFC 7162 3.1.6/3.1.9), or one "* ESEARCH
 * (TAG "t") [UID] [MIN n] [MAX n] [COUNT n] [ALL set] [MODSEQ m]" (RFC 4731, RFC 5267, RFC 9051
 * 7.3.4). The numbers come from a callback in answer order (ascending for SEARCH, sort order
 * for SORT); ALL writes a run of numbers that follow each other upwards as a range, which is
 * all RFC 5267 3.2 allows for ESORT and what RFC 4731 wants for ESEARCH. Never built whole in
 * memory: at most about IMAP_RESULT_CHUNK bytes are held between writes. */
#ifndef KURA_IMAP_RESULT_H
#define KURA_IMAP_RESULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap-command.h"

#define IMAP_RESULT_CHUNK (16 * 1024)

struct imap_result {
	const char *name;  /* "SEARCH" or "SORT": the untagged answer without ESEARCH */
	bool esearch;      /* answer with ESEARCH */
	unsigned ret;      /* IMAP_SEARCH_RET_*: what ESEARCH returns */
	size_t count;      /* numbers in the answer */
	uint32_t (*number)(void *ctx, size_t i); /* the i-th number of the answer */
	void *ctx;
	uint64_t modseq;   /* MODSEQ to report, 0 none */
	/* progress, zero at the start */
	bool head_written;
	size_t pos;
};

/* Write while the output has room: 1 done, 0 paused (call again when it drains), -1 the
 * connection is gone. */
int imap_result_write(struct imap_cmd *cmd, struct imap_result *r);

#endif
