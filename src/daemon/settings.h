/* settings.h: every kura.conf key, its default (the embedded default of DESIGN.md) and its
 * validation. docs/kura.conf.md documents each key; keep the two in step. */
#ifndef KURA_DAEMON_SETTINGS_H
#define KURA_DAEMON_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum plaintext_auth { PLAINTEXT_AUTH_NEVER, PLAINTEXT_AUTH_LOOPBACK, PLAINTEXT_AUTH_ALWAYS };

struct settings {
	char config_path[1024]; /* the file read, or "" for the embedded default */
	char data_dir[1024];
	char imap_listen[256];  /* "host:port" or "" (disabled); STARTTLS port */
	char imaps_listen[256]; /* implicit TLS */
	char pop3_listen[256];  /* "host:port" or "" (disabled); STLS port */
	char pop3s_listen[256]; /* POP3 over implicit TLS */
	char tls_cert[1024];    /* default DATA/tls/cert.pem */
	char tls_key[1024];     /* default DATA/tls/key.pem */
	char hostname[256];
	char user[64];          /* uid of auth and mail processes when started as root */
	char login_user[64];    /* uid of login processes when started as root */
	char chroot_dir[1024];  /* login processes chroot here (default DATA/empty) */
	enum plaintext_auth plaintext_auth;
	unsigned login_processes;
	unsigned mail_processes;
	unsigned mail_open_stores_max; /* per mail process; the rest are parked (store.h) */
	unsigned mail_store_park_idle; /* seconds unused before a store is parked; 0: never */
	unsigned index_idle_ms; /* quiet time before idle-time indexing (store_index_pending); 0: never */
	unsigned auth_workers;
	uint64_t timeout_preauth;  /* seconds */
	uint64_t timeout_idle;     /* seconds, >= 1800 (RFC 9051 5.4) */
	uint64_t max_line;
	uint64_t preauth_literal_max;
	uint64_t append_limit;
	uint64_t auth_fail_delay_ms;
	uint64_t auth_fail_delay_max_ms;
	uint64_t max_connections;  /* per login (and per lmtp) process */
	char lmtp_listen[256];     /* "host:port" or "" (no LMTP over TCP) */
	char lmtp_socket[1024];    /* UNIX socket path or "" (default DATA/lmtp.sock) */
	bool lmtp_socket_set;      /* lmtp_socket was given (an empty value disables it) */
	unsigned lmtp_socket_mode; /* permission bits of the socket */
	char lmtp_socket_group[64]; /* group of the socket (as root), "" = the group of user */
	unsigned lmtp_processes;
	unsigned lmtp_open_stores_max; /* per lmtp process; the rest are parked (store.h) */
	bool lmtp_detail_mailbox;  /* user+detail@ goes to the mailbox "detail" if it exists */
	char recipient_delimiter[16]; /* each byte separates user and detail; "" = none */
	int log_level;             /* enum log_level */
};

/* Fill the embedded defaults. */
void settings_defaults(struct settings *set);
/* Read path over the current values; on error, "path:line: message" in error. */
int settings_load(struct settings *set, const char *path, char *error, size_t error_size);
/* Derive values that depend on others (paths under data_dir) and check consistency. */
int settings_finish(struct settings *set, char *error, size_t error_size);
/* True when kura listens for LMTP at all. */
bool settings_lmtp_enabled(const struct settings *set);
/* Path of a file under data_dir. */
void settings_path(const struct settings *set, const char *name, char *out, size_t out_size);

#endif
