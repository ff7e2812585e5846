/* pop3-cmd-retr.c: RETR and TOP (RFC 1939 7): the message from its body file, byte-stuffed
 * (pop3-body.h), read in chunks while the connection's output is below its high-water mark.
 * Traps: the body file is opened before "+OK" so a message expunged by another session since
 * the snapshot gets a clean -ERR; once open it stays readable to the end even if it is
 * expunged meanwhile; after "+OK" a read error can only end the connection. */
#include "pop3-session-private.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"

#define RETR_CHUNK (16 * 1024)

void pop3_retr_cleanup(struct pop3_session *s)
{
	if (s->body_fd >= 0) {
		close(s->body_fd);
		s->body_fd = -1;
	}
}

static int retr_resume(struct pop3_session *s)
{
	/* one scratch buffer per process: the loop is single-threaded and a chunk is written
	 * to the connection before the next one is read */
	static unsigned char in[RETR_CHUNK];
	static struct buf out = {.max = 2 * RETR_CHUNK + 8};
	while (!conn_output_full(s->conn)) {
		ssize_t r = pread(s->body_fd, in, sizeof(in), (off_t)s->body_off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			log_error("session %s: reading a message body: %s", s->session_id,
				  strerror(errno));
			pop3_retr_cleanup(s);
			/* the +OK went out: a truncated message must not look complete */
			pop3_session_close(s, "read error");
			return 1;
		}
		buf_reset(&out);
		size_t used = pop3_body_encode(&s->body, in, (size_t)r, &out);
		s->body_off += used;
		if (r == 0 || s->body.done)
			pop3_body_finish(&s->body, &out);
		conn_write(s->conn, out.data, out.len);
		if (r == 0 || s->body.done) {
			buf_free(&out);
			pop3_retr_cleanup(s);
			return 1;
		}
	}
	return 0;
}

static int retr_start(struct pop3_session *s, uint32_t n, bool all, uint32_t lines)
{
	const struct pop3_msg *m = &s->md->msgs[n - 1];
	int fd;
	const char *err = "";
	int ret = pop3_maildrop_open_body(s->md, n, &fd, &err);
	if (ret == 0) {
		pop3_err(s, NULL, "Message %u was expunged by another session", n);
		return 1;
	}
	if (ret < 0) {
		log_error("session %s: opening message %u: %s", s->session_id, n, err);
		pop3_err(s, "SYS/TEMP", "Cannot read message %u", n);
		return 1;
	}
	if (all && pop3_maildrop_set_seen(s->md, n, &err) < 0)
		log_error("session %s: cannot set \\Seen: %s", s->session_id, err);
	if (all)
		pop3_ok(s, "%llu octets", (unsigned long long)m->size);
	else
		pop3_ok(s, "Top of message follows");
	s->body_fd = fd;
	s->body_off = 0;
	pop3_body_init(&s->body, all, lines);
	if (retr_resume(s) == 1)
		return 1;
	s->resume = retr_resume;
	return 0;
}

int pop3_cmd_retr(struct pop3_session *s, const struct pop3_cmd_line *cmd)
{
	if (cmd->arg_count != 1 || cmd->args_bad) {
		pop3_bad(s, "RETR needs a message number");
		return 1;
	}
	uint32_t n;
	if (pop3_session_msg_arg(s, cmd->args[0], &n) == NULL)
		return 1;
	return retr_start(s, n, true, 0);
}

int pop3_cmd_top(struct pop3_session *s, const struct pop3_cmd_line *cmd)
{
	uint32_t lines;
	if (cmd->arg_count != 2 || cmd->args_bad ||
	    pop3_parse_number(cmd->args[1], true, &lines) < 0) {
		pop3_bad(s, "TOP needs a message number and a number of lines");
		return 1;
	}
	uint32_t n;
	if (pop3_session_msg_arg(s, cmd->args[0], &n) == NULL)
		return 1;
	return retr_start(s, n, false, lines);
}
