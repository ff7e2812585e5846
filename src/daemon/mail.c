/* mail.c: the mail process. Owns the users that hash to it; receives sessions handed over by
 * login processes (the client socket, or a relay socket for TLS) and runs them in the
 * authenticated state (IMAP) or the TRANSACTION state (POP3). Traps: the pipelined bytes that came with the hand-off are processed
 * before anything new is read; a malformed hand-off drops that login channel, not us. */
#include "roles.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "daemon/ipc-proto.h"
#include "daemon/privdrop.h"
#include "imap/imap-session.h"
#include "lib/fdutil.h"
#include "lib/hash.h"
#include "lib/log.h"
#include "lib/xmalloc.h"
#include "net/conn.h"
#include "pop3/pop3-session.h"
#include "net/ipc.h"
#include "net/loop.h"
#include "store/store.h"

/* APPEND literals held in memory per command; the rest goes to DATA/spool (see
 * docs/ARCHITECTURE.md): the size of max_line's default, so a connection's worst case stays
 * in the order of its line buffer, while most messages (tens of KiB) cost no file at all. */
#define MAIL_APPEND_MEM_MAX (64 * 1024)

/* Idle-time indexing (store.h, store_index_pending): appends leave the search index behind.
 * A user whose store was committed to (by a session here, or by another process: the
 * listener hears both) is queued; once index_idle_ms passed without another commit
 * (a client appending 10,000 messages is not slowed down while it appends), a 0 ms timer
 * indexes MAIL_INDEX_BODIES of its bodies per loop turn, users taking turns, until none is
 * left, so the other connections' events are served in between. A search that comes first
 * indexes what it needs itself. */
#define MAIL_INDEX_BODIES 8

struct mail_proc;

/* One open store per user, shared by all of the user's sessions in this process. */
struct mail_user {
	struct hash_node node; /* keyed by name, in mail_proc.users */
	char *name;
	struct store *store;
	unsigned refs;
	struct mail_proc *mp;
	struct store_listener listener; /* any commit: queue for indexing */
	bool index_queued;
	uint64_t index_after;           /* loop_now() from which the indexer may run */
	struct mail_user *index_prev, *index_next;
	struct loop_timer *unlink_timer; /* store_unlink_pending at the next loop turn */
	ssize_t unlink_left;             /* what the last slice left queued */
};

struct mail_session {
	struct mail_proc *mp;
	struct imap_session *session; /* IMAP */
	struct pop3_session *pop3;    /* POP3 */
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
	struct pop3_settings pop3_set;
	struct ipc_chan *ctl;
	struct mail_peer *peers;
	struct mail_session *sessions;
	struct hash_table users; /* of struct mail_user: tens of thousands in a big install */
	char users_root[1100];
	char spool_dir[1100]; /* DATA/spool: APPEND literals too big for memory */
	bool shutting_down;
	int watch_fd; /* inotify on DATA/users/.notify: commits by other processes */
	/* at most set->mail_open_stores_max stores open, the rest parked (store.h) */
	struct store_pool *stores;
	/* fd budget: a new session needs its own fd and maybe a store's; refused beyond */
	unsigned session_count;
	unsigned fd_base;  /* fds open when ready (listeners, inotify, control channel) */
	unsigned fd_limit; /* RLIMIT_NOFILE */
	/* users queued for idle-time indexing, in turn order */
	struct mail_user *index_head, *index_tail;
	struct loop_timer *index_timer;
	struct store_syncer *syncer; /* the sessions' commits (imap_settings.syncer) */
	struct loop_io *syncer_io;
};

/* fds one open store holds: ROOT/USER, bodies/, store.lock, store.db, -wal, -shm */
#define MAIL_STORE_FDS 6
/* kept free for what the estimate does not count: body fds of running FETCHes, a reopen
 * beyond the limit while every open store is busy, login channels, SQLite temp files */
#define MAIL_FD_SLACK 64

static void mail_index_run(void *ctx);

static void mail_index_arm(struct mail_proc *mp, uint64_t msecs)
{
	if (mp->index_timer != NULL)
		loop_timer_remove(&mp->index_timer);
	mp->index_timer = loop_timer_add(mp->loop, msecs, mail_index_run, mp);
}

