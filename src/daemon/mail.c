/* mail.c: the mail process. Owns the users that hash to it; receives sessions handed over by
 * login processes (the client socket, or a relay socket for TLS) and runs them in the
 * authenticated state. Traps: the pipelined bytes that came with the hand-off are processed
 * before anything new is read; a malformed hand-off drops that login channel, not us. */
#include "roles.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/ipc-proto.h"
#include "daemon/privdrop.h"
#include "imap/imap-session.h"
#include "lib/fdutil.h"
#include "lib/log.h"
#include "lib/xmalloc.h"
#include "net/conn.h"
#include "net/ipc.h"
#include "net/loop.h"
#include "store/store.h"

/* APPEND literals held in memory per command; the rest goes to DATA/spool (see
 * docs/ARCHITECTURE.md): the size of max_line's default, so a connection's worst case stays
 * in the order of its line buffer, while most messages (tens of KiB) cost no file at all. */
#define MAIL_APPEND_MEM_MAX (64 * 1024)

/* One open store per user, shared by all of the user's sessions in this process. */
struct mail_user {
	struct mail_user *next;
	char *name;
	struct store *store;
	unsigned refs;
};

struct mail_session {
	struct mail_proc *mp;
	struct imap_session *session;
	struct mail_session *prev, *next;
	struct mail_user *user;
};

struct mail_peer {
	struct ipc_chan *chan;
	struct mail_peer *prev, *next;
	struct mail_proc *mp;
};

struct mail_proc {
	const struct settings *set;
	unsigned index;
	struct loop *loop;
	struct imap_settings imap_set;
	struct ipc_chan *ctl;
	struct mail_peer *peers;
	struct mail_session *sessions;
	struct mail_user *users;
	char users_root[1100];
	char spool_dir[1100]; /* DATA/spool: APPEND literals too big for memory */
	bool shutting_down;
	int watch_fd; /* inotify on DATA/users/.notify: commits by other processes */
};

static struct mail_user *mail_user_get(struct mail_proc *mp, const char *name)
{
	for (struct mail_user *u = mp->users; u != NULL; u = u->next) {
		if (strcmp(u->name, name) == 0) {
			u->refs++;
			return u;
		}
	}
	struct store *store;
	const char *err;
	if (store_open(mp->users_root, name, &store, &err) < 0) {
		log_error("cannot open the store of %s: %s", name, err);
		return NULL;
	}
	struct mail_user *u = xcalloc(1, sizeof(*u));
	u->name = xstrdup(name);
	u->store = store;
	u->refs = 1;
	u->next = mp->users;
	mp->users = u;
	return u;
}

/* A user's store was committed to (by any process): its sessions here look for changes. */
static void mail_watch_user(void *ctx, const char *name)
{
	struct mail_proc *mp = ctx;
	for (struct mail_user *u = mp->users; u != NULL; u = u->next) {
		if (name == NULL || strcmp(u->name, name) == 0) {
			if (store_refresh(u->store) < 0)
				log_error("cannot refresh the store of %s", u->name);
			if (name != NULL)
				return;
		}
	}
}

static void mail_watch_read(void *ctx, unsigned events)
{
	struct mail_proc *mp = ctx;
	(void)events;
	if (store_watch_read(mp->watch_fd, mail_watch_user, mp) < 0)
		log_error("reading store notifications: %s", strerror(errno));
}

static void mail_user_unref(struct mail_proc *mp, struct mail_user *u)
{
	if (u == NULL || --u->refs > 0)
		return;
	for (struct mail_user **p = &mp->users; *p != NULL; p = &(*p)->next) {
		if (*p == u) {
			*p = u->next;
			break;
		}
	}
	store_close(&u->store);
	free(u->name);
	free(u);
}

static void mail_session_free(void *ctx)
{
	struct mail_session *ms = ctx;
	mail_user_unref(ms->mp, ms->user);
	free(ms);
}

