/* auth.c: the auth process, the only reader of the user database. Login processes send SASL
 * exchanges here; each step runs on a worker thread (password hashes take tens of ms) while
 * the event loop keeps serving. Failed attempts are answered after an exponential delay per
 * IP and per user name, the same for existing and unknown users. Traps: a request may be
 * aborted or its login process may vanish while a worker holds it, so requests are freed only
 * by the loop thread and only when no worker has them. */
#include "roles.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "auth/sasl.h"
#include "auth/throttle.h"
#include "auth/userdb.h"
#include "daemon/ipc-proto.h"
#include "daemon/privdrop.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/xmalloc.h"
#include "net/ipc.h"
#include "net/loop.h"

struct auth_peer {
	struct auth_proc *ap;
	struct ipc_chan *chan;
	struct auth_peer *prev, *next;
	unsigned refs; /* requests pointing here */
	bool dead;
	bool lmtp;     /* an lmtp process: may look users up, never authenticate */
};

struct auth_req {
	struct auth_proc *ap;
	struct auth_peer *peer;
	struct auth_req *prev, *next;
	uint32_t id;
	char session_id[32];
	char ip[64];
	struct sasl_server *sasl;
	bool busy;    /* a worker holds it */
	bool aborted; /* free when the worker returns */
	struct loop_timer *delay_timer;
	/* worker job */
	struct buf input;
	bool have_input;
	int result;
	struct buf output;
	const char *error;
	struct auth_req *job_next;
};

struct auth_proc {
	const struct settings *set;
	struct loop *loop;
	struct ipc_chan *ctl;
	struct userdb *db;
	struct throttle *throttle;
	struct auth_peer *peers;
	struct auth_req *reqs;
	bool shutting_down;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct auth_req *todo, *todo_tail, *done;
	bool stop_workers;
	pthread_t *workers;
	unsigned worker_count;
	int done_fd;
	struct loop_io *done_io;
};

/* --- worker threads --- */

static void *auth_worker(void *ctx)
{
	struct auth_proc *ap = ctx;
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	pthread_mutex_lock(&ap->lock);
	for (;;) {
		while (ap->todo == NULL && !ap->stop_workers)
			pthread_cond_wait(&ap->cond, &ap->lock);
		if (ap->stop_workers)
			break;
		struct auth_req *req = ap->todo;
		ap->todo = req->job_next;
		if (ap->todo == NULL)
			ap->todo_tail = NULL;
		pthread_mutex_unlock(&ap->lock);

		buf_reset(&req->output);
		req->error = NULL;
		req->result = sasl_server_step(req->sasl, req->input.data, req->input.len,
					       req->have_input, &req->output, &req->error);
		buf_free_secure(&req->input);

		pthread_mutex_lock(&ap->lock);
		req->job_next = ap->done;
		ap->done = req;
		uint64_t one = 1;
		(void)!write(ap->done_fd, &one, sizeof(one));
	}
	pthread_mutex_unlock(&ap->lock);
	return NULL;
}

static void auth_submit(struct auth_proc *ap, struct auth_req *req, const unsigned char *in,
			size_t len, bool have_input)
{
	buf_free_secure(&req->input);
	buf_init(&req->input, len + 1);
	buf_append(&req->input, in, len);
	req->have_input = have_input;
	req->busy = true;
	req->job_next = NULL;
	pthread_mutex_lock(&ap->lock);
	if (ap->todo_tail != NULL)
		ap->todo_tail->job_next = req;
	else
		ap->todo = req;
	ap->todo_tail = req;
	pthread_cond_signal(&ap->cond);
	pthread_mutex_unlock(&ap->lock);
}

/* --- requests --- */

static void peer_unref(struct auth_peer *peer);

static void req_free(struct auth_req *req)
{
	struct auth_proc *ap = req->ap;
	if (req->prev != NULL)
		req->prev->next = req->next;
	else
		ap->reqs = req->next;
	if (req->next != NULL)
		req->next->prev = req->prev;
	loop_timer_remove(&req->delay_timer);
	if (req->sasl != NULL)
		sasl_server_destroy(&req->sasl);
	buf_free_secure(&req->input);
	buf_free_secure(&req->output);
	peer_unref(req->peer);
	free(req);
}

