/* config.c: line parser for kura.conf. Knows nothing of the keys; see daemon/settings.c. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static char *config_trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
		s[--n] = '\0';
	return s;
}

int config_parse_file(const char *path, config_pair_cb *cb, void *ctx, char *error,
		      size_t error_size)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		snprintf(error, error_size, "%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	char line[CONFIG_LINE_MAX + 2];
	unsigned lineno = 0;
	int ret = 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		size_t len = strlen(line);
		if (len == sizeof(line) - 1 && line[len - 1] != '\n') {
			snprintf(error, error_size, "%s:%u: line too long", path, lineno);
			ret = -1;
			break;
		}
		if (memchr(line, '\0', len) != NULL && strlen(line) != len) {
			snprintf(error, error_size, "%s:%u: NUL byte in line", path, lineno);
			ret = -1;
			break;
		}
		char *s = config_trim(line);
		if (*s == '\0' || *s == '#')
			continue;
		char *eq = strchr(s, '=');
		if (eq == NULL) {
			snprintf(error, error_size, "%s:%u: expected 'key = value'", path, lineno);
			ret = -1;
			break;
		}
		*eq = '\0';
		char *key = config_trim(s);
		char *value = config_trim(eq + 1);
		if (*key == '\0') {
			snprintf(error, error_size, "%s:%u: missing key before '='", path, lineno);
			ret = -1;
			break;
		}
		if (*value == '"') {
			char *end = strrchr(value + 1, '"');
			if (end == NULL) {
				snprintf(error, error_size, "%s:%u: missing closing quote", path, lineno);
				ret = -1;
				break;
			}
			char *rest = config_trim(end + 1);
			if (*rest != '\0' && *rest != '#') {
				snprintf(error, error_size, "%s:%u: text after closing quote", path,
					 lineno);
				ret = -1;
				break;
			}
			*end = '\0';
			value++;
		} else {
			/* comment after whitespace */
			for (char *p = value; *p != '\0'; p++) {
				if (*p == '#' && (p == value || p[-1] == ' ' || p[-1] == '\t')) {
					*p = '\0';
					value = config_trim(value);
					break;
				}
			}
		}
		const char *err = NULL;
		if (cb(ctx, key, value, &err) < 0) {
			snprintf(error, error_size, "%s:%u: %s", path, lineno,
				 err != NULL ? err : "invalid value");
			ret = -1;
			break;
		}
	}
	if (ret == 0 && ferror(f)) {
		snprintf(error, error_size, "%s: read error", path);
		ret = -1;
	}
	fclose(f);
	return ret;
}