static void mail_session_closed(struct imap_session *s, const char *reason)
{
	struct mail_session *ms = imap_session_owner(s);
	log_info("session %s: %s disconnected: %s", imap_session_id(s), imap_session_user(s),
		 reason);
	if (ms->prev != NULL)
		ms->prev->next = ms->next;
	else
		ms->mp->sessions = ms->next;
	if (ms->next != NULL)
		ms->next->prev = ms->prev;
	imap_session_destroy(&ms->session);
	/* the session frees its view at the end of the batch: close the store after that */
	loop_defer(ms->mp->loop, mail_session_free, ms);
}

static const struct imap_session_hooks mail_hooks = {
	.closed = mail_session_closed,
};

static void mail_handoff(struct mail_proc *mp, struct ipc_reader *r, int fd)
{
	const char *session_id = ipc_get_str(r);
	const char *user = ipc_get_str(r);
	const char *tag = ipc_get_str(r);
	const char *ip = ipc_get_str(r);
	uint32_t tls = ipc_get_u32(r);
	size_t pipelined_len;
	const unsigned char *pipelined = ipc_get_bytes(r, &pipelined_len);
	if (!ipc_reader_done(r) || fd < 0) {
		log_error("malformed hand-off from a login process");
		if (fd >= 0)
			close(fd);
		return;
	}
	if (mp->shutting_down) {
		static const char bye[] = "* BYE Server shutting down\r\n";
		(void)!write(fd, bye, sizeof(bye) - 1);
		close(fd);
		return;
	}
	struct conn_limits limits;
	conn_limits_default(&limits);
	limits.in_max = mp->set->max_line + 16384;
	static const struct conn_callbacks placeholder = {0};
	struct conn *conn = conn_create(mp->loop, fd, &limits, &placeholder, NULL);
	struct buf *in = conn_input(conn);
	if (pipelined_len > 0 && buf_append(in, pipelined, pipelined_len) < 0) {
		log_error("session %s: hand-off carried too much pipelined input", session_id);
		conn_destroy(&conn);
		return;
	}
	struct mail_user *mu = mail_user_get(mp, user);
	if (mu == NULL) {
		conn_printf(conn, "%s NO [SERVERBUG] Cannot open your mail store, try again later\r\n"
				  "* BYE Internal error\r\n", tag);
		conn_flush(conn);
		conn_destroy(&conn);
		return;
	}
	struct mail_session *ms = xcalloc(1, sizeof(*ms));
	ms->mp = mp;
	ms->user = mu;
	struct imap_session_params p = {
		.loop = mp->loop,
		.conn = conn,
		.set = &mp->imap_set,
		.hooks = &mail_hooks,
		.owner = ms,
		.state = IMAP_STATE_AUTH,
		.session_id = session_id,
		.remote_ip = ip,
		.user = user,
		.tls = tls != 0,
		.store = mu->store,
	};
	ms->session = imap_session_create(&p);
	ms->next = mp->sessions;
	if (ms->next != NULL)
		ms->next->prev = ms;
	mp->sessions = ms;
	log_info("session %s: %s logged in from %s (%s)", session_id, user, ip,
		 tls ? "TLS" : "plaintext");
	imap_session_logged_in(ms->session, tag);
}

static void mail_peer_free(struct mail_peer *peer)
{
	struct mail_proc *mp = peer->mp;
	if (peer->prev != NULL)
		peer->prev->next = peer->next;
	else
		mp->peers = peer->next;
	if (peer->next != NULL)
		peer->next->prev = peer->prev;
	ipc_chan_destroy(&peer->chan);
	free(peer);
}

static void mail_peer_msg(void *ctx, struct ipc_chan *chan, uint32_t type, struct ipc_reader *r,
			  int fd)
{
	struct mail_peer *peer = ctx;
	if (type != IPC_HANDOFF) {
		log_error("unexpected message %u from a login process: dropping it", type);
		if (fd >= 0)
			close(fd);
		mail_peer_free(peer);
		return;
	}
	mail_handoff(peer->mp, r, fd);
}

static void mail_peer_closed(void *ctx, struct ipc_chan *chan)
{
	mail_peer_free(ctx);
}

