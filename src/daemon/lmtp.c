/* lmtp.c: the lmtp process. Accepts LMTP connections on the TCP listener and the UNIX socket
 * the master bound, runs lmtp sessions, asks the auth process (the only reader of users.db)
 * whether recipients are users, and delivers into the users' stores itself: it runs as the
 * mail user, not chrooted, and keeps the stores it delivered to in a store pool (store.h,
 * "parking"): at most lmtp_open_stores_max open, up to LMTP_STORES_KNOWN_MAX more parked
 * (no fd, no SQLite connection; reopened without migrations or orphan sweep), the least
 * recently used parked ones closed beyond that. The mail processes hear of
 * each delivery through the store's change notification (DATA/users/.notify), so IDLE sessions
 * see new mail at once. Traps: auth answers arrive by id after the client may have left; a
 * lookup outlives an auth restart (it is sent again to the new auth process) but not
 * LMTP_LOOKUP_TIMEOUT_MS: then the recipient gets a temporary error (451), never a 550; a store
 * is closed only when no batch in flight uses it (its busy count), the pool may park it
 * between a batch's steps (the next step reopens it); a store whose delivery failed is
 * forgotten and closed, so the next delivery to that user opens it afresh (a parked store whose
 * folder went away must go through store_open's recovery); a client that leaves while its
 * deliveries are in a batch keeps its session (the transaction the batch reads) until the
 * batch ends, and what was not committed by then is not committed. */
#include "roles.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "daemon/ipc-proto.h"
#include "daemon/privdrop.h"
#include "lib/buf.h"
#include "lib/fdutil.h"
#include "lib/hash.h"
#include "lib/log.h"
#include "lib/xmalloc.h"
#include "lmtp/lmtp-delivery.h"
#include "lmtp/lmtp-session.h"
#include "net/conn.h"
#include "net/ipc.h"
#include "net/listen.h"
#include "net/loop.h"
#include "store/store.h"

#define LMTP_TIMEOUT_MS (5 * 60 * 1000)   /* RFC 5321 4.5.3.2.7 */
#define LMTP_MAX_RECIPIENTS 1000          /* RFC 5321 4.5.3.1.8 asks for at least 100 */
/* stores known (open or parked) at most; the least recently used parked ones beyond are
 * closed (a parked store costs a few hundred bytes and no fd) */
#define LMTP_STORES_KNOWN_MAX 4096
/* fds one open store holds: ROOT/USER, bodies/, store.lock, store.db, -wal, -shm */
#define LMTP_STORE_FDS 6
#define LMTP_STORE_IDLE_MS (60 * 1000) /* open stores unused this long are parked */
/* A recipient lookup waits this long for the auth process (also across its restart, which
 * takes 100 ms), then the RCPT gets 451 and the MTA tries again later. */
#define LMTP_LOOKUP_TIMEOUT_MS 5000

struct lmtp_client {
	struct lmtp_proc *lp;
	struct lmtp_session *session;
	struct lmtp_client *prev, *next;
	uint32_t lookup_id; /* 0: no lookup sent */
	/* the pending lookup: its names (valid until the session hears the answer) and its
	 * deadline; lookup_id is 0 while it waits for an auth process to send it to */
	const char *names[LMTP_NAMES_MAX];
	unsigned name_count;
	struct loop_timer *lookup_timer;
	char session_id[20];
	char ip[64];
	bool local;         /* the UNIX socket */
	unsigned inflight;  /* jobs in batches in flight: the session stays until they end */
	bool closed;        /* the connection is over (freed when inflight reaches 0) */
};

struct lmtp_store {
	struct hash_node node; /* key: user */
	struct lmtp_store *prev, *next; /* most recently used first */
	char *user;
	struct store *store;
	unsigned busy; /* jobs of batches in flight using it: neither closed nor freed */
	bool failed;   /* a delivery failed: forgotten, closed once no batch uses it */
	bool detached; /* failed and out of the table and the LRU list */
	bool index_queued; /* on the idle indexer's list (by name) */
};

struct lmtp_proc {
	const struct settings *set;
	unsigned index;
	struct loop *loop;
	struct ipc_chan *ctl;
	struct ipc_chan *auth;
	int tcp_fd, unix_fd;
	struct loop_io *tcp_io, *unix_io;
	struct lmtp_settings lset;
	char spool_dir[1100];
	char users_root[1100];
	struct lmtp_client *clients;
	struct hash_table stores;            /* of struct lmtp_store, by user */
	struct lmtp_store *lru_head, *lru_tail;
	unsigned store_count;
	struct store_pool *pool;             /* at most open_max of them open */
	struct loop_timer *sweep_timer;
	struct store_stage *stage;           /* DATA/users/.stage/lmtpN */
	struct store_syncer *syncer;         /* steps 3 and 5 of the batches */
	struct loop_io *syncer_io;
	struct lmtp_batch *batches;          /* in flight */
	bool stopped;                        /* the loop is over: commit nothing more */
	struct lmtp_job *queue_head, *queue_tail;
	size_t queue_count, batch_max;
	bool batch_scheduled;
	/* idle-time indexing: users delivered to, indexed once no batch ran for index_idle_ms */
	char **index_users;
	size_t index_count, index_alloc;
	struct loop_timer *index_timer;
	uint32_t next_id;
	size_t connections;
	bool shutting_down;
};

