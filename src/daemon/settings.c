/* settings.c: the table of configuration keys. Each key has one parser; an unknown key or a bad
 * value is an error naming the line (kura config check). */
#include "settings.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "lib/config.h"
#include "lib/log.h"

enum key_type { KEY_STR, KEY_UINT, KEY_BOOL, KEY_PLAINTEXT, KEY_LOGLEVEL, KEY_LISTEN, KEY_MODE };

struct key_def {
	const char *name;
	enum key_type type;
	size_t offset;
	size_t size;           /* strings: buffer size */
	uint64_t min, max;     /* numbers */
};

#define STR(field, t) {#field, t, offsetof(struct settings, field), sizeof(((struct settings *)0)->field), 0, 0}
#define NUM(field, lo, hi) {#field, KEY_UINT, offsetof(struct settings, field), sizeof(((struct settings *)0)->field), lo, hi}

static const struct key_def settings_keys[] = {
	STR(data_dir, KEY_STR),
	STR(imap_listen, KEY_LISTEN),
	STR(imaps_listen, KEY_LISTEN),
	STR(pop3_listen, KEY_LISTEN),
	STR(pop3s_listen, KEY_LISTEN),
	STR(tls_cert, KEY_STR),
	STR(tls_key, KEY_STR),
	STR(hostname, KEY_STR),
	STR(user, KEY_STR),
	STR(login_user, KEY_STR),
	STR(chroot_dir, KEY_STR),
	{"plaintext_auth", KEY_PLAINTEXT, offsetof(struct settings, plaintext_auth), 0, 0, 0},
	NUM(login_processes, 1, 64),
	NUM(mail_processes, 1, 256),
	NUM(mail_open_stores_max, 1, 1000000),
	NUM(mail_store_park_idle, 0, 86400),
	NUM(index_idle_ms, 0, 3600000),
	NUM(auth_workers, 1, 64),
	NUM(timeout_preauth, 1, 3600),
	NUM(timeout_idle, 1800, 86400),
	NUM(max_line, 1024, 16 * 1024 * 1024),
	NUM(preauth_literal_max, 256, 1024 * 1024),
	NUM(append_limit, 1024, (uint64_t)4 * 1024 * 1024 * 1024),
	NUM(auth_fail_delay_ms, 0, 60000),
	NUM(auth_fail_delay_max_ms, 0, 600000),
	NUM(max_connections, 1, 1000000),
	{"log_level", KEY_LOGLEVEL, offsetof(struct settings, log_level), 0, 0, 0},
	STR(lmtp_listen, KEY_LISTEN),
	STR(lmtp_socket, KEY_STR),
	{"lmtp_socket_mode", KEY_MODE, offsetof(struct settings, lmtp_socket_mode), 0, 0, 0777},
	STR(lmtp_socket_group, KEY_STR),
	NUM(lmtp_processes, 1, 64),
	NUM(lmtp_open_stores_max, 1, 1000000),
	{"lmtp_detail_mailbox", KEY_BOOL, offsetof(struct settings, lmtp_detail_mailbox), 0, 0, 0},
	STR(recipient_delimiter, KEY_STR),
};