static void mail_ctl_msg(void *ctx, struct ipc_chan *chan, uint32_t type, struct ipc_reader *r,
			 int fd)
{
	struct mail_proc *mp = ctx;
	if (type != IPC_PEER_LOGIN || fd < 0 || !ipc_reader_done(r)) {
		log_error("malformed control message %u from the master", type);
		if (fd >= 0)
			close(fd);
		return;
	}
	struct mail_peer *peer = xcalloc(1, sizeof(*peer));
	peer->mp = mp;
	peer->chan = ipc_chan_create(mp->loop, fd, mail_peer_msg, mail_peer_closed, peer);
	peer->next = mp->peers;
	if (peer->next != NULL)
		peer->next->prev = peer;
	mp->peers = peer;
}

static void mail_ctl_closed(void *ctx, struct ipc_chan *chan)
{
	struct mail_proc *mp = ctx;
	log_error("master went away: exiting");
	ipc_chan_destroy(&mp->ctl);
	loop_stop(mp->loop);
}

static void mail_exit_check(void *ctx)
{
	struct mail_proc *mp = ctx;
	if (mp->sessions == NULL)
		loop_stop(mp->loop);
	else
		loop_timer_add(mp->loop, 20, mail_exit_check, mp);
}

static void mail_deadline(void *ctx)
{
	loop_stop(((struct mail_proc *)ctx)->loop);
}

static void mail_shutdown(void *ctx)
{
	struct mail_proc *mp = ctx;
	if (mp->shutting_down)
		return;
	mp->shutting_down = true;
	/* a BYE can complete at once and free the session: take next first */
	for (struct mail_session *ms = mp->sessions, *next; ms != NULL; ms = next) {
		next = ms->next;
		imap_session_bye(ms->session, "Server shutting down");
	}
	loop_timer_add(mp->loop, 0, mail_exit_check, mp);
	loop_timer_add(mp->loop, 3000, mail_deadline, mp);
}

int mail_main(const struct settings *set, int ctl_fd, unsigned index)
{
	struct mail_proc mp = {.set = set, .index = index};
	char error[512];
	if (privdrop_apply(set->user, NULL, error, sizeof(error)) < 0) {
		log_error("%s", error);
		return 1;
	}
	settings_path(set, "users", mp.users_root, sizeof(mp.users_root));
	settings_path(set, "spool", mp.spool_dir, sizeof(mp.spool_dir));
	if (dir_create(mp.users_root, 0700) < 0 || dir_create(mp.spool_dir, 0700) < 0) {
		log_error("cannot create %s or %s: %s", mp.users_root, mp.spool_dir,
			  strerror(errno));
		return 1;
	}
	mp.imap_set.timeout_preauth_ms = set->timeout_preauth * 1000;
	mp.imap_set.timeout_idle_ms = set->timeout_idle * 1000;
	mp.imap_set.max_line = set->max_line;
	mp.imap_set.preauth_literal_max = set->preauth_literal_max;
	mp.imap_set.literal_max = set->max_line;
	mp.imap_set.append_limit = set->append_limit;
	mp.imap_set.spool_dir = mp.spool_dir;
	mp.imap_set.append_mem_max = MAIL_APPEND_MEM_MAX;
	mp.loop = loop_create();
	const char *werr;
	mp.watch_fd = store_watch_open(mp.users_root, &werr);
	if (mp.watch_fd < 0)
		log_warn("%s: changes by other processes reach sessions only at their next command",
			 werr);
	else
		loop_io_add(mp.loop, mp.watch_fd, LOOP_READ, false, mail_watch_read, &mp);
	mp.ctl = ipc_chan_create(mp.loop, ctl_fd, mail_ctl_msg, mail_ctl_closed, &mp);
	loop_signal_add(mp.loop, SIGTERM, mail_shutdown, &mp);
	loop_signal_add(mp.loop, SIGINT, mail_shutdown, &mp);
	log_info("mail[%u] ready", index);
	loop_run(mp.loop);
	return 0;
}
