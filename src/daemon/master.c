/* master.c: binds the listeners, starts and supervises the children, brokers their sockets,
 * forwards their logs. It parses no network input and touches no mail. Traps: children are
 * forked (not exec'd), so each closes every inherited fd it does not need and unblocks the
 * signals the master routes through signalfd; a child dying mid-start is retried with
 * backoff so a persistent failure does not spin. */
#include "roles.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/ipc-proto.h"
#include "daemon/privdrop.h"
#include "lib/buf.h"
#include "lib/fdutil.h"
#include "lib/log.h"
#include "lib/xmalloc.h"
#include "net/ipc.h"
#include "net/listen.h"
#include "net/loop.h"
#include "net/tls.h"

enum role { ROLE_AUTH, ROLE_MAIL, ROLE_LOGIN, ROLE_LMTP };
static const char *const role_names[] = {"auth", "mail", "login", "lmtp"};

struct child {
	enum role role;
	unsigned index;
	pid_t pid;
	int ctl_fd;
	int log_fd;
	struct loop_io *log_io;
	struct buf logbuf;
	uint64_t started;
	unsigned quick_deaths;
	struct loop_timer *restart_timer;
	struct master *master;
};

struct master {
	const struct settings *set;
	struct loop *loop;
	struct login_listeners login_fds;
	int lmtp_fd, lmtp_unix_fd;
	struct child *children;
	size_t child_count;
	bool shutting_down;
	struct loop_timer *kill_timer;
};

static void master_spawn(struct master *m, struct child *c);

unsigned mail_index_for_user(const char *user, unsigned mail_processes)
{
	/* FNV-1a: stable across processes and versions */
	uint32_t h = 2166136261u;
	for (const unsigned char *p = (const unsigned char *)user; *p != '\0'; p++) {
		h ^= *p;
		h *= 16777619u;
	}
	return mail_processes > 0 ? h % mail_processes : 0;
}

/* --- log forwarding --- */

static void master_log_flush(struct child *c, bool all)
{
	size_t start = 0;
	for (size_t i = 0; i < c->logbuf.len; i++) {
		if (c->logbuf.data[i] == '\n') {
			(void)!write(STDERR_FILENO, c->logbuf.data + start, i + 1 - start);
			start = i + 1;
		}
	}
	if (all && start < c->logbuf.len) {
		(void)!write(STDERR_FILENO, c->logbuf.data + start, c->logbuf.len - start);
		(void)!write(STDERR_FILENO, "\n", 1);
		start = c->logbuf.len;
	}
	buf_consume(&c->logbuf, start);
	if (c->logbuf.len >= LOG_LINE_MAX) {
		/* an overlong line: pass it on as is */
		(void)!write(STDERR_FILENO, c->logbuf.data, c->logbuf.len);
		(void)!write(STDERR_FILENO, "\n", 1);
		buf_reset(&c->logbuf);
	}
	if (c->logbuf.len == 0)
		buf_release(&c->logbuf);
}

static void master_log_close(struct child *c)
{
	if (c->log_io != NULL)
		loop_io_remove(&c->log_io);
	if (c->log_fd >= 0) {
		close(c->log_fd);
		c->log_fd = -1;
	}
	master_log_flush(c, true);
}

