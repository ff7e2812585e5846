/* log.h: one-line log records on stderr.
 *
 * Every record is one line: "<UTC time> <role>[<pid>]: <level>: <message>". Children of the
 * master write to a pipe the master reads (it collects and forwards their lines), so a record is
 * written with a single write() of at most LOG_LINE_MAX bytes, which keeps lines whole. Control
 * characters in messages are replaced, so client-supplied text cannot forge log lines. */
#ifndef KURA_LIB_LOG_H
#define KURA_LIB_LOG_H

#define LOG_LINE_MAX 1024

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* role: "master", "login", "auth", "mail", "cli"; copied. */
void log_set_role(const char *role);
void log_set_level(enum log_level level);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