void settings_defaults(struct settings *set)
{
	memset(set, 0, sizeof(*set));
	snprintf(set->data_dir, sizeof(set->data_dir), "./kura-data");
	snprintf(set->imap_listen, sizeof(set->imap_listen), "127.0.0.1:1143");
	snprintf(set->imaps_listen, sizeof(set->imaps_listen), "127.0.0.1:1993");
	snprintf(set->pop3_listen, sizeof(set->pop3_listen), "127.0.0.1:1110");
	snprintf(set->pop3s_listen, sizeof(set->pop3s_listen), "127.0.0.1:1995");
	snprintf(set->user, sizeof(set->user), "kura");
	snprintf(set->login_user, sizeof(set->login_user), "nobody");
	set->plaintext_auth = PLAINTEXT_AUTH_NEVER;
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	set->login_processes = cores > 0 && cores < 64 ? (unsigned)cores : 2;
	set->mail_processes = set->login_processes;
	set->mail_open_stores_max = 500;
	set->mail_store_park_idle = 60;
	set->index_idle_ms = 200;
	set->auth_workers = 2;
	set->timeout_preauth = 60;
	set->timeout_idle = 1800;
	set->max_line = 65536;
	set->preauth_literal_max = 8192;
	set->append_limit = 64 * 1024 * 1024;
	set->auth_fail_delay_ms = 500;
	set->auth_fail_delay_max_ms = 15000;
	set->max_connections = 25000;
	set->log_level = LOG_INFO;
	snprintf(set->lmtp_listen, sizeof(set->lmtp_listen), "127.0.0.1:2424");
	set->lmtp_socket_mode = 0660;
	set->lmtp_processes = set->login_processes;
	set->lmtp_open_stores_max = 256;
	set->lmtp_detail_mailbox = true;
	snprintf(set->recipient_delimiter, sizeof(set->recipient_delimiter), "+");
}