static void mail_index_dequeue(struct mail_user *u)
{
	struct mail_proc *mp = u->mp;
	if (!u->index_queued)
		return;
	if (u->index_prev != NULL)
		u->index_prev->index_next = u->index_next;
	else
		mp->index_head = u->index_next;
	if (u->index_next != NULL)
		u->index_next->index_prev = u->index_prev;
	else
		mp->index_tail = u->index_prev;
	u->index_prev = u->index_next = NULL;
	u->index_queued = false;
}

static void mail_index_enqueue(struct mail_user *u)
{
	struct mail_proc *mp = u->mp;
	if (mp->set->index_idle_ms == 0)
		return; /* searches index what they need */
	u->index_after = loop_now(mp->loop) + mp->set->index_idle_ms;
	if (u->index_queued)
		return;
	u->index_queued = true;
	u->index_prev = mp->index_tail;
	u->index_next = NULL;
	if (mp->index_tail != NULL)
		mp->index_tail->index_next = u;
	else
		mp->index_head = u;
	mp->index_tail = u;
	if (mp->index_timer == NULL)
		mail_index_arm(mp, mp->set->index_idle_ms);
}

/* One turn: index a few bodies of the first user that has been quiet long enough. */
static void mail_index_run(void *ctx)
{
	struct mail_proc *mp = ctx;
	mp->index_timer = NULL;
	uint64_t now = loop_now(mp->loop);
	struct mail_user *u = mp->index_head;
	while (u != NULL && u->index_after > now)
		u = u->index_next;
	if (u != NULL) {
		const char *err;
		int r = store_index_pending(u->store, MAIL_INDEX_BODIES, &err);
		if (r < 0)
			log_error("indexing the store of %s: %s", u->name, err);
		mail_index_dequeue(u);
		if (r >= MAIL_INDEX_BODIES) {
			/* more may wait: its next turn after the other users' */
			uint64_t after = u->index_after;
			mail_index_enqueue(u);
			u->index_after = after;
		}
	}
	if (mp->index_head == NULL)
		return;
	uint64_t wait = UINT64_MAX;
	for (struct mail_user *v = mp->index_head; v != NULL; v = v->index_next) {
		uint64_t w = v->index_after > now ? v->index_after - now : 0;
		if (w < wait)
			wait = w;
	}
	/* at least 1 ms: a timer due now would run again in this pass, before any I/O */
	mail_index_arm(mp, wait < 1 ? 1 : wait);
}

static void mail_user_changed(void *ctx, uint64_t mailbox_id)
{
	(void)mailbox_id;
	mail_index_enqueue(ctx);
}

/* Bodies dropped by an expunge are unlinked after the tagged reply went out, a slice per loop
 * turn (each slice holds the store's write lock), so other sessions are served in between. */
#define MAIL_UNLINK_SLICE 1024

static void mail_unlink_run(void *ctx)
{
	struct mail_user *u = ctx;
	u->unlink_timer = NULL;
	ssize_t left = store_unlink_pending(u->store, MAIL_UNLINK_SLICE);
	/* no progress (a sliced SEARCH holds a statement) or an error: again a little later */
	uint64_t delay = left < 0 || left == u->unlink_left ? 100 : 0;
	u->unlink_left = left;
	if (left != 0)
		u->unlink_timer = loop_timer_add(u->mp->loop, delay, mail_unlink_run, u);
}

static void mail_unlink_queued(void *ctx)
{
	struct mail_user *u = ctx;
	/* a 0 ms timer runs after the next epoll_wait: the reply is written by then */
	if (u->unlink_timer == NULL)
		u->unlink_timer = loop_timer_add(u->mp->loop, 0, mail_unlink_run, u);
}