static void master_log_read(void *ctx, unsigned events)
{
	struct child *c = ctx;
	char tmp[4096];
	for (;;) {
		size_t room = c->logbuf.max - c->logbuf.len;
		ssize_t n = read(c->log_fd, tmp, room < sizeof(tmp) ? room : sizeof(tmp));
		if (n > 0) {
			buf_append(&c->logbuf, tmp, (size_t)n);
			master_log_flush(c, false);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		master_log_close(c);
		return;
	}
}

/* --- brokering sockets between children --- */

static bool child_running(const struct child *c)
{
	return c->pid > 0 && c->ctl_fd >= 0;
}

static void master_send(struct child *c, const struct buf *msg, int fd)
{
	if (!child_running(c) || ipc_send_blocking(c->ctl_fd, msg, fd) < 0)
		log_warn("cannot reach %s[%u]: %s", role_names[c->role], c->index, strerror(errno));
}

/* Connect a login (or lmtp) child with an auth or mail child through a new socketpair. */
static void master_pair(struct child *login, struct child *other)
{
	if (!child_running(login) || !child_running(other))
		return;
	if (login->role == ROLE_LMTP && other->role != ROLE_AUTH)
		return; /* lmtp talks to auth only; mail processes hear of deliveries via the store */
	int sp[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
		log_error("socketpair: %s", strerror(errno));
		return;
	}
	struct buf msg;
	if (other->role == ROLE_AUTH) {
		ipc_msg_init(&msg, IPC_PEER_AUTH);
	} else {
		ipc_msg_init(&msg, IPC_PEER_MAIL);
		ipc_put_u32(&msg, other->index);
	}
	master_send(login, &msg, sp[0]);
	buf_free(&msg);
	ipc_msg_init(&msg, login->role == ROLE_LMTP ? IPC_PEER_LMTP : IPC_PEER_LOGIN);
	master_send(other, &msg, sp[1]);
	buf_free(&msg);
	close(sp[0]);
	close(sp[1]);
}

static void master_broker(struct master *m, struct child *c)
{
	for (size_t i = 0; i < m->child_count; i++) {
		struct child *o = &m->children[i];
		if (o == c)
			continue;
		bool c_client = c->role == ROLE_LOGIN || c->role == ROLE_LMTP;
		bool o_client = o->role == ROLE_LOGIN || o->role == ROLE_LMTP;
		if (c_client && !o_client)
			master_pair(c, o);
		else if (!c_client && o_client)
			master_pair(o, c);
	}
}

/* --- children --- */

static void close_other_fds(const int *keep, size_t nkeep)
{
	DIR *d = opendir("/proc/self/fd");
	if (d == NULL)
		return;
	int dfd = dirfd(d);
	int fds[4096];
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL && n < sizeof(fds) / sizeof(fds[0])) {
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		long fd = strtol(e->d_name, NULL, 10);
		if (fd <= 2 || fd == dfd)
			continue;
		bool k = false;
		for (size_t i = 0; i < nkeep; i++)
			k = k || keep[i] == fd;
		if (!k)
			fds[n++] = (int)fd;
	}
	closedir(d);
	for (size_t i = 0; i < n; i++)
		close(fds[i]);
}

static void child_exec_role(struct master *m, struct child *c, int ctl_fd)
{
	sigset_t all;
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	signal(SIGPIPE, SIG_IGN);
	char name[32];
	snprintf(name, sizeof(name), "kura-%s", role_names[c->role]);
	privdrop_set_name(name);
	log_set_role(role_names[c->role]);
	int ret;
	switch (c->role) {
	case ROLE_AUTH: {
		int keep[] = {ctl_fd};
		close_other_fds(keep, 1);
		ret = auth_main(m->set, ctl_fd);
		break;
	}
	case ROLE_MAIL: {
		int keep[] = {ctl_fd};
		close_other_fds(keep, 1);
		ret = mail_main(m->set, ctl_fd, c->index);
		break;
	}
	case ROLE_LMTP: {
		int keep[] = {ctl_fd, m->lmtp_fd, m->lmtp_unix_fd};
		close_other_fds(keep, 3);
		ret = lmtp_main(m->set, ctl_fd, m->lmtp_fd, m->lmtp_unix_fd, c->index);
		break;
	}
	default: {
		int keep[1 + LOGIN_LISTENER_COUNT] = {ctl_fd};
		for (int i = 0; i < LOGIN_LISTENER_COUNT; i++)
			keep[1 + i] = m->login_fds.fd[i];
		close_other_fds(keep, 1 + LOGIN_LISTENER_COUNT);
		ret = login_main(m->set, ctl_fd, &m->login_fds, c->index);
		break;
	}
	}
	_exit(ret);
}

static void master_spawn(struct master *m, struct child *c)
{
	int sp[2], lp[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
		log_error("socketpair: %s", strerror(errno));
		return;
	}
	if (pipe2(lp, O_CLOEXEC) < 0) {
		log_error("pipe: %s", strerror(errno));
		close(sp[0]);
		close(sp[1]);
		return;
	}
	pid_t pid = fork();
	if (pid < 0) {
		log_error("fork: %s", strerror(errno));
		close(sp[0]);
		close(sp[1]);
		close(lp[0]);
		close(lp[1]);
		return;
	}
	if (pid == 0) {
		dup2(lp[1], STDERR_FILENO);
		child_exec_role(m, c, sp[1]);
	}
	close(sp[1]);
	close(lp[1]);
	c->pid = pid;
	c->ctl_fd = sp[0];
	c->log_fd = lp[0];
	fd_set_nonblock(c->log_fd);
	buf_init(&c->logbuf, LOG_LINE_MAX * 4);
	c->log_io = loop_io_add(m->loop, c->log_fd, LOOP_READ, false, master_log_read, c);
	c->started = loop_now(m->loop);
	log_info("started %s[%u] pid %ld", role_names[c->role], c->index, (long)pid);
	master_broker(m, c);
}