static struct auth_req *req_find(struct auth_proc *ap, struct auth_peer *peer, uint32_t id)
{
	for (struct auth_req *r = ap->reqs; r != NULL; r = r->next)
		if (r->peer == peer && r->id == id && !r->aborted)
			return r;
	return NULL;
}

static void req_send_fail(struct auth_req *req, const char *code, const char *msg)
{
	struct buf m;
	ipc_msg_init(&m, IPC_AUTH_FAIL);
	ipc_put_u32(&m, req->id);
	ipc_put_str(&m, code);
	ipc_put_str(&m, msg);
	if (!req->peer->dead)
		ipc_chan_send(req->peer->chan, &m, -1);
	buf_free(&m);
}

static void req_delayed_fail(void *ctx)
{
	struct auth_req *req = ctx;
	req->delay_timer = NULL;
	req_send_fail(req, "AUTHENTICATIONFAILED", "Authentication failed");
	req_free(req);
}

static void req_fail(struct auth_req *req, const char *user)
{
	struct auth_proc *ap = req->ap;
	uint64_t now = loop_now(ap->loop);
	throttle_fail(ap->throttle, req->ip, user, now);
	uint64_t delay = throttle_delay_ms(ap->throttle, req->ip, user, now);
	log_info("session %s: authentication failed for %s from %s (reply delayed %llu ms)",
		 req->session_id, user != NULL && *user ? user : "?", req->ip,
		 (unsigned long long)delay);
	req->delay_timer = loop_timer_add(ap->loop, delay, req_delayed_fail, req);
}

static void req_completed(struct auth_req *req)
{
	struct auth_proc *ap = req->ap;
	req->busy = false;
	if (req->aborted || req->peer->dead) {
		req_free(req);
		return;
	}
	struct buf m;
	switch (req->result) {
	case SASL_CONTINUE:
		ipc_msg_init(&m, IPC_AUTH_CHALLENGE);
		ipc_put_u32(&m, req->id);
		ipc_put_bytes(&m, req->output.data, req->output.len);
		ipc_chan_send(req->peer->chan, &m, -1);
		buf_free_secure(&m);
		return;
	case SASL_OK: {
		const char *user = sasl_server_user(req->sasl);
		throttle_success(ap->throttle, req->ip, user);
		ipc_msg_init(&m, IPC_AUTH_OK);
		ipc_put_u32(&m, req->id);
		ipc_put_str(&m, user);
		ipc_chan_send(req->peer->chan, &m, -1);
		buf_free(&m);
		log_info("session %s: %s authenticated from %s", req->session_id, user, req->ip);
		req_free(req);
		return;
	}
	default:
		req_fail(req, sasl_server_attempted_user(req->sasl));
		return;
	}
}

static void auth_done_io(void *ctx, unsigned events)
{
	struct auth_proc *ap = ctx;
	uint64_t n;
	(void)!read(ap->done_fd, &n, sizeof(n));
	pthread_mutex_lock(&ap->lock);
	struct auth_req *list = ap->done;
	ap->done = NULL;
	pthread_mutex_unlock(&ap->lock);
	/* the list is newest first; reverse to complete in order */
	struct auth_req *rev = NULL;
	while (list != NULL) {
		struct auth_req *next = list->job_next;
		list->job_next = rev;
		rev = list;
		list = next;
	}
	while (rev != NULL) {
		struct auth_req *next = rev->job_next;
		req_completed(rev);
		rev = next;
	}
}

/* --- peers (login processes) --- */

static void peer_unref(struct auth_peer *peer)
{
	if (--peer->refs > 0 || !peer->dead)
		return;
	struct auth_proc *ap = peer->ap;
	if (peer->prev != NULL)
		peer->prev->next = peer->next;
	else
		ap->peers = peer->next;
	if (peer->next != NULL)
		peer->next->prev = peer->prev;
	free(peer);
}

static void peer_kill(struct auth_peer *peer)
{
	if (peer->dead)
		return;
	peer->dead = true;
	ipc_chan_destroy(&peer->chan);
	peer->refs++;
	for (struct auth_req *r = peer->ap->reqs, *next; r != NULL; r = next) {
		next = r->next;
		if (r->peer != peer)
			continue;
		r->aborted = true;
		if (!r->busy)
			req_free(r);
	}
	peer_unref(peer);
}