static struct mail_user *mail_user_get(struct mail_proc *mp, const char *name)
{
	struct hash_node *n = hash_find(&mp->users, name);
	if (n != NULL) {
		struct mail_user *u = (struct mail_user *)n;
		u->refs++;
		return u;
	}
	struct store *store;
	const char *err;
	store_pool_reserve(mp->stores, NULL); /* the limit holds while it opens too */
	int r = store_open(mp->users_root, name, &store, &err);
	if (r < 0 && (errno == EMFILE || errno == ENFILE) && store_pool_shed(mp->stores, NULL) > 0)
		r = store_open(mp->users_root, name, &store, &err); /* out of fds: park one, again */
	if (r < 0) {
		log_error("cannot open the store of %s: %s", name, err);
		return NULL;
	}
	store_pool_add(mp->stores, store); /* parks the least recently used beyond the limit */
	struct mail_user *u = xcalloc(1, sizeof(*u));
	u->name = xstrdup(name);
	u->store = store;
	u->refs = 1;
	u->mp = mp;
	store_set_unlink_hook(store, mail_unlink_queued, u);
	u->node.key = u->name;
	hash_insert(&mp->users, &u->node);
	u->listener = (struct store_listener){.changed = mail_user_changed, .ctx = u};
	store_listener_add(store, &u->listener);
	/* deliveries while it had no session here, or a store migrated from schema 4 */
	mail_index_enqueue(u);
	return u;
}

/* A user's store was committed to (by any process): its sessions here look for changes. */
static void mail_watch_user(void *ctx, const char *name)
{
	struct mail_proc *mp = ctx;
	if (name != NULL) {
		struct mail_user *u = (struct mail_user *)hash_find(&mp->users, name);
		if (u != NULL && store_refresh(u->store) < 0)
			log_error("cannot refresh the store of %s", u->name);
		return;
	}
	/* the queue overflowed: every user may have changed */
	size_t iter;
	for (struct hash_node *n = hash_first(&mp->users, &iter); n != NULL;
	     n = hash_next(&mp->users, n, &iter)) {
		struct mail_user *u = (struct mail_user *)n;
		if (store_refresh(u->store) < 0)
			log_error("cannot refresh the store of %s", u->name);
	}
}

static void mail_watch_read(void *ctx, unsigned events)
{
	struct mail_proc *mp = ctx;
	(void)events;
	if (store_watch_read(mp->watch_fd, mail_watch_user, mp) < 0)
		log_error("reading store notifications: %s", strerror(errno));
}

/* Would one more session (and maybe one more open store) still leave MAIL_FD_SLACK fds? */
static bool mail_fds_available(struct mail_proc *mp)
{
	struct rlimit rl; /* read again: an operator may change it with prlimit(1) */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		mp->fd_limit = rl.rlim_cur > 1000000000 ? 1000000000u : (unsigned)rl.rlim_cur;
	unsigned open, parked;
	store_pool_counts(mp->stores, &open, &parked);
	if (open < mp->set->mail_open_stores_max)
		open++;
	uint64_t need = (uint64_t)mp->fd_base + mp->session_count + 1 +
			(uint64_t)open * MAIL_STORE_FDS + MAIL_FD_SLACK;
	return need <= mp->fd_limit;
}

static void mail_park_idle(void *ctx)
{
	struct mail_proc *mp = ctx;
	unsigned parked = store_pool_park_idle(mp->stores, mp->set->mail_store_park_idle);
	if (parked > 0) {
		unsigned open, still;
		malloc_trim(0); /* as after shrinking (mail_shrink_idle) */
		store_pool_counts(mp->stores, &open, &still);
		log_debug("parked %u idle stores (%u open, %u parked)", parked, open, still);
	}
	unsigned period = mp->set->mail_store_park_idle / 4;
	loop_timer_add(mp->loop, (uint64_t)(period < 1 ? 1 : period > 15 ? 15 : period) * 1000,
		       mail_park_idle, mp);
}

/* An open store unused this long gives its memory back (store_pool_shrink_idle): an IMAP
 * client in IDLE, or between a phone's polls, leaves its store like that for minutes. */
#define MAIL_STORE_SHRINK_SECS 5

static void mail_shrink_idle(void *ctx)
{
	struct mail_proc *mp = ctx;
	unsigned shrunk = store_pool_shrink_idle(mp->stores, MAIL_STORE_SHRINK_SECS);
	/* free() keeps what it can reuse; hand the pages of those caches back to the system */
	if (shrunk > 0) {
		malloc_trim(0);
		log_debug("shrank %u idle stores", shrunk);
	}
	loop_timer_add(mp->loop, MAIL_STORE_SHRINK_SECS * 1000, mail_shrink_idle, mp);
}

static void mail_user_unref(struct mail_proc *mp, struct mail_user *u)
{
	if (u == NULL || --u->refs > 0)
		return;
	hash_remove(&mp->users, &u->node);
	mail_index_dequeue(u);
	store_listener_remove(u->store, &u->listener);
	loop_timer_remove(&u->unlink_timer);
	store_close(&u->store); /* unlinks what is still queued */
	free(u->name);
	free(u);
}