static void master_restart_cb(void *ctx)
{
	struct child *c = ctx;
	c->restart_timer = NULL;
	if (!c->master->shutting_down)
		master_spawn(c->master, c);
}

static bool master_all_exited(struct master *m)
{
	for (size_t i = 0; i < m->child_count; i++)
		if (m->children[i].pid > 0)
			return false;
	return true;
}

static void master_child_exited(struct master *m, struct child *c, int status)
{
	if (WIFSIGNALED(status))
		log_warn("%s[%u] pid %ld killed by signal %d (%s)", role_names[c->role], c->index,
			 (long)c->pid, WTERMSIG(status), strsignal(WTERMSIG(status)));
	else if (WEXITSTATUS(status) != 0 || !m->shutting_down)
		log_warn("%s[%u] pid %ld exited with status %d", role_names[c->role], c->index,
			 (long)c->pid, WEXITSTATUS(status));
	else
		log_info("%s[%u] pid %ld exited", role_names[c->role], c->index, (long)c->pid);
	master_log_read(c, LOOP_READ);
	master_log_close(c);
	close(c->ctl_fd);
	c->ctl_fd = -1;
	c->pid = 0;
	if (m->shutting_down) {
		if (master_all_exited(m)) {
			log_info("all processes stopped; shutdown complete");
			loop_stop(m->loop);
		}
		return;
	}
	/* back off only if it keeps dying right after start */
	uint64_t lived = loop_now(m->loop) - c->started;
	c->quick_deaths = lived < 5000 ? c->quick_deaths + 1 : 0;
	uint64_t delay = c->quick_deaths == 0 ? 100 : 100u << (c->quick_deaths > 7 ? 7 : c->quick_deaths);
	log_info("restarting %s[%u] in %llu ms", role_names[c->role], c->index,
		 (unsigned long long)delay);
	c->restart_timer = loop_timer_add(m->loop, delay, master_restart_cb, c);
}

static void master_sigchld(void *ctx)
{
	struct master *m = ctx;
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (size_t i = 0; i < m->child_count; i++) {
			if (m->children[i].pid == pid) {
				master_child_exited(m, &m->children[i], status);
				break;
			}
		}
	}
}

static void master_kill_timeout(void *ctx)
{
	struct master *m = ctx;
	m->kill_timer = NULL;
	for (size_t i = 0; i < m->child_count; i++) {
		if (m->children[i].pid > 0) {
			log_warn("%s[%u] did not stop in time: SIGKILL", role_names[m->children[i].role],
				 m->children[i].index);
			kill(m->children[i].pid, SIGKILL);
		}
	}
}

static void master_shutdown(void *ctx)
{
	struct master *m = ctx;
	if (m->shutting_down)
		return;
	m->shutting_down = true;
	log_info("shutting down");
	for (size_t i = 0; i < m->child_count; i++) {
		struct child *c = &m->children[i];
		loop_timer_remove(&c->restart_timer);
		if (c->pid > 0)
			kill(c->pid, SIGTERM);
	}
	if (master_all_exited(m))
		loop_stop(m->loop);
	else
		m->kill_timer = loop_timer_add(m->loop, 10000, master_kill_timeout, m);
}

static void master_sighup(void *ctx)
{
	log_info("SIGHUP ignored: restart kura to apply a changed configuration");
}

