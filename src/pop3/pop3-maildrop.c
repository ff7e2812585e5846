/* pop3-maildrop.c: INBOX's snapshot for a POP3 session and its UPDATE (pop3-maildrop.h).
 * Traps: message numbers are indexes into the snapshot, never looked up again in the store;
 * a UID that vanished meanwhile is simply missing from the store's answers. */
#include "pop3-maildrop.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/pool.h"
#include "lib/xmalloc.h"
#include "store/store.h"

struct maildrop_load {
	struct pop3_maildrop *md;
	uint32_t alloc;
};

static int maildrop_load_cb(void *ctx, const struct store_msg *msg, uint64_t size)
{
	struct maildrop_load *ml = ctx;
	struct pop3_maildrop *md = ml->md;
	if (md->count == ml->alloc) {
		ml->alloc = ml->alloc == 0 ? 64 : ml->alloc * 2;
		size_t bytes;
		if (size_mul(ml->alloc, sizeof(*md->msgs), &bytes) < 0)
			xabort("maildrop too big");
		md->msgs = xrealloc(md->msgs, bytes);
	}
	struct pop3_msg *m = &md->msgs[md->count++];
	m->uid = msg->uid;
	m->seen = (msg->flags & STORE_FLAG_SEEN) != 0;
	m->deleted = 0;
	m->size = size;
	md->total_size += size;
	return 0;
}

int pop3_maildrop_open(struct store *store, struct pop3_maildrop **md_r, const char **error_r)
{
	struct store_mailbox *mb = xmalloc(sizeof(*mb));
	int ret = store_mailbox_get(store, "INBOX", mb);
	struct pop3_maildrop *md = xcalloc(1, sizeof(*md));
	md->store = store;
	if (ret > 0) {
		struct maildrop_load ml = {.md = md};
		/* 0: INBOX was deleted and recreated between the two calls (it cannot be, but
		 * renaming INBOX gives it a new id): an empty maildrop is the honest answer */
		ret = store_message_sizes(store, mb->id, mb, maildrop_load_cb, &ml, error_r);
		if (ret == 0)
			md->count = 0;
	} else if (ret == 0) {
		*error_r = "INBOX does not exist";
		ret = -1;
	} else {
		*error_r = "Cannot read INBOX";
	}
	if (ret < 0) {
		free(mb);
		pop3_maildrop_free(&md);
		return -1;
	}
	md->mailbox_id = mb->id;
	md->uidvalidity = mb->uidvalidity;
	free(mb);
	*md_r = md;
	return 0;
}

void pop3_maildrop_free(struct pop3_maildrop **mdp)
{
	struct pop3_maildrop *md = *mdp;
	if (md == NULL)
		return;
	*mdp = NULL;
	free(md->msgs);
	free(md);
}

struct pop3_msg *pop3_maildrop_get(struct pop3_maildrop *md, uint32_t n)
{
	if (n == 0 || n > md->count || md->msgs[n - 1].deleted)
		return NULL;
	return &md->msgs[n - 1];
}

void pop3_maildrop_mark(struct pop3_maildrop *md, uint32_t n)
{
	struct pop3_msg *m = pop3_maildrop_get(md, n);
	if (m == NULL)
		return;
	m->deleted = 1;
	md->deleted_count++;
	md->deleted_size += m->size;
}

void pop3_maildrop_unmark_all(struct pop3_maildrop *md)
{
	for (uint32_t i = 0; i < md->count; i++)
		md->msgs[i].deleted = 0;
	md->deleted_count = 0;
	md->deleted_size = 0;
}

int pop3_maildrop_open_body(struct pop3_maildrop *md, uint32_t n, int *fd_r,
			    const char **error_r)
{
	struct pop3_msg *m = &md->msgs[n - 1];
	struct pool *pool = pool_create(1024);
	struct store_msg_info info;
	int ret = store_message_info(md->store, md->mailbox_id, m->uid, pool, &info, error_r);
	if (ret > 0) {
		int fd = store_body_open(md->store, info.body_id, error_r);
		if (fd >= 0)
			*fd_r = fd;
		else
			ret = store_last_error(md->store) == STORE_ERR_NOT_FOUND ? 0 : -1;
	}
	pool_destroy(&pool);
	return ret;
}

int pop3_maildrop_set_seen(struct pop3_maildrop *md, uint32_t n, const char **error_r)
{
	struct pop3_msg *m = &md->msgs[n - 1];
	if (m->seen)
		return 0;
	struct store_flag_change change = {.mode = STORE_FLAGS_ADD, .flags = STORE_FLAG_SEEN};
	if (store_set_flags(md->store, md->mailbox_id, &m->uid, 1, &change, NULL, NULL, NULL,
			    error_r) < 0)
		return -1;
	m->seen = 1;
	return 0;
}

static int maildrop_expunged_cb(void *ctx, uint32_t uid)
{
	(*(uint32_t *)ctx)++;
	return 0;
}

int pop3_maildrop_update(struct pop3_maildrop *md, uint32_t *removed_r, const char **error_r)
{
	*removed_r = 0;
	if (md->deleted_count == 0)
		return 0;
	uint32_t *uids = xcalloc(md->deleted_count, sizeof(*uids));
	size_t k = 0;
	for (uint32_t i = 0; i < md->count; i++) {
		if (md->msgs[i].deleted)
			uids[k++] = md->msgs[i].uid; /* ascending: the snapshot is in UID order */
	}
	int ret = store_expunge(md->store, md->mailbox_id, uids, k, maildrop_expunged_cb,
				removed_r, error_r);
	free(uids);
	return ret < 0 ? -1 : 0;
}
