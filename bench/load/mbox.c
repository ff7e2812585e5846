/* mbox.c: loading an mbox into CRLF messages. Traps: "From " only separates at the start of the
 * file or after a blank line (mboxo files may contain unquoted "From " inside bodies after
 * non-blank lines; a writer such as bench/mbox-gen quotes them anyway), and the last line of a
 * file may lack its newline. */
#include "mbox.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap-resp.h"
#include "lib/xmalloc.h"
#include "rng.h"

static unsigned char *mbox_read_file(const char *path, size_t *len_r, const char **error_r)
{
	static char err[512];
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		snprintf(err, sizeof(err), "cannot open %s: %s", path, strerror(errno));
		*error_r = err;
		return NULL;
	}
	size_t alloc = 1 << 20, len = 0;
	unsigned char *data = xmalloc(alloc);
	for (;;) {
		if (len == alloc) {
			if (size_mul(alloc, 2, &alloc) < 0)
				xabort("mbox too large");
			data = xrealloc(data, alloc);
		}
		size_t n = fread(data + len, 1, alloc - len, f);
		len += n;
		if (n == 0)
			break;
	}
	bool failed = ferror(f) != 0;
	fclose(f);
	if (failed) {
		snprintf(err, sizeof(err), "reading %s failed", path);
		*error_r = err;
		free(data);
		return NULL;
	}
	*len_r = len;
	return data;
}

static void mbox_add(struct mbox *m, size_t *alloc, size_t start, size_t len)
{
	if (m->count == *alloc) {
		*alloc = *alloc ? *alloc * 2 : 256;
		m->msgs = xrealloc(m->msgs, *alloc * sizeof(*m->msgs));
	}
	/* data pointers are set once the store stops moving */
	m->msgs[m->count].data = (const unsigned char *)(uintptr_t)start;
	m->msgs[m->count].len = len;
	m->count++;
}

static void mbox_finish(struct mbox *m)
{
	for (size_t i = 0; i < m->count; i++) {
		m->msgs[i].data = m->store + (uintptr_t)m->msgs[i].data;
		m->msgs[i].hash = imap_resp_hash(IMAP_RESP_HASH_INIT, m->msgs[i].data, m->msgs[i].len);
	}
}

static bool mbox_is_from_line(const unsigned char *p, size_t n)
{
	return n >= 5 && memcmp(p, "From ", 5) == 0;
}

int mbox_load(struct mbox *m, const char *path, size_t max_size, size_t *skipped_r,
	      const char **error_r)
{
	size_t len;
	unsigned char *in = mbox_read_file(path, &len, error_r);
	size_t alloc = 0;

	memset(m, 0, sizeof(*m));
	*skipped_r = 0;
	if (in == NULL)
		return -1;
	/* CRLF output is at most twice the input */
	size_t out_max;
	if (size_mul(len, 2, &out_max) < 0)
		xabort("mbox too large");
	m->store = xmalloc(out_max + 1);
	size_t out = 0, msg_start = 0;
	bool in_msg = false, prev_blank = true;
	size_t pos = 0;
	while (pos < len) {
		const unsigned char *nl = memchr(in + pos, '\n', len - pos);
		size_t line_end = nl != NULL ? (size_t)(nl - in) : len;
		size_t next = nl != NULL ? line_end + 1 : len;
		size_t content_end = line_end;
		if (content_end > pos && in[content_end - 1] == '\r')
			content_end--;
		const unsigned char *line = in + pos;
		size_t n = content_end - pos;
		if (prev_blank && mbox_is_from_line(line, n)) {
			if (in_msg) {
				/* drop the blank separator line (already written as CRLF) */
				size_t mlen = out - msg_start;
				if (mlen >= 2)
					mlen -= 2;
				if (mlen > 0 && mlen <= max_size)
					mbox_add(m, &alloc, msg_start, mlen);
				else if (mlen > max_size)
					(*skipped_r)++;
			}
			in_msg = true;
			msg_start = out;
			prev_blank = false;
			pos = next;
			continue;
		}
		if (in_msg) {
			/* mboxrd: ">From ", ">>From " ... lose one '>' */
			size_t q = 0;
			while (q < n && line[q] == '>')
				q++;
			if (q > 0 && mbox_is_from_line(line + q, n - q)) {
				line++;
				n--;
			}
			memcpy(m->store + out, line, n);
			out += n;
			m->store[out++] = '\r';
			m->store[out++] = '\n';
		}
		prev_blank = n == 0;
		pos = next;
	}
	if (in_msg) {
		size_t mlen = out - msg_start;
		if (prev_blank && mlen >= 2)
			mlen -= 2;
		if (mlen > 0 && mlen <= max_size)
			mbox_add(m, &alloc, msg_start, mlen);
		else if (mlen > max_size)
			(*skipped_r)++;
	}
	free(in);
	m->bytes = out;
	mbox_finish(m);
	if (m->count == 0) {
		*error_r = "the mbox holds no usable message (no \"From \" line, or all too large)";
		mbox_free(m);
		return -1;
	}
	return 0;
}

void mbox_synthetic(struct mbox *m, unsigned count, uint64_t seed)
{
	static const char *const words[] = {"mail", "server", "load", "test", "kura", "message",
					    "inbox", "flag", "body", "header", "quick", "brown"};
	size_t alloc = 0, cap = (size_t)count * 6000 + 1;
	memset(m, 0, sizeof(*m));
	m->store = xmalloc(cap);
	size_t out = 0;
	for (unsigned i = 0; i < count; i++) {
		size_t start = out;
		int n = snprintf((char *)m->store + out, cap - out,
				 "From: Sender %u <sender%u@example.org>\r\n"
				 "To: Bench <bench@example.org>\r\n"
				 "Subject: synthetic message %u\r\n"
				 "Date: Mon, 2 Nov 2026 10:%02u:%02u +0000\r\n"
				 "Message-ID: <synthetic.%u.%llu@kura-load>\r\n"
				 "MIME-Version: 1.0\r\n"
				 "Content-Type: text/plain; charset=us-ascii\r\n\r\n",
				 i % 50, i % 50, i, (i / 60) % 60, i % 60, i,
				 (unsigned long long)seed);
		out += (size_t)n;
		unsigned lines = 10 + rng_below(&seed, 40);
		for (unsigned l = 0; l < lines; l++) {
			for (unsigned w = 0; w < 10; w++) {
				const char *word = words[rng_below(&seed, 12)];
				size_t wl = strlen(word);
				memcpy(m->store + out, word, wl);
				out += wl;
				m->store[out++] = w == 9 ? '\r' : ' ';
			}
			m->store[out++] = '\n';
		}
		mbox_add(m, &alloc, start, out - start);
	}
	m->bytes = out;
	mbox_finish(m);
}

void mbox_free(struct mbox *m)
{
	free(m->msgs);
	free(m->store);
	memset(m, 0, sizeof(*m));
}
