/* log.c: formatting of log records; see log.h for the line format and why one write(). */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char log_role[32] = "kura";
static enum log_level log_min = LOG_INFO;

void log_set_role(const char *role)
{
	snprintf(log_role, sizeof(log_role), "%s", role);
}

void log_set_level(enum log_level level)
{
	log_min = level;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	static const char *const names[] = {"debug", "info", "warning", "error"};
	if (level < log_min)
		return;
	char line[LOG_LINE_MAX];
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	int n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s[%ld]: %s: ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			 tm.tm_sec, ts.tv_nsec / 1000000, log_role, (long)getpid(), names[level]);
	if (n < 0)
		return;
	size_t pos = (size_t)n;
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(line + pos, sizeof(line) - pos - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		return;
	size_t end = pos + (size_t)m;
	if (end > sizeof(line) - 2)
		end = sizeof(line) - 2;
	for (size_t i = pos; i < end; i++) {
		unsigned char c = (unsigned char)line[i];
		if (c < 0x20 || c == 0x7f)
			line[i] = '?';
	}
	line[end++] = '\n';
	(void)!write(STDERR_FILENO, line, end);
}