static void make_session_id(char *out, size_t size)
{
	static const char alphabet[] = "abcdefghijkmnpqrstuvwxyz23456789";
	unsigned char rnd[12];
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		memset(rnd, 0, sizeof(rnd));
	size_t n = size - 1 < sizeof(rnd) ? size - 1 : sizeof(rnd);
	for (size_t i = 0; i < n; i++)
		out[i] = alphabet[rnd[i] % 32];
	out[n] = '\0';
}

/* --- the store cache --- */

static void lmtp_store_unlink(struct lmtp_proc *lp, struct lmtp_store *ls)
{
	if (ls->prev != NULL)
		ls->prev->next = ls->next;
	else
		lp->lru_head = ls->next;
	if (ls->next != NULL)
		ls->next->prev = ls->prev;
	else
		lp->lru_tail = ls->prev;
	ls->prev = ls->next = NULL;
}

static void lmtp_store_push(struct lmtp_proc *lp, struct lmtp_store *ls)
{
	ls->prev = NULL;
	ls->next = lp->lru_head;
	if (lp->lru_head != NULL)
		lp->lru_head->prev = ls;
	else
		lp->lru_tail = ls;
	lp->lru_head = ls;
}

static void lmtp_store_free(struct lmtp_proc *lp, struct lmtp_store *ls)
{
	hash_remove(&lp->stores, &ls->node);
	lmtp_store_unlink(lp, ls);
	lp->store_count--;
	store_close(&ls->store);
	free(ls->user);
	free(ls);
}

/* Beyond LMTP_STORES_KNOWN_MAX: close the least recently used parked stores (closing a
 * parked store touches no file). Open ones are the pool's to park first. */
static void lmtp_store_trim(struct lmtp_proc *lp)
{
	for (struct lmtp_store *ls = lp->lru_tail, *prev;
	     ls != NULL && lp->store_count > LMTP_STORES_KNOWN_MAX; ls = prev) {
		prev = ls->prev;
		if (ls->busy == 0 && store_is_parked(ls->store))
			lmtp_store_free(lp, ls);
	}
}

static struct lmtp_store *lmtp_store_get(struct lmtp_proc *lp, const char *user)
{
	struct lmtp_store *ls = (struct lmtp_store *)hash_find(&lp->stores, user);
	if (ls != NULL) {
		/* a parked store is reopened by the delivery's first store call */
		lmtp_store_unlink(lp, ls);
		lmtp_store_push(lp, ls);
		return ls;
	}
	struct store *store;
	const char *err;
	store_pool_reserve(lp->pool, NULL); /* the limit holds while it opens too */
	int r = store_open(lp->users_root, user, &store, &err);
	if (r < 0 && (errno == EMFILE || errno == ENFILE) && store_pool_shed(lp->pool, NULL) > 0)
		r = store_open(lp->users_root, user, &store, &err); /* out of fds: park one, again */
	if (r < 0) {
		log_error("cannot open the store of %s: %s", user, err);
		return NULL;
	}
	store_pool_add(lp->pool, store); /* parks the least recently used beyond open_max */
	ls = xcalloc(1, sizeof(*ls));
	ls->user = xstrdup(user);
	ls->store = store;
	ls->node.key = ls->user;
	hash_insert(&lp->stores, &ls->node);
	lmtp_store_push(lp, ls);
	lp->store_count++;
	lmtp_store_trim(lp);
	return ls;
}

static void lmtp_store_sweep(void *ctx)
{
	struct lmtp_proc *lp = ctx;
	store_pool_park_idle(lp->pool, LMTP_STORE_IDLE_MS / 1000);
	lp->sweep_timer = loop_timer_add(lp->loop, LMTP_STORE_IDLE_MS / 2, lmtp_store_sweep, lp);
}

/* Raise the soft fd limit to the hard one and keep the open stores within half of it (the
 * rest is for connections, body files and spool files). */
static unsigned lmtp_open_stores_max(const struct settings *set)
{
	struct rlimit rl;
	unsigned limit = 1024;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		if (rl.rlim_cur < rl.rlim_max) {
			rl.rlim_cur = rl.rlim_max;
			(void)setrlimit(RLIMIT_NOFILE, &rl);
			(void)getrlimit(RLIMIT_NOFILE, &rl);
		}
		limit = rl.rlim_cur > 1000000000 ? 1000000000u : (unsigned)rl.rlim_cur;
	}
	unsigned max = set->lmtp_open_stores_max;
	unsigned fit = limit / 2 / LMTP_STORE_FDS;
	if (max > fit) {
		log_warn("lmtp_open_stores_max = %u needs more fds than half the fd limit %u: "
			 "using %u", max, limit, fit < 1 ? 1 : fit);
		max = fit < 1 ? 1 : fit;
	}
	return max;
}

