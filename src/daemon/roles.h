/* roles.h: the entry points of the process roles (DESIGN.md section 3). The master forks each
 * child with its control socket (ctl_fd) to the master; stderr is a pipe the master reads. */
#ifndef KURA_DAEMON_ROLES_H
#define KURA_DAEMON_ROLES_H

#include "daemon/settings.h"

/* Run the master in the foreground until SIGTERM/SIGINT. Returns the exit status. */
int master_main(const struct settings *set);

/* The listeners a login process accepts on (-1: not configured). */
enum login_listener {
	LOGIN_LISTEN_IMAP,  /* STARTTLS */
	LOGIN_LISTEN_IMAPS, /* implicit TLS */
	LOGIN_LISTEN_POP3,  /* STLS */
	LOGIN_LISTEN_POP3S, /* implicit TLS */
	LOGIN_LISTENER_COUNT
};
struct login_listeners {
	int fd[LOGIN_LISTENER_COUNT];
};

int login_main(const struct settings *set, int ctl_fd, const struct login_listeners *fds,
	       unsigned index);
int auth_main(const struct settings *set, int ctl_fd);
int mail_main(const struct settings *set, int ctl_fd, unsigned index);
/* tcp_fd / unix_fd: the LMTP listeners (either may be -1). */
int lmtp_main(const struct settings *set, int ctl_fd, int tcp_fd, int unix_fd, unsigned index);

/* Which mail process owns a user: a stable hash of the name. */
unsigned mail_index_for_user(const char *user, unsigned mail_processes);

#endif
