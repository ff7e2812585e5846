/* config.h: the kura.conf file format, independent of which keys exist.
 *
 * A file is lines of "key = value". '#' starts a comment (at the start of a line or after
 * whitespace); blank lines are ignored; whitespace around key and value is trimmed; a value may
 * be wrapped in double quotes to keep leading/trailing spaces or a '#'. Lines are at most
 * CONFIG_LINE_MAX bytes. The callback validates each key/value; an error stops the parse and is
 * reported as "FILE:LINE: message". */
#ifndef KURA_LIB_CONFIG_H
#define KURA_LIB_CONFIG_H

#include <stddef.h>

#define CONFIG_LINE_MAX 4096

/* Return 0 to go on, -1 with *error_r set (static or ctx-owned string) to stop. */
typedef int config_pair_cb(void *ctx, const char *key, const char *value, const char **error_r);

/* Parse path; on error write "path:line: message" into error (size error_size) and return -1. */
int config_parse_file(const char *path, config_pair_cb *cb, void *ctx, char *error,
		      size_t error_size);

#endif