/* --- session hooks --- */

/* The pending lookup is over: forget it and give the session its answer. */
static void lookup_finish(struct lmtp_client *c, int found, const char *user, unsigned index)
{
	loop_timer_remove(&c->lookup_timer);
	c->lookup_id = 0;
	c->name_count = 0;
	lmtp_session_lookup_done(c->session, found, user, index);
}

static void lookup_timeout(void *ctx)
{
	struct lmtp_client *c = ctx;
	c->lookup_timer = NULL;
	log_warn("lmtp session %s: no answer from the auth process: recipient deferred",
		 c->session_id);
	lookup_finish(c, -1, NULL, 0);
}

/* Send the pending lookup to the auth process, if there is one now. */
static void lookup_send(struct lmtp_client *c)
{
	struct lmtp_proc *lp = c->lp;
	if (lp->auth == NULL)
		return; /* sent when the master connects a (restarted) auth process */
	if (++lp->next_id == 0)
		lp->next_id = 1;
	c->lookup_id = lp->next_id;
	struct buf msg;
	ipc_msg_init(&msg, IPC_USER_LOOKUP);
	ipc_put_u32(&msg, c->lookup_id);
	ipc_put_u32(&msg, c->name_count);
	for (unsigned i = 0; i < c->name_count; i++)
		ipc_put_str(&msg, c->names[i]);
	int r = ipc_chan_send(lp->auth, &msg, -1);
	buf_free(&msg);
	if (r < 0)
		c->lookup_id = 0; /* the channel is closing: sent again to the next one */
}

static void hook_lookup(struct lmtp_session *s, const char *const *names, unsigned count)
{
	struct lmtp_client *c = lmtp_session_owner(s);
	if (count == 0 || count > LMTP_NAMES_MAX) {
		lmtp_session_lookup_done(s, 0, NULL, 0);
		return;
	}
	for (unsigned i = 0; i < count; i++)
		c->names[i] = names[i];
	c->name_count = count;
	c->lookup_timer = loop_timer_add(c->lp->loop, LMTP_LOOKUP_TIMEOUT_MS, lookup_timeout, c);
	lookup_send(c);
}

/* --- idle-time indexing (store.h, store_index_pending) ---
 * Deliveries leave the search index behind. Once the process has had no batch for
 * index_idle_ms, it indexes the stores it delivered to, LMTP_INDEX_BODIES bodies per loop turn,
 * users taking turns; a new batch puts it off again. A store nobody indexes here (the process
 * was never idle long enough) is indexed by its mail process or by its first search. */
#define LMTP_INDEX_BODIES 8

static void lmtp_index_run(void *ctx);

static void lmtp_index_arm(struct lmtp_proc *lp, uint64_t msecs)
{
	loop_timer_remove(&lp->index_timer);
	if (lp->index_count > 0)
		lp->index_timer = loop_timer_add(lp->loop, msecs, lmtp_index_run, lp);
}

static void lmtp_index_enqueue(struct lmtp_proc *lp, struct lmtp_store *ls)
{
	if (lp->set->index_idle_ms == 0 || ls->index_queued)
		return;
	if (lp->index_count == lp->index_alloc) {
		size_t n = lp->index_alloc == 0 ? 64 : lp->index_alloc * 2, bytes;
		if (size_mul(n, sizeof(*lp->index_users), &bytes) < 0)
			xabort("index queue overflow");
		lp->index_users = xrealloc(lp->index_users, bytes);
		lp->index_alloc = n;
	}
	lp->index_users[lp->index_count++] = xstrdup(ls->user);
	ls->index_queued = true;
}

static void lmtp_index_run(void *ctx)
{
	struct lmtp_proc *lp = ctx;
	lp->index_timer = NULL;
	if (lp->index_count == 0)
		return;
	char *user = lp->index_users[0];
	memmove(lp->index_users, lp->index_users + 1, (lp->index_count - 1) * sizeof(char *));
	lp->index_count--;
	struct lmtp_store *ls = (struct lmtp_store *)hash_find(&lp->stores, user);
	if (ls != NULL) {
		const char *err;
		ls->index_queued = false;
		int r = store_index_pending(ls->store, LMTP_INDEX_BODIES, &err);
		if (r < 0)
			log_error("indexing the store of %s: %s", user, err);
		else if (r >= LMTP_INDEX_BODIES)
			lmtp_index_enqueue(lp, ls); /* more may wait: after the other users */
	}
	free(user);
	/* 1 ms: a timer due now would run again in this pass, before any I/O */
	lmtp_index_arm(lp, 1);
}

/* --- delivery: group commit across sessions (store.h, "group commit") ---
 * The deliver hook only queues the recipient; once per loop turn, after every session has had
 * its input, lmtp_batch_run takes what is queued as a batch: each transaction's message written
 * once into the staging folder and linked into every recipient's store; the syncer thread
 * makes that durable while the loop goes on (reading more mail, forming the next batch, whose
 * syncs share the next round); then the rows are committed, the syncer makes the WALs durable,
 * and the replies go out. A message to one recipient carries that recipient's Delivered-To
 * and Received "for"; with several recipients it carries neither, so that all of them share
 * one file (as Dovecot does: lmtp_hdr_delivery_address is "none" for a mail with several
 * recipients). */