static void mail_session_free(void *ctx)
{
	struct mail_session *ms = ctx;
	ms->mp->session_count--;
	mail_user_unref(ms->mp, ms->user);
	free(ms);
}

static void mail_session_end(struct mail_session *ms, const char *id, const char *reason)
{
	log_info("session %s: %s disconnected: %s", id, ms->user->name, reason);
	if (ms->prev != NULL)
		ms->prev->next = ms->next;
	else
		ms->mp->sessions = ms->next;
	if (ms->next != NULL)
		ms->next->prev = ms->prev;
	imap_session_destroy(&ms->session);
	pop3_session_destroy(&ms->pop3);
	/* the session frees its view at the end of the batch: close the store after that */
	loop_defer(ms->mp->loop, mail_session_free, ms);
}

static void mail_session_closed(struct imap_session *s, const char *reason)
{
	mail_session_end(imap_session_owner(s), imap_session_id(s), reason);
}

static void mail_pop3_closed(struct pop3_session *s, const char *reason)
{
	mail_session_end(pop3_session_owner(s), pop3_session_id(s), reason);
}

static const struct imap_session_hooks mail_hooks = {
	.closed = mail_session_closed,
};

static const struct pop3_session_hooks mail_pop3_hooks = {
	.closed = mail_pop3_closed,
};

static void mail_session_link(struct mail_proc *mp, struct mail_session *ms)
{
	mp->session_count++;
	ms->next = mp->sessions;
	if (ms->next != NULL)
		ms->next->prev = ms;
	mp->sessions = ms;
}

static void mail_handoff(struct mail_proc *mp, struct ipc_reader *r, int fd)
{
	const char *session_id = ipc_get_str(r);
	const char *user = ipc_get_str(r);
	const char *tag = ipc_get_str(r);
	const char *ip = ipc_get_str(r);
	uint32_t tls = ipc_get_u32(r);
	size_t pipelined_len;
	const unsigned char *pipelined = ipc_get_bytes(r, &pipelined_len);
	uint32_t proto = ipc_get_u32(r);
	if (!ipc_reader_done(r) || (proto != IPC_PROTO_IMAP && proto != IPC_PROTO_POP3)) {
		log_error("malformed hand-off from a login process");
		if (fd >= 0)
			close(fd);
		return;
	}
	if (fd < 0) {
		/* the kernel could not give us the client's fd (ipc.c: MSG_CTRUNC, we were out of
		 * fds): that client's connection is gone, the channel and the rest are fine */
		log_error("session %s: hand-off for %s arrived without its connection (out of file "
			  "descriptors?)", session_id, user);
		return;
	}
	if (ipc_fds_exhausted() || !mail_fds_available(mp)) {
		/* near the fd limit: this login fails cleanly, sessions already here go on */
		char line[600];
		if (proto == IPC_PROTO_POP3)
			snprintf(line, sizeof(line), "-ERR [SYS/TEMP] Server busy, try again later\r\n");
		else
			snprintf(line, sizeof(line), "%s NO [UNAVAILABLE] Server busy, try again "
				 "later\r\n* BYE Server busy\r\n", tag);
		(void)!write(fd, line, strlen(line));
		close(fd);
		log_warn("session %s: %s refused: %u sessions, near the fd limit (%u)", session_id,
			 user, mp->session_count, mp->fd_limit);
		return;
	}
	if (mp->shutting_down) {
		const char *bye = proto == IPC_PROTO_POP3
					  ? "-ERR [SYS/TEMP] Server shutting down\r\n"
					  : "* BYE Server shutting down\r\n";
		(void)!write(fd, bye, strlen(bye));
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
		if (proto == IPC_PROTO_POP3)
			conn_printf(conn, "-ERR [SYS/TEMP] Cannot open your mail store, try again "
					  "later\r\n");
		else
			conn_printf(conn, "%s NO [SERVERBUG] Cannot open your mail store, try again "
					  "later\r\n* BYE Internal error\r\n", tag);
		conn_flush(conn);
		conn_destroy(&conn);
		return;
	}
	struct mail_session *ms = xcalloc(1, sizeof(*ms));
	ms->mp = mp;
	ms->user = mu;
	if (proto == IPC_PROTO_POP3) {
		struct pop3_session_params pp = {
			.loop = mp->loop,
			.conn = conn,
			.set = &mp->pop3_set,
			.hooks = &mail_pop3_hooks,
			.owner = ms,
			.state = POP3_STATE_TRANSACTION,
			.session_id = session_id,
			.remote_ip = ip,
			.user = user,
			.tls = tls != 0,
			.store = mu->store,
		};
		ms->pop3 = pop3_session_create(&pp);
		mail_session_link(mp, ms);
		log_info("session %s: %s logged in from %s (POP3, %s)", session_id, user, ip,
			 tls ? "TLS" : "plaintext");
		pop3_session_logged_in(ms->pop3);
		return;
	}
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
	mail_session_link(mp, ms);
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
		if (ms->session != NULL)
			imap_session_bye(ms->session, "Server shutting down");
		else
			pop3_session_bye(ms->pop3, "Server shutting down");
	}
	loop_timer_add(mp->loop, 0, mail_exit_check, mp);
	loop_timer_add(mp->loop, 3000, mail_deadline, mp);
}