/* Prepare data_dir, the chroot folder and the TLS certificate; fix ownership when root. */
static int master_prepare(const struct settings *set, uid_t uid, gid_t gid, bool root)
{
	char path[1100], error[512];
	if (dir_create(set->data_dir, 0750) < 0) {
		log_error("cannot create %s: %s", set->data_dir, strerror(errno));
		return -1;
	}
	if (root && chown(set->data_dir, uid, gid) < 0)
		log_warn("chown %s: %s", set->data_dir, strerror(errno));
	if (dir_create(set->chroot_dir, 0755) < 0) {
		log_error("cannot create %s: %s", set->chroot_dir, strerror(errno));
		return -1;
	}
	if (root) {
		/* the chroot must not be writable by the login user */
		if (chown(set->chroot_dir, 0, 0) < 0 || chmod(set->chroot_dir, 0555) < 0)
			log_warn("securing %s: %s", set->chroot_dir, strerror(errno));
		static const char *const owned[] = {"users.db", "users.db-wal", "users.db-shm"};
		for (size_t i = 0; i < 3; i++) {
			settings_path(set, owned[i], path, sizeof(path));
			if (chown(path, uid, gid) < 0 && errno != ENOENT)
				log_warn("chown %s: %s", path, strerror(errno));
		}
	}
	snprintf(path, sizeof(path), "%s", set->tls_cert);
	char *slash = strrchr(path, '/');
	if (slash != NULL) {
		*slash = '\0';
		if (dir_create(path, 0755) < 0) {
			log_error("cannot create %s: %s", path, strerror(errno));
			return -1;
		}
	}
	bool existed = access(set->tls_cert, F_OK) == 0;
	const char *err = NULL;
	if (tls_cert_ensure(set->tls_cert, set->tls_key, set->hostname, &err) < 0) {
		log_error("TLS certificate: %s", err != NULL ? err : "failed");
		return -1;
	}
	if (!existed)
		log_info("generated a self-signed certificate for %s in %s", set->hostname,
			 set->tls_cert);
	(void)error;
	/* the spool for messages being delivered (LMTP, kura deliver) and APPENDed (the mail
	 * processes): unlinked temporary files */
	settings_path(set, "spool", path, sizeof(path));
	if (dir_create(path, 0700) < 0) {
		log_error("cannot create %s: %s", path, strerror(errno));
		return -1;
	}
	if (root && chown(path, uid, gid) < 0)
		log_warn("chown %s: %s", path, strerror(errno));
	return 0;
}

/* The LMTP listeners: TCP, and the UNIX socket owned by user (or lmtp_socket_group). */
static int master_lmtp_listen(struct master *m, uid_t uid, gid_t gid, bool root)
{
	const struct settings *set = m->set;
	char error[512];
	if (set->lmtp_listen[0] != '\0') {
		m->lmtp_fd = listen_open(set->lmtp_listen, error, sizeof(error));
		if (m->lmtp_fd < 0) {
			log_error("cannot listen for LMTP on %s", error);
			return -1;
		}
	}
	if (set->lmtp_socket[0] != '\0') {
		m->lmtp_unix_fd = listen_open_unix(set->lmtp_socket, set->lmtp_socket_mode, error,
						   sizeof(error));
		if (m->lmtp_unix_fd < 0) {
			log_error("cannot listen for LMTP on %s", error);
			return -1;
		}
		if (root) {
			gid_t sgid = gid;
			if (set->lmtp_socket_group[0] != '\0' &&
			    privdrop_lookup_group(set->lmtp_socket_group, &sgid, error,
						  sizeof(error)) < 0) {
				log_error("%s", error);
				return -1;
			}
			if (chown(set->lmtp_socket, uid, sgid) < 0)
				log_warn("chown %s: %s", set->lmtp_socket, strerror(errno));
		}
	}
	return 0;
}