struct lmtp_job {
	struct lmtp_job *next;
	struct lmtp_client *c;
	const struct lmtp_txn *txn;
	size_t i;
	/* during the batch */
	size_t msg;              /* index into the batch's messages */
	struct lmtp_store *ls;   /* holds a busy count on it */
	bool linked, created;    /* store_stage_link done; it made the file */
	bool committed;          /* store_append_staged done: durable after the second sync */
	enum lmtp_delivery_status st;
	struct lmtp_delivery_result res;
};

struct lmtp_msg {
	const struct lmtp_txn *txn;
	struct buf prefix;
	const unsigned char *data;
	size_t size;
	bool staged;
	struct store_staged body;
	enum lmtp_delivery_status st; /* when not staged */
	const char *error;
};

/* A batch between its steps: its syncs run on the syncer while the loop goes on. */
struct lmtp_batch {
	struct lmtp_batch *prev, *next; /* lp->batches */
	struct lmtp_proc *lp;
	struct lmtp_job **jobs;
	size_t n;
	struct lmtp_msg *msgs;
	size_t msg_count;
	bool synced; /* the commits of step 4 are durable */
};

static void lmtp_job_queue(struct lmtp_proc *lp, struct lmtp_job *job);

static void client_free(void *ctx)
{
	free(ctx);
}

static void hook_deliver(struct lmtp_session *s, const struct lmtp_txn *txn, size_t i)
{
	struct lmtp_client *c = lmtp_session_owner(s);
	struct lmtp_job *job = xcalloc(1, sizeof(*job));
	job->c = c;
	job->txn = txn;
	job->i = i;
	lmtp_job_queue(c->lp, job);
}

/* The queued jobs of a client that went away: it is answered no more (RFC 2033 5: the MTA
 * counts the recipients it has no reply for as failed and sends again). Jobs in a batch in
 * flight keep the session (and so the transaction) until the batch is over; those not
 * committed yet are not committed. */
static void lmtp_jobs_forget(struct lmtp_proc *lp, struct lmtp_client *c)
{
	struct lmtp_job **p = &lp->queue_head;
	lp->queue_tail = NULL;
	while (*p != NULL) {
		struct lmtp_job *j = *p;
		if (j->c == c) {
			*p = j->next;
			free(j);
			lp->queue_count--;
			continue;
		}
		lp->queue_tail = j;
		p = &j->next;
	}
}

/* Step 1: the message of each transaction once, into the staging folder. */
static void lmtp_batch_stage(struct lmtp_proc *lp, struct lmtp_batch *b)
{
	time_t now = time(NULL);
	b->msg_count = 0;
	for (size_t k = 0; k < b->n; k++) {
		struct lmtp_job *j = b->jobs[k];
		if (b->msg_count > 0 && b->msgs[b->msg_count - 1].txn == j->txn) {
			j->msg = b->msg_count - 1;
			continue;
		}
		struct lmtp_msg *m = &b->msgs[b->msg_count++];
		j->msg = b->msg_count - 1;
		memset(m, 0, sizeof(*m));
		m->txn = j->txn;
		buf_init(&m->prefix, SPOOL_PREFIX_MAX);
		const struct lmtp_txn *txn = j->txn;
		const char *rcpt = txn->rcpt_count == 1 ? txn->rcpts[0].addr : NULL;
		struct buf received;
		buf_init(&received, 1024);
		lmtp_received_field(&received, txn->helo, j->c->local ? NULL : j->c->ip,
				    lp->set->hostname, j->c->session_id, txn->mail_from, rcpt,
				    txn->smtputf8, now);
		struct lmtp_delivery d = {
			.return_path = txn->mail_from,
			.delivered_to = rcpt,
			.received = (const char *)received.data,
		};
		lmtp_delivery_prefix(&m->prefix, &d);
		buf_free(&received);
		struct lmtp_delivery_result r;
		const char *err = NULL;
		if (lmtp_delivery_view(txn->spool, &m->prefix, lp->set->append_limit, &m->data,
				       &m->size, &r) < 0) {
			m->st = r.status;
			m->error = r.error;
		} else if (store_stage_write(lp->stage, m->data, m->size, &m->body, &err) < 0) {
			m->st = LMTP_DELIVERY_TEMPFAIL;
			m->error = err;
		} else {
			m->staged = true;
		}
	}
}