static void mail_syncer_ready(void *ctx, unsigned events)
{
	struct mail_proc *mp = ctx;
	store_syncer_reap(mp->syncer);
}

/* Raise the soft fd limit to the hard one (connections cost one fd each here) and note what
 * is open already. */
static void mail_fd_budget(struct mail_proc *mp)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		if (rl.rlim_cur < rl.rlim_max) {
			rl.rlim_cur = rl.rlim_max;
			(void)setrlimit(RLIMIT_NOFILE, &rl);
			(void)getrlimit(RLIMIT_NOFILE, &rl);
		}
		mp->fd_limit = rl.rlim_cur > 1000000000 ? 1000000000u : (unsigned)rl.rlim_cur;
	} else {
		mp->fd_limit = 1024;
	}
	mp->fd_base = 16;
	DIR *d = opendir("/proc/self/fd");
	if (d != NULL) {
		unsigned n = 0;
		struct dirent *de;
		while ((de = readdir(d)) != NULL)
			n += de->d_name[0] != '.';
		closedir(d);
		mp->fd_base = n;
	}
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
	mp.pop3_set.timeout_preauth_ms = set->timeout_preauth * 1000;
	/* RFC 1939 3: the autologout timer is at least 10 minutes; timeout_idle is >= 30 */
	mp.pop3_set.timeout_idle_ms = set->timeout_idle * 1000;
	hash_init(&mp.users);
	mp.stores = store_pool_create(set->mail_open_stores_max);
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
	if (set->mail_store_park_idle > 0)
		mail_park_idle(&mp); /* parks nothing yet; arms the timer */
	mail_shrink_idle(&mp);       /* likewise */
	/* the sessions' group commit (store.h, "deferred syncs"); without it (no thread could
	 * start) every commit syncs itself, as it always may */
	int root_fd = open(mp.users_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	const char *serr = "cannot open the users folder";
	if (root_fd < 0 || store_syncer_create(root_fd, &mp.syncer, &serr) < 0 ||
	    (mp.syncer_io = loop_io_add(mp.loop, store_syncer_fd(mp.syncer), LOOP_READ, false,
					mail_syncer_ready, &mp)) == NULL) {
		log_warn("%s: commits are synced one by one", serr);
		store_syncer_destroy(&mp.syncer);
	}
	if (root_fd >= 0)
		close(root_fd);
	mp.imap_set.syncer = mp.syncer;
	mail_fd_budget(&mp);
	log_info("mail[%u] ready (fd limit %u, at most %u stores open)", index, mp.fd_limit,
		 set->mail_open_stores_max);
	loop_run(mp.loop);
	/* syncs in flight (the shutdown deadline passed): their replies are no longer sent */
	while (mp.syncer != NULL && store_syncer_busy(mp.syncer) > 0) {
		store_syncer_wait(mp.syncer);
		store_syncer_reap(mp.syncer);
	}
	loop_io_remove(&mp.syncer_io);
	store_syncer_destroy(&mp.syncer);
	hash_free(&mp.users); /* every session ended, so every user was unreferenced */
	store_pool_destroy(&mp.stores);
	return 0;
}