int master_main(const struct settings *set)
{
	struct master m = {.set = set, .lmtp_fd = -1, .lmtp_unix_fd = -1};
	for (int i = 0; i < LOGIN_LISTENER_COUNT; i++)
		m.login_fds.fd[i] = -1;
	char error[512];
	log_set_role("master");
	log_set_level((enum log_level)set->log_level);
	bool root = privdrop_is_root();
	uid_t uid = getuid(), luid;
	gid_t gid = getgid(), lgid;
	if (root) {
		if (privdrop_lookup(set->user, &uid, &gid, error, sizeof(error)) < 0 ||
		    privdrop_lookup(set->login_user, &luid, &lgid, error, sizeof(error)) < 0) {
			log_error("%s", error);
			return 1;
		}
	}
	if (master_prepare(set, uid, gid, root) < 0)
		return 1;
	const struct {
		const char *addr, *what;
	} listeners[LOGIN_LISTENER_COUNT] = {
		[LOGIN_LISTEN_IMAP] = {set->imap_listen, "IMAP"},
		[LOGIN_LISTEN_IMAPS] = {set->imaps_listen, "IMAPS"},
		[LOGIN_LISTEN_POP3] = {set->pop3_listen, "POP3"},
		[LOGIN_LISTEN_POP3S] = {set->pop3s_listen, "POP3S"},
	};
	for (int i = 0; i < LOGIN_LISTENER_COUNT; i++) {
		if (listeners[i].addr[0] == '\0')
			continue;
		m.login_fds.fd[i] = listen_open(listeners[i].addr, error, sizeof(error));
		if (m.login_fds.fd[i] < 0) {
			log_error("cannot listen for %s on %s", listeners[i].what, error);
			return 1;
		}
	}
	if (settings_lmtp_enabled(set) && master_lmtp_listen(&m, uid, gid, root) < 0)
		return 1;
	if (!set->lmtp_socket_set && set->lmtp_socket[0] == '\0')
		log_warn("no LMTP UNIX socket: %s/lmtp.sock would be longer than a socket path may "
			 "be (107 bytes); set lmtp_socket to a shorter path", set->data_dir);
	if (root)
		log_info("started as root: login processes run as %s chrooted in %s, auth and mail as %s",
			 set->login_user, set->chroot_dir, set->user);
	else
		log_info("started as uid %ld (not root): all processes run as this user, without chroot; "
			 "start as root for full privilege separation", (long)getuid());

	m.loop = loop_create();
	signal(SIGPIPE, SIG_IGN);
	loop_signal_add(m.loop, SIGCHLD, master_sigchld, &m);
	loop_signal_add(m.loop, SIGTERM, master_shutdown, &m);
	loop_signal_add(m.loop, SIGINT, master_shutdown, &m);
	loop_signal_add(m.loop, SIGHUP, master_sighup, &m);

	unsigned lmtp_count = settings_lmtp_enabled(set) ? set->lmtp_processes : 0;
	m.child_count = 1 + set->mail_processes + set->login_processes + lmtp_count;
	m.children = xcalloc(m.child_count, sizeof(*m.children));
	size_t k = 0;
	m.children[k++] = (struct child){.role = ROLE_AUTH};
	for (unsigned i = 0; i < set->mail_processes; i++)
		m.children[k++] = (struct child){.role = ROLE_MAIL, .index = i};
	for (unsigned i = 0; i < set->login_processes; i++)
		m.children[k++] = (struct child){.role = ROLE_LOGIN, .index = i};
	for (unsigned i = 0; i < lmtp_count; i++)
		m.children[k++] = (struct child){.role = ROLE_LMTP, .index = i};
	for (size_t i = 0; i < m.child_count; i++) {
		m.children[i].ctl_fd = -1;
		m.children[i].log_fd = -1;
		m.children[i].master = &m;
	}
	for (size_t i = 0; i < m.child_count; i++)
		master_spawn(&m, &m.children[i]);

	log_info("kura ready: IMAP (STARTTLS) on %s, IMAPS on %s, data in %s",
		 set->imap_listen[0] ? set->imap_listen : "(off)",
		 set->imaps_listen[0] ? set->imaps_listen : "(off)", set->data_dir);
	if (set->pop3_listen[0] || set->pop3s_listen[0])
		log_info("POP3 (STLS) on %s, POP3S on %s",
			 set->pop3_listen[0] ? set->pop3_listen : "(off)",
			 set->pop3s_listen[0] ? set->pop3s_listen : "(off)");
	if (lmtp_count > 0)
		log_info("LMTP on %s%s%s", set->lmtp_listen[0] ? set->lmtp_listen : "",
			 set->lmtp_listen[0] && set->lmtp_socket[0] ? " and " : "",
			 set->lmtp_socket);
	log_info("add a user: kura%s%s user add NAME; connect: curl --insecure imaps://%s/ -u NAME -X CAPABILITY",
		 set->config_path[0] ? " -c " : "", set->config_path,
		 set->imaps_listen[0] ? set->imaps_listen : set->imap_listen);
	loop_run(m.loop);

	loop_timer_remove(&m.kill_timer);
	for (size_t i = 0; i < m.child_count; i++) {
		loop_timer_remove(&m.children[i].restart_timer);
		master_log_close(&m.children[i]);
		buf_free(&m.children[i].logbuf);
	}
	free(m.children);
	loop_destroy(&m.loop);
	for (int i = 0; i < LOGIN_LISTENER_COUNT; i++) {
		if (m.login_fds.fd[i] >= 0)
			close(m.login_fds.fd[i]);
	}
	if (m.lmtp_fd >= 0)
		close(m.lmtp_fd);
	if (m.lmtp_unix_fd >= 0) {
		close(m.lmtp_unix_fd);
		unlink(set->lmtp_socket);
	}
	return 0;
}