static void lmtp_job_log(struct lmtp_proc *lp, const struct lmtp_job *j, const struct lmtp_msg *m,
			 const char *error)
{
	const struct lmtp_rcpt *rcpt = &j->txn->rcpts[j->i];
	if (j->st == LMTP_DELIVERED)
		log_info("lmtp session %s: delivered <%s> to %s (%s), mailbox %s, uid %u, %llu bytes",
			 j->c->session_id, j->txn->mail_from, rcpt->user, rcpt->addr,
			 j->res.mailbox, j->res.uid, (unsigned long long)m->size);
	else
		log_error("lmtp session %s: delivery of <%s> to %s (%s) failed: %s",
			  j->c->session_id, j->txn->mail_from, rcpt->user, rcpt->addr,
			  error != NULL ? error : "?");
}

/* A client whose connection closed while its jobs were in a batch: gone now. */
static void lmtp_client_release(struct lmtp_proc *lp, struct lmtp_client *c)
{
	if (--c->inflight > 0 || !c->closed)
		return;
	lmtp_session_destroy(&c->session);
	loop_defer(lp->loop, client_free, c);
}

/* The store of a failed delivery is closed once no batch uses it, and forgotten at once: the
 * next delivery to that user opens it afresh. */
static void lmtp_store_release(struct lmtp_proc *lp, struct lmtp_store *ls)
{
	ls->busy--;
	if (!ls->failed)
		return;
	if (!ls->detached) {
		hash_remove(&lp->stores, &ls->node);
		lmtp_store_unlink(lp, ls);
		lp->store_count--;
		ls->detached = true;
	}
	if (ls->busy == 0) {
		store_close(&ls->store);
		free(ls->user);
		free(ls);
	}
}

/* The end of a batch: log, drop the staged files, reply, free. */
static void lmtp_batch_finish(struct lmtp_batch *b)
{
	struct lmtp_proc *lp = b->lp;
	for (size_t k = 0; k < b->n; k++) {
		struct lmtp_job *j = b->jobs[k];
		if (j->committed) {
			store_notify_flush(j->ls->store);
			j->st = b->synced ? LMTP_DELIVERED : LMTP_DELIVERY_TEMPFAIL;
			if (!b->synced)
				j->res.error = "cannot sync the commit";
		}
		lmtp_job_log(lp, j, &b->msgs[j->msg], j->res.error);
		if (j->committed && !j->ls->failed)
			lmtp_index_enqueue(lp, j->ls);
	}
	if (lp->set->index_idle_ms > 0)
		lmtp_index_arm(lp, lp->set->index_idle_ms); /* no indexing while deliveries come */
	for (size_t k = 0; k < b->msg_count; k++) {
		if (b->msgs[k].staged)
			store_stage_drop(lp->stage, &b->msgs[k].body);
		buf_free(&b->msgs[k].prefix);
	}
	for (size_t k = 0; k < b->n; k++) {
		if (b->jobs[k]->ls != NULL)
			lmtp_store_release(lp, b->jobs[k]->ls);
	}
	/* the replies (a session may close while it replies: later jobs of it see no session) */
	for (size_t k = 0; k < b->n; k++) {
		struct lmtp_job *j = b->jobs[k];
		if (!j->c->closed && j->c->session != NULL)
			lmtp_session_delivered(j->c->session, j->i, j->st);
		lmtp_client_release(lp, j->c);
		free(j);
	}
	if (b->prev != NULL)
		b->prev->next = b->next;
	else
		lp->batches = b->next;
	if (b->next != NULL)
		b->next->prev = b->prev;
	free(b->jobs);
	free(b->msgs);
	free(b);
}

/* Step 5 done: every store's WAL is durable; the other processes and the clients hear. */
static void lmtp_batch_committed(void *ctx, const char *error)
{
	struct lmtp_batch *b = ctx;
	b->synced = error == NULL;
	if (error != NULL)
		log_error("lmtp: %s (the deliveries of this batch get 451, some may be stored and "
			  "come again)", error);
	lmtp_batch_finish(b);
}

/* Step 3 done: the bytes and their names are durable. Step 4: the rows (synchronous =
 * NORMAL), then step 5 on the syncer. */
static void lmtp_batch_linked(void *ctx, const char *error)
{
	struct lmtp_batch *b = ctx;
	struct lmtp_proc *lp = b->lp;
	if (error != NULL)
		log_error("lmtp: %s", error);
	bool committed = false;
	for (size_t k = 0; k < b->n; k++) {
		struct lmtp_job *j = b->jobs[k];
		if (!j->linked)
			continue;
		struct lmtp_msg *m = &b->msgs[j->msg];
		/* a client gone meanwhile sends again (it has no reply): store nothing for it */
		if (error != NULL || j->c->closed || lp->stopped) {
			if (j->created)
				store_stage_unlink(j->ls->store, &m->body);
			j->linked = false;
			j->res.error = error != NULL ? "cannot sync the message"
						     : "the client went away before the commit";
			continue;
		}
		struct lmtp_delivery d = {
			.mailbox = j->txn->rcpts[j->i].detail,
			.max_size = lp->set->append_limit,
		};
		struct lmtp_staged staged = {
			.stage = lp->stage, .body = &m->body, .created = j->created,
		};
		if (lmtp_deliver_bytes(j->ls->store, m->data, m->size, &staged, &d, &j->res) == 0) {
			j->committed = committed = true;
		} else {
			j->st = j->res.status;
			/* whatever went wrong (a store parked meanwhile whose folder went away, a
			 * full disk), the next delivery to this user starts with a fresh store_open */
			if (j->st == LMTP_DELIVERY_TEMPFAIL)
				j->ls->failed = true;
		}
	}
	if (committed)
		store_stage_submit(lp->stage, lp->syncer, lmtp_batch_committed, b);
	else
		lmtp_batch_finish(b);
}