static int parse_uint(const char *value, uint64_t *v_r)
{
	if (*value < '0' || *value > '9')
		return -1;
	errno = 0;
	char *end;
	unsigned long long v = strtoull(value, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*v_r = v;
	return 0;
}

static int listen_valid(const char *value)
{
	if (*value == '\0')
		return 0;
	const char *colon = strrchr(value, ':');
	if (colon == NULL || colon == value)
		return -1;
	uint64_t port;
	if (parse_uint(colon + 1, &port) < 0 || port == 0 || port > 65535)
		return -1;
	return 0;
}

static int settings_pair(void *ctx, const char *key, const char *value, const char **error_r)
{
	struct settings *set = ctx;
	static char err[160];
	for (size_t i = 0; i < sizeof(settings_keys) / sizeof(settings_keys[0]); i++) {
		const struct key_def *k = &settings_keys[i];
		if (strcmp(k->name, key) != 0)
			continue;
		char *field = (char *)set + k->offset;
		switch (k->type) {
		case KEY_LISTEN:
			if (listen_valid(value) < 0) {
				*error_r = "expected host:port (port 1-65535) or an empty value";
				return -1;
			}
			/* fall through */
		case KEY_STR:
			if (strlen(value) >= k->size) {
				*error_r = "value too long";
				return -1;
			}
			memcpy(field, value, strlen(value) + 1);
			if (strcmp(key, "lmtp_socket") == 0)
				set->lmtp_socket_set = true;
			return 0;
		case KEY_MODE: {
			/* octal permission bits, as chmod takes them */
			char *end;
			errno = 0;
			unsigned long v = strtoul(value, &end, 8);
			if (*value < '0' || *value > '7' || *end != '\0' || errno != 0 || v > k->max) {
				*error_r = "expected octal permission bits such as 0660";
				return -1;
			}
			*(unsigned *)field = (unsigned)v;
			return 0;
		}
		case KEY_UINT: {
			uint64_t v;
			if (parse_uint(value, &v) < 0 || v < k->min || v > k->max) {
				snprintf(err, sizeof(err), "%s must be a number from %llu to %llu", key,
					 (unsigned long long)k->min, (unsigned long long)k->max);
				*error_r = err;
				return -1;
			}
			if (k->size == sizeof(unsigned))
				*(unsigned *)field = (unsigned)v;
			else
				*(uint64_t *)field = v;
			return 0;
		}
		case KEY_BOOL:
			if (strcmp(value, "yes") == 0)
				*(bool *)field = true;
			else if (strcmp(value, "no") == 0)
				*(bool *)field = false;
			else {
				snprintf(err, sizeof(err), "%s must be yes or no", key);
				*error_r = err;
				return -1;
			}
			return 0;
		case KEY_PLAINTEXT:
			if (strcmp(value, "never") == 0)
				set->plaintext_auth = PLAINTEXT_AUTH_NEVER;
			else if (strcmp(value, "loopback") == 0)
				set->plaintext_auth = PLAINTEXT_AUTH_LOOPBACK;
			else if (strcmp(value, "always") == 0)
				set->plaintext_auth = PLAINTEXT_AUTH_ALWAYS;
			else {
				*error_r = "plaintext_auth must be never, loopback or always";
				return -1;
			}
			return 0;
		case KEY_LOGLEVEL:
			if (strcmp(value, "debug") == 0)
				set->log_level = LOG_DEBUG;
			else if (strcmp(value, "info") == 0)
				set->log_level = LOG_INFO;
			else if (strcmp(value, "warning") == 0)
				set->log_level = LOG_WARN;
			else if (strcmp(value, "error") == 0)
				set->log_level = LOG_ERROR;
			else {
				*error_r = "log_level must be debug, info, warning or error";
				return -1;
			}
			return 0;
		}
	}
	snprintf(err, sizeof(err), "unknown key '%.100s'", key);
	*error_r = err;
	return -1;
}

int settings_load(struct settings *set, const char *path, char *error, size_t error_size)
{
	snprintf(set->config_path, sizeof(set->config_path), "%s", path);
	return config_parse_file(path, settings_pair, set, error, error_size);
}

void settings_path(const struct settings *set, const char *name, char *out, size_t out_size)
{
	int n = snprintf(out, out_size, "%s/%s", set->data_dir, name);
	if (n < 0 || (size_t)n >= out_size)
		out[0] = '\0'; /* data_dir is limited far below any caller's buffer */
}

bool settings_lmtp_enabled(const struct settings *set)
{
	return set->lmtp_listen[0] != '\0' || set->lmtp_socket[0] != '\0';
}

int settings_finish(struct settings *set, char *error, size_t error_size)
{
	if (set->data_dir[0] == '\0') {
		snprintf(error, error_size, "data_dir must not be empty");
		return -1;
	}
	if (set->tls_cert[0] == '\0')
		settings_path(set, "tls/cert.pem", set->tls_cert, sizeof(set->tls_cert));
	if (set->tls_key[0] == '\0')
		settings_path(set, "tls/key.pem", set->tls_key, sizeof(set->tls_key));
	if (set->chroot_dir[0] == '\0')
		settings_path(set, "empty", set->chroot_dir, sizeof(set->chroot_dir));
	if (set->hostname[0] == '\0') {
		if (gethostname(set->hostname, sizeof(set->hostname) - 1) < 0 ||
		    set->hostname[0] == '\0')
			snprintf(set->hostname, sizeof(set->hostname), "localhost");
	}
	if (set->imap_listen[0] == '\0' && set->imaps_listen[0] == '\0' &&
	    set->pop3_listen[0] == '\0' && set->pop3s_listen[0] == '\0') {
		snprintf(error, error_size,
			 "no listener: set imap_listen, imaps_listen, pop3_listen or pop3s_listen");
		return -1;
	}
	/* sockaddr_un.sun_path holds 108 bytes with the NUL. The default DATA/lmtp.sock under a
	 * long data_dir is left off (the master says so) rather than refusing to start a
	 * configuration that never asked for it. */
	if (!set->lmtp_socket_set && set->lmtp_socket[0] == '\0') {
		settings_path(set, "lmtp.sock", set->lmtp_socket, sizeof(set->lmtp_socket));
		if (strlen(set->lmtp_socket) >= 108)
			set->lmtp_socket[0] = '\0';
	}
	if (strlen(set->lmtp_socket) >= 108) {
		snprintf(error, error_size, "lmtp_socket path is too long for a UNIX socket "
			 "(at most 107 bytes): %s", set->lmtp_socket);
		return -1;
	}
	for (const char *d = set->recipient_delimiter; *d != '\0'; d++) {
		if (*d == '@' || (unsigned char)*d <= ' ' || (unsigned char)*d >= 0x7f) {
			snprintf(error, error_size,
				 "recipient_delimiter must be printable ASCII characters other than '@'");
			return -1;
		}
	}
	if (set->auth_fail_delay_max_ms < set->auth_fail_delay_ms) {
		snprintf(error, error_size, "auth_fail_delay_max_ms is below auth_fail_delay_ms");
		return -1;
	}
	return 0;
}
