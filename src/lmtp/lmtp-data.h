/* lmtp-data.h: the DATA decoder: message bytes as they arrive after "354", into the bytes to
 * store. A resumable state machine over arbitrary chunks (one byte at a time or megabytes); it
 * holds no buffer of its own, so a message of any size costs a few bytes of state.
 *
 * Rules (RFC 5321 4.1.1.4 and 4.5.2), with only CRLF counting as a line end:
 *  - the data ends with the line "." : the bytes CRLF "." CRLF, where the first CRLF belongs to
 *    the message (so an empty message is just ".\r\n" right after the 354);
 *  - a line that starts with "." and has more on it loses that first "." (dot-unstuffing);
 *  - a bare LF (not after CR) neither ends the data nor starts a line for unstuffing: "\n.\n",
 *    "\n.\r\n" and "\r\n.\n" are message content, so nothing can be smuggled past the end of
 *    the data (the 2023 "SMTP smuggling" class); in the stored message a bare LF becomes CRLF
 *    (IMAP serves messages with CRLF line ends, RFC 9051 2.3.1);
 *  - a bare CR is kept as it is (RFC 5322 forbids it, but turning it into a line end could
 *    split a header the sender never split).
 * In raw mode (`kura deliver` reading a pipe) there are no dots and no end marker: the input
 * ends at EOF, and only the LF-to-CRLF conversion applies (MTAs pipe messages with LF).
 *
 * Return convention of lmtp_data_decode: 1 the end of the data was found (*consumed_r counts
 * the input up to and including the final CRLF; what follows is the next command), 0 more input
 * is needed (all input consumed, or the output buffer is full: call again). */
#ifndef KURA_LMTP_DATA_H
#define KURA_LMTP_DATA_H

#include <stdbool.h>
#include <stddef.h>

struct lmtp_data {
	int state;
	bool raw;
};

/* Start decoding at the start of a line. raw: no dot rules, no end marker. */
void lmtp_data_init(struct lmtp_data *d, bool raw);

/* Decode input into out. Each input byte yields at most 2 output bytes; the decoder stops when
 * fewer than 2 bytes of out are left (out_size must be >= 2). */
int lmtp_data_decode(struct lmtp_data *d, const unsigned char *in, size_t in_len,
		     size_t *consumed_r, unsigned char *out, size_t out_size, size_t *out_len_r);

/* Raw mode at EOF: write a pending bare CR (at most 1 byte into out). Returns the byte count. */
size_t lmtp_data_finish(struct lmtp_data *d, unsigned char *out);

#endif