static void lmtp_batch_run(void *ctx)
{
	struct lmtp_proc *lp = ctx;
	lp->batch_scheduled = false;
	/* at most a pool's worth of stores per batch (parking inside a batch costs syncs); the
	 * rest waits for the next loop turn */
	size_t n = lp->queue_count < lp->batch_max ? lp->queue_count : lp->batch_max;
	if (n == 0)
		return;
	struct lmtp_batch *b = xcalloc(1, sizeof(*b));
	b->lp = lp;
	b->n = n;
	b->jobs = xcalloc(n, sizeof(*b->jobs));
	b->msgs = xcalloc(n, sizeof(*b->msgs));
	for (size_t k = 0; k < n; k++) {
		b->jobs[k] = lp->queue_head;
		lp->queue_head = lp->queue_head->next;
		lp->queue_count--;
		b->jobs[k]->c->inflight++;
	}
	if (lp->queue_head == NULL)
		lp->queue_tail = NULL;
	else
		lmtp_job_queue(lp, NULL); /* schedule the next batch */
	b->next = lp->batches;
	if (b->next != NULL)
		b->next->prev = b;
	lp->batches = b;

	const char *err = NULL;
	bool any = false;
	lmtp_batch_stage(lp, b);
	/* step 2: link into each recipient's store */
	for (size_t k = 0; k < n; k++) {
		struct lmtp_job *j = b->jobs[k];
		struct lmtp_msg *m = &b->msgs[j->msg];
		j->st = LMTP_DELIVERY_TEMPFAIL;
		if (!m->staged) {
			j->st = m->st;
			j->res.error = m->error;
			continue;
		}
		j->ls = lmtp_store_get(lp, j->txn->rcpts[j->i].user);
		if (j->ls == NULL) {
			j->res.error = "cannot open the store";
			continue;
		}
		j->ls->busy++;
		if (store_stage_link(j->ls->store, lp->stage, &m->body, &j->created, &err) < 0) {
			j->res.error = err;
			j->ls->failed = true;
			continue;
		}
		j->linked = true;
		any = true;
	}
	/* step 3 on the syncer; the loop goes on meanwhile */
	if (any)
		store_stage_submit(lp->stage, lp->syncer, lmtp_batch_linked, b);
	else
		lmtp_batch_finish(b);
}

static void lmtp_syncer_ready(void *ctx, unsigned events)
{
	struct lmtp_proc *lp = ctx;
	store_syncer_reap(lp->syncer);
}

static void lmtp_job_queue(struct lmtp_proc *lp, struct lmtp_job *job)
{
	if (job != NULL) {
		if (lp->queue_tail != NULL)
			lp->queue_tail->next = job;
		else
			lp->queue_head = job;
		lp->queue_tail = job;
		lp->queue_count++;
	}
	/* after every session's input of this loop turn (loop.c runs deferred calls last) */
	if (!lp->batch_scheduled && lp->queue_head != NULL) {
		lp->batch_scheduled = true;
		loop_defer(lp->loop, lmtp_batch_run, lp);
	}
}

static void hook_closed(struct lmtp_session *s, const char *reason)
{
	struct lmtp_client *c = lmtp_session_owner(s);
	struct lmtp_proc *lp = c->lp;
	log_info("lmtp session %s: disconnected: %s", c->session_id, reason);
	loop_timer_remove(&c->lookup_timer);
	lmtp_jobs_forget(lp, c);
	c->name_count = 0;
	c->lookup_id = 0;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		lp->clients = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	lp->connections--;
	if (c->inflight > 0) {
		/* its batches still read the transaction: the last one frees it */
		c->closed = true;
		return;
	}
	lmtp_session_destroy(&c->session);
	loop_defer(lp->loop, client_free, c);
}

static const struct lmtp_session_hooks lmtp_hooks = {
	.lookup = hook_lookup,
	.deliver = hook_deliver,
	.closed = hook_closed,
};

/* --- accepting --- */

