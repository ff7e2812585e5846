/* test-store-util.h: helpers shared by the store tests (test-store.c, test-store-message.c):
 * a temporary root per test, a store for user "alice", message builders and collectors. */
#ifndef KURA_STORE_TEST_STORE_UTIL_H
#define KURA_STORE_TEST_STORE_UTIL_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/pool.h"
#include "lib/test.h"
#include "store/store.h"

static char test_root[128];

static inline int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static inline void root_new(void)
{
	snprintf(test_root, sizeof(test_root), "/tmp/kura-test-store-XXXXXX");
	if (mkdtemp(test_root) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
}

static inline void root_free(void)
{
	nftw(test_root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static inline struct store *open_store(void)
{
	struct store *store = NULL;
	const char *error = NULL;
	if (store_open(test_root, "alice", &store, &error) < 0) {
		printf("  store_open: %s\n", error);
		return NULL;
	}
	return store;
}

static inline uint64_t mailbox_id(struct store *store, const char *name)
{
	struct store_mailbox mb;
	if (store_mailbox_get(store, name, &mb) != 1)
		return 0;
	return mb.id;
}

static struct store_mailbox mb_buf;
static inline const struct store_mailbox *mb_get(struct store *store, const char *name)
{
	memset(&mb_buf, 0, sizeof(mb_buf));
	if (store_mailbox_get(store, name, &mb_buf) != 1)
		memset(&mb_buf, 0, sizeof(mb_buf));
	return &mb_buf;
}

/* A small message whose body makes it unique. */
static char msg_text[4][1024];
static inline const char *make_msg(int slot, const char *subject, const char *body)
{
	snprintf(msg_text[slot], sizeof(msg_text[slot]),
		 "From: Alice <alice@example.org>\r\nTo: bob@example.org\r\nSubject: %s\r\n"
		 "Date: Wed, 17 Jul 1996 02:44:25 -0700\r\nMessage-ID: <%s@example.org>\r\n"
		 "\r\n%s\r\n",
		 subject, subject, body);
	return msg_text[slot];
}

static inline int append1(struct store *store, uint64_t mbid, const char *text, uint8_t flags,
		   const char *const *kws, size_t kwn, uint32_t *uid_r)
{
	struct store_append a = {
		.data = (const unsigned char *)text, .size = strlen(text), .flags = flags,
		.keywords = kws, .keyword_count = kwn,
	};
	uint32_t uid = 0, uidv = 0;
	const char *error;
	int r = store_append(store, mbid, &a, 1, &uid, &uidv, &error);
	if (r < 0)
		printf("  store_append: %s\n", error);
	if (uid_r != NULL)
		*uid_r = uid;
	return r;
}

/* number of regular files under ROOT/alice/bodies */
static inline int body_files(void)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/alice/bodies", test_root);
	DIR *d = opendir(path);
	int n = 0;
	if (d == NULL)
		return -1;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		char sub[1024];
		snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
		DIR *s = opendir(sub);
		if (s == NULL)
			continue;
		struct dirent *e;
		while ((e = readdir(s)) != NULL) {
			if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
				n++;
		}
		closedir(s);
	}
	closedir(d);
	return n;
}

static inline void body_path(const char *hash, char *out, size_t size)
{
	snprintf(out, size, "%s/alice/bodies/%.2s/%s", test_root, hash, hash);
}

static inline int file_mode(const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return -1;
	return (int)(st.st_mode & 07777);
}

/* message_info body id of a UID */
static inline int body_id_of(struct store *store, uint64_t mbid, uint32_t uid, char out[65])
{
	struct pool *pool = pool_create(4096);
	struct store_msg_info info;
	const char *error;
	int r = store_message_info(store, mbid, uid, pool, &info, &error);
	if (r == 1)
		memcpy(out, info.body_id, 65);
	pool_destroy(&pool);
	return r;
}

/* ---- collectors ---- */

struct names {
	char v[32][STORE_MAILBOX_NAME_MAX + 1];
	unsigned special[32];
	bool subscribed[32];
	int n;
};

static inline int names_mb_cb(void *ctx, const struct store_mailbox *mb)
{
	struct names *n = ctx;
	if (n->n < 32) {
		memcpy(n->v[n->n], mb->name, sizeof(mb->name));
		n->special[n->n] = mb->special_use;
		n->subscribed[n->n] = mb->subscribed;
		n->n++;
	}
	return 0;
}

static inline int names_cb(void *ctx, const char *name)
{
	struct names *n = ctx;
	if (n->n < 32) {
		snprintf(n->v[n->n], sizeof(n->v[n->n]), "%s", name);
		n->n++;
	}
	return 0;
}

static inline bool names_has(const struct names *n, const char *name)
{
	for (int i = 0; i < n->n; i++) {
		if (strcmp(n->v[i], name) == 0)
			return true;
	}
	return false;
}

struct msgs {
	struct store_msg v[256];
	int n;
	int stop_after;
};

static inline int msgs_cb(void *ctx, const struct store_msg *msg)
{
	struct msgs *m = ctx;
	if (m->n < 256)
		m->v[m->n++] = *msg;
	if (m->stop_after > 0 && m->n >= m->stop_after)
		return -1;
	return 0;
}

struct uids {
	uint32_t v[256];
	int n;
};

static inline int uids_cb(void *ctx, uint32_t uid)
{
	struct uids *u = ctx;
	if (u->n < 256)
		u->v[u->n++] = uid;
	return 0;
}

#endif