static void auth_begin(struct auth_peer *peer, struct ipc_reader *r)
{
	struct auth_proc *ap = peer->ap;
	uint32_t id = ipc_get_u32(r);
	const char *session_id = ipc_get_str(r);
	const char *mech = ipc_get_str(r);
	const char *ip = ipc_get_str(r);
	uint32_t has_ir = ipc_get_u32(r);
	size_t ir_len;
	const unsigned char *ir = ipc_get_bytes(r, &ir_len);
	if (!ipc_reader_done(r) || id == 0 || req_find(ap, peer, id) != NULL) {
		log_error("malformed AUTH_BEGIN from a login process: dropping it");
		peer_kill(peer);
		return;
	}
	struct auth_req *req = xcalloc(1, sizeof(*req));
	req->ap = ap;
	req->peer = peer;
	peer->refs++;
	req->id = id;
	snprintf(req->session_id, sizeof(req->session_id), "%s", session_id);
	snprintf(req->ip, sizeof(req->ip), "%s", ip);
	buf_init(&req->input, 1);
	buf_init(&req->output, 16384);
	req->next = ap->reqs;
	if (req->next != NULL)
		req->next->prev = req;
	ap->reqs = req;
	req->sasl = sasl_server_create(mech, ap->db);
	if (req->sasl == NULL) {
		req_send_fail(req, "", "Unsupported authentication mechanism");
		req_free(req);
		return;
	}
	auth_submit(ap, req, ir, ir_len, has_ir != 0);
}

/* An lmtp process asks whether a recipient is a user: answered at once from the loop thread
 * (an indexed read of users.db; the userdb handle serialises with the workers). Nothing is
 * throttled or logged per name: the lmtp process is trusted as the mail process is. */
static void auth_user_lookup(struct auth_peer *peer, struct ipc_reader *r)
{
	struct auth_proc *ap = peer->ap;
	uint32_t id = ipc_get_u32(r);
	uint32_t count = ipc_get_u32(r);
	const char *names[4];
	for (uint32_t i = 0; i < count && i < 4; i++)
		names[i] = ipc_get_str(r);
	if (count == 0 || count > 4 || !ipc_reader_done(r)) {
		log_error("malformed USER_LOOKUP from an lmtp process: dropping it");
		peer_kill(peer);
		return;
	}
	uint32_t result = IPC_USER_UNKNOWN, index = 0;
	struct userdb_user user;
	memset(&user, 0, sizeof(user));
	char canon[USERDB_NAME_MAX + 1] = "";
	for (uint32_t i = 0; i < count && result == IPC_USER_UNKNOWN; i++) {
		const char *err = NULL;
		int found = userdb_lookup(ap->db, names[i], &user, &err);
		if (found > 0) {
			result = IPC_USER_FOUND;
			index = i;
			snprintf(canon, sizeof(canon), "%s", user.name);
		} else if (found < 0) {
			log_error("user lookup failed: %s", err != NULL ? err : "?");
			result = IPC_USER_TEMPFAIL;
		}
		userdb_user_clear(&user);
	}
	struct buf m;
	ipc_msg_init(&m, IPC_USER_RESULT);
	ipc_put_u32(&m, id);
	ipc_put_u32(&m, result);
	ipc_put_u32(&m, index);
	ipc_put_str(&m, canon);
	ipc_chan_send(peer->chan, &m, -1);
	buf_free(&m);
}

static void auth_peer_msg(void *ctx, struct ipc_chan *chan, uint32_t type, struct ipc_reader *r,
			  int fd)
{
	struct auth_peer *peer = ctx;
	struct auth_proc *ap = peer->ap;
	if (fd >= 0)
		close(fd);
	if (peer->lmtp != (type == IPC_USER_LOOKUP)) {
		log_error("message %u not allowed from %s process: dropping it", type,
			  peer->lmtp ? "an lmtp" : "a login");
		peer_kill(peer);
		return;
	}
	if (type == IPC_USER_LOOKUP) {
		auth_user_lookup(peer, r);
		return;
	}
	if (type == IPC_AUTH_BEGIN) {
		auth_begin(peer, r);
		return;
	}
	uint32_t id = ipc_get_u32(r);
	size_t len = 0;
	const unsigned char *data = type == IPC_AUTH_CONTINUE ? ipc_get_bytes(r, &len) : NULL;
	if ((type != IPC_AUTH_CONTINUE && type != IPC_AUTH_ABORT) || !ipc_reader_done(r)) {
		log_error("malformed message %u from a login process: dropping it", type);
		peer_kill(peer);
		return;
	}
	struct auth_req *req = req_find(ap, peer, id);
	if (req == NULL)
		return; /* raced with a failure reply */
	if (type == IPC_AUTH_ABORT) {
		req->aborted = true;
		if (!req->busy)
			req_free(req);
		return;
	}
	if (req->busy || req->delay_timer != NULL) {
		log_error("AUTH_CONTINUE while a step is running: dropping the login channel");
		peer_kill(peer);
		return;
	}
	auth_submit(ap, req, data != NULL ? data : (const unsigned char *)"", len, true);
}