static void lmtp_accept(struct lmtp_proc *lp, int lfd, bool local)
{
	for (int i = 0; i < 64; i++) {
		int fd = listen_accept(lfd);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				log_warn("accept: %s", strerror(errno));
			return;
		}
		if (lp->shutting_down || lp->connections >= lp->set->max_connections) {
			static const char busy[] = "421 4.3.2 Too busy, try again later\r\n";
			(void)!write(fd, busy, sizeof(busy) - 1);
			close(fd);
			continue;
		}
		struct lmtp_client *c = xcalloc(1, sizeof(*c));
		c->lp = lp;
		c->local = local;
		make_session_id(c->session_id, sizeof(c->session_id));
		unsigned port = 0;
		if (local)
			snprintf(c->ip, sizeof(c->ip), "local");
		else if (listen_peer_name(fd, c->ip, sizeof(c->ip), &port) < 0)
			snprintf(c->ip, sizeof(c->ip), "unknown");
		struct conn_limits limits;
		conn_limits_default(&limits);
		static const struct conn_callbacks placeholder = {0};
		struct conn *conn = conn_create(lp->loop, fd, &limits, &placeholder, NULL);
		struct lmtp_session_params p = {
			.loop = lp->loop,
			.conn = conn,
			.set = &lp->lset,
			.hooks = &lmtp_hooks,
			.owner = c,
			.session_id = c->session_id,
			.remote_ip = local ? NULL : c->ip,
		};
		c->session = lmtp_session_create(&p);
		c->next = lp->clients;
		if (c->next != NULL)
			c->next->prev = c;
		lp->clients = c;
		lp->connections++;
		if (local)
			log_info("lmtp session %s: connect on %s", c->session_id, lp->set->lmtp_socket);
		else
			log_info("lmtp session %s: connect from %s:%u", c->session_id, c->ip, port);
		lmtp_session_greet(c->session);
	}
}

static void lmtp_tcp_accept(void *ctx, unsigned events)
{
	struct lmtp_proc *lp = ctx;
	lmtp_accept(lp, lp->tcp_fd, false);
}

static void lmtp_unix_accept(void *ctx, unsigned events)
{
	struct lmtp_proc *lp = ctx;
	lmtp_accept(lp, lp->unix_fd, true);
}

/* --- channels --- */

static void lmtp_auth_msg(void *ctx, struct ipc_chan *chan, uint32_t type, struct ipc_reader *r,
			  int fd)
{
	struct lmtp_proc *lp = ctx;
	if (fd >= 0)
		close(fd);
	uint32_t id = ipc_get_u32(r);
	uint32_t result = ipc_get_u32(r);
	uint32_t index = ipc_get_u32(r);
	const char *user = ipc_get_str(r);
	if (type != IPC_USER_RESULT || !ipc_reader_done(r) || result > IPC_USER_TEMPFAIL ||
	    (result == IPC_USER_FOUND && user[0] == '\0')) {
		log_error("malformed message %u from the auth process", type);
		ipc_chan_destroy(&lp->auth);
		return;
	}
	for (struct lmtp_client *c = lp->clients; c != NULL; c = c->next) {
		if (c->lookup_id == id && id != 0) {
			int found = result == IPC_USER_FOUND ? 1 : result == IPC_USER_UNKNOWN ? 0 : -1;
			if (found > 0 && index >= c->name_count)
				index = 0;
			lookup_finish(c, found, user, index);
			return;
		}
	}
	/* the client left meanwhile, or its lookup timed out */
}

static void lmtp_auth_closed(void *ctx, struct ipc_chan *chan)
{
	struct lmtp_proc *lp = ctx;
	if (!lp->shutting_down)
		log_warn("lost the connection to the auth process");
	ipc_chan_destroy(&lp->auth);
	/* lookups sent to it wait for the restarted auth process (within their deadline) */
	for (struct lmtp_client *c = lp->clients; c != NULL; c = c->next)
		c->lookup_id = 0;
}

static void lmtp_ctl_msg(void *ctx, struct ipc_chan *chan, uint32_t type, struct ipc_reader *r,
			 int fd)
{
	struct lmtp_proc *lp = ctx;
	if (type != IPC_PEER_AUTH || fd < 0 || !ipc_reader_done(r)) {
		log_error("malformed control message %u from the master", type);
		if (fd >= 0)
			close(fd);
		return;
	}
	ipc_chan_destroy(&lp->auth);
	lp->auth = ipc_chan_create(lp->loop, fd, lmtp_auth_msg, lmtp_auth_closed, lp);
	/* lookups that waited for an auth process (at start, or across its restart) */
	for (struct lmtp_client *c = lp->clients; c != NULL; c = c->next)
		if (c->name_count > 0 && c->lookup_id == 0)
			lookup_send(c);
}

static void lmtp_ctl_closed(void *ctx, struct ipc_chan *chan)
{
	struct lmtp_proc *lp = ctx;
	log_error("master went away: exiting");
	ipc_chan_destroy(&lp->ctl);
	loop_stop(lp->loop);
}

/* --- shutdown --- */

static void lmtp_exit_check(void *ctx)
{
	struct lmtp_proc *lp = ctx;
	if (lp->clients == NULL && lp->batches == NULL && lp->queue_head == NULL)
		loop_stop(lp->loop);
	else
		loop_timer_add(lp->loop, 20, lmtp_exit_check, lp);
}

static void lmtp_deadline(void *ctx)
{
	loop_stop(((struct lmtp_proc *)ctx)->loop);
}