static void auth_peer_closed(void *ctx, struct ipc_chan *chan)
{
	peer_kill(ctx);
}

static void auth_ctl_msg(void *ctx, struct ipc_chan *chan, uint32_t type, struct ipc_reader *r,
			 int fd)
{
	struct auth_proc *ap = ctx;
	if ((type != IPC_PEER_LOGIN && type != IPC_PEER_LMTP) || fd < 0 || !ipc_reader_done(r)) {
		log_error("malformed control message %u from the master", type);
		if (fd >= 0)
			close(fd);
		return;
	}
	struct auth_peer *peer = xcalloc(1, sizeof(*peer));
	peer->ap = ap;
	peer->refs = 1; /* the channel's own reference, dropped by peer_kill */
	peer->lmtp = type == IPC_PEER_LMTP;
	peer->chan = ipc_chan_create(ap->loop, fd, auth_peer_msg, auth_peer_closed, peer);
	peer->next = ap->peers;
	if (peer->next != NULL)
		peer->next->prev = peer;
	ap->peers = peer;
}

static void auth_ctl_closed(void *ctx, struct ipc_chan *chan)
{
	struct auth_proc *ap = ctx;
	log_error("master went away: exiting");
	ipc_chan_destroy(&ap->ctl);
	loop_stop(ap->loop);
}

static void auth_shutdown(void *ctx)
{
	struct auth_proc *ap = ctx;
	ap->shutting_down = true;
	loop_stop(ap->loop);
}

int auth_main(const struct settings *set, int ctl_fd)
{
	struct auth_proc ap = {.set = set};
	char error[512], path[1100];
	if (privdrop_apply(set->user, NULL, error, sizeof(error)) < 0) {
		log_error("%s", error);
		return 1;
	}
	settings_path(set, "users.db", path, sizeof(path));
	const char *err = NULL;
	if (userdb_open(path, true, &ap.db, &err) < 0) {
		log_error("cannot open the user database %s: %s", path, err != NULL ? err : "?");
		return 1;
	}
	ap.throttle = throttle_create(100000, (unsigned)set->auth_fail_delay_ms,
				      (unsigned)set->auth_fail_delay_max_ms);
	ap.loop = loop_create();
	pthread_mutex_init(&ap.lock, NULL);
	pthread_cond_init(&ap.cond, NULL);
	ap.done_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (ap.done_fd < 0) {
		log_error("eventfd: %s", strerror(errno));
		return 1;
	}
	ap.done_io = loop_io_add(ap.loop, ap.done_fd, LOOP_READ, false, auth_done_io, &ap);
	ap.worker_count = set->auth_workers;
	ap.workers = xcalloc(ap.worker_count, sizeof(*ap.workers));
	for (unsigned i = 0; i < ap.worker_count; i++) {
		if (pthread_create(&ap.workers[i], NULL, auth_worker, &ap) != 0) {
			log_error("cannot start worker threads");
			return 1;
		}
	}
	ap.ctl = ipc_chan_create(ap.loop, ctl_fd, auth_ctl_msg, auth_ctl_closed, &ap);
	loop_signal_add(ap.loop, SIGTERM, auth_shutdown, &ap);
	loop_signal_add(ap.loop, SIGINT, auth_shutdown, &ap);
	log_info("auth ready (%u worker threads)", ap.worker_count);
	loop_run(ap.loop);

	pthread_mutex_lock(&ap.lock);
	ap.stop_workers = true;
	pthread_cond_broadcast(&ap.cond);
	pthread_mutex_unlock(&ap.lock);
	for (unsigned i = 0; i < ap.worker_count; i++)
		pthread_join(ap.workers[i], NULL);
	userdb_close(&ap.db);
	return 0;
}