static void lmtp_shutdown(void *ctx)
{
	struct lmtp_proc *lp = ctx;
	if (lp->shutting_down)
		return;
	lp->shutting_down = true;
	loop_io_remove(&lp->tcp_io);
	loop_io_remove(&lp->unix_io);
	/* a 421 can complete at once and unlink the client: take next first */
	for (struct lmtp_client *c = lp->clients, *next; c != NULL; c = next) {
		next = c->next;
		lmtp_session_bye(c->session);
	}
	loop_timer_add(lp->loop, 0, lmtp_exit_check, lp);
	loop_timer_add(lp->loop, 5000, lmtp_deadline, lp);
}

int lmtp_main(const struct settings *set, int ctl_fd, int tcp_fd, int unix_fd, unsigned index)
{
	struct lmtp_proc lp = {.set = set, .index = index, .tcp_fd = tcp_fd, .unix_fd = unix_fd};
	char error[512];
	if (privdrop_apply(set->user, NULL, error, sizeof(error)) < 0) {
		log_error("%s", error);
		return 1;
	}
	settings_path(set, "users", lp.users_root, sizeof(lp.users_root));
	settings_path(set, "spool", lp.spool_dir, sizeof(lp.spool_dir));
	if (dir_create(lp.users_root, 0700) < 0 || dir_create(lp.spool_dir, 0700) < 0) {
		log_error("cannot create %s or %s: %s", lp.users_root, lp.spool_dir, strerror(errno));
		return 1;
	}
	lp.lset = (struct lmtp_settings){
		.hostname = set->hostname,
		.max_size = set->append_limit,
		.max_recipients = LMTP_MAX_RECIPIENTS,
		.timeout_ms = LMTP_TIMEOUT_MS,
		.spool_dir = lp.spool_dir,
		.delimiters = set->recipient_delimiter,
		.detail_mailbox = set->lmtp_detail_mailbox,
	};
	char stage_name[32];
	const char *err;
	snprintf(stage_name, sizeof(stage_name), "lmtp%u", index);
	if (store_stage_open(lp.users_root, stage_name, &lp.stage, &err) < 0) {
		log_error("%s", err);
		return 1;
	}
	if (store_syncer_create(store_stage_fd(lp.stage), &lp.syncer, &err) < 0) {
		log_error("%s", err);
		return 1;
	}
	hash_init(&lp.stores);
	unsigned open_max = lmtp_open_stores_max(set);
	lp.batch_max = open_max < 16 ? 16 : open_max > 1024 ? 1024 : open_max;
	lp.pool = store_pool_create(open_max);
	store_pool_keep_wal(lp.pool, true); /* parking a store it wrote to costs no checkpoint */
	lp.loop = loop_create();
	lp.ctl = ipc_chan_create(lp.loop, ctl_fd, lmtp_ctl_msg, lmtp_ctl_closed, &lp);
	loop_signal_add(lp.loop, SIGTERM, lmtp_shutdown, &lp);
	loop_signal_add(lp.loop, SIGINT, lmtp_shutdown, &lp);
	if (tcp_fd >= 0)
		lp.tcp_io = loop_io_add(lp.loop, tcp_fd, LOOP_READ, true, lmtp_tcp_accept, &lp);
	if (unix_fd >= 0)
		lp.unix_io = loop_io_add(lp.loop, unix_fd, LOOP_READ, true, lmtp_unix_accept, &lp);
	lp.syncer_io = loop_io_add(lp.loop, store_syncer_fd(lp.syncer), LOOP_READ, false,
				   lmtp_syncer_ready, &lp);
	if ((tcp_fd >= 0 && lp.tcp_io == NULL) || (unix_fd >= 0 && lp.unix_io == NULL) ||
	    lp.syncer_io == NULL) {
		log_error("cannot watch the LMTP listeners: %s", strerror(errno));
		return 1;
	}
	lp.sweep_timer = loop_timer_add(lp.loop, LMTP_STORE_IDLE_MS / 2, lmtp_store_sweep, &lp);
	log_info("lmtp[%u] ready", index);
	loop_run(lp.loop);
	/* batches in flight (the shutdown deadline passed): their syncs end, nothing more is
	 * committed, the files they staged and linked go */
	lp.stopped = true;
	while (lp.batches != NULL) {
		store_syncer_wait(lp.syncer);
		store_syncer_reap(lp.syncer);
	}
	loop_io_remove(&lp.syncer_io);
	store_syncer_destroy(&lp.syncer);

	loop_timer_remove(&lp.sweep_timer);
	loop_timer_remove(&lp.index_timer);
	for (size_t i = 0; i < lp.index_count; i++)
		free(lp.index_users[i]);
	free(lp.index_users);
	while (lp.queue_head != NULL) { /* clients cut off by the shutdown deadline */
		struct lmtp_job *j = lp.queue_head;
		lp.queue_head = j->next;
		free(j);
	}
	while (lp.lru_head != NULL)
		lmtp_store_free(&lp, lp.lru_head);
	store_pool_destroy(&lp.pool);
	hash_free(&lp.stores);
	store_stage_close(&lp.stage);
	return 0;
}
