/* model.c: the client's sorted UID list. Appends are O(1); removals and lookups by UID are a
 * memmove and a binary search, cheap for the mailbox sizes a load test uses. */
#include "model.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap-resp.h"
#include "lib/xmalloc.h"

void model_init(struct model *m)
{
	memset(m, 0, sizeof(*m));
}

void model_free(struct model *m)
{
	free(m->msgs);
	free(m->old);
	memset(m, 0, sizeof(*m));
}

void model_rebuild_begin(struct model *m)
{
	free(m->old);
	m->old = m->msgs;
	m->old_count = m->count;
	m->msgs = NULL;
	m->count = m->alloc = 0;
}

void model_rebuild_end(struct model *m)
{
	free(m->old);
	m->old = NULL;
	m->old_count = 0;
}

uint32_t model_max_uid(const struct model *m)
{
	return m->count > 0 ? m->msgs[m->count - 1].uid : 0;
}

static bool model_search(const struct model_msg *msgs, size_t count, uint32_t uid, size_t *idx_r)
{
	size_t lo = 0, hi = count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (msgs[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	*idx_r = lo;
	return lo < count && msgs[lo].uid == uid;
}

bool model_find(const struct model *m, uint32_t uid, size_t *idx_r)
{
	return model_search(m->msgs, m->count, uid, idx_r);
}

int model_append(struct model *m, uint32_t uid, uint32_t size, uint32_t src, uint8_t flags)
{
	if (uid == 0 || uid <= model_max_uid(m))
		return -1;
	if (m->count == m->alloc) {
		m->alloc = m->alloc ? m->alloc * 2 : 64;
		m->msgs = xrealloc(m->msgs, m->alloc * sizeof(*m->msgs));
	}
	size_t old_idx;
	if (src == 0 && m->old != NULL && model_search(m->old, m->old_count, uid, &old_idx)) {
		src = m->old[old_idx].src;
		if (size == 0)
			size = m->old[old_idx].size;
	}
	m->msgs[m->count++] = (struct model_msg){.uid = uid, .size = size, .src = src, .flags = flags};
	return 0;
}

void model_remove_at(struct model *m, size_t idx)
{
	if (idx >= m->count)
		return;
	memmove(&m->msgs[idx], &m->msgs[idx + 1], (m->count - idx - 1) * sizeof(*m->msgs));
	m->count--;
}

static const struct {
	const char *name;
	uint8_t bit;
} model_flag_names[] = {
	{"\\Seen", MODEL_SEEN},       {"\\Answered", MODEL_ANSWERED}, {"\\Flagged", MODEL_FLAGGED},
	{"\\Deleted", MODEL_DELETED}, {"\\Draft", MODEL_DRAFT},
};

bool model_flags_parse(const struct imap_val *v, uint8_t *flags_r)
{
	uint8_t flags = 0;
	if (v == NULL || v->type != IMAP_VAL_LIST)
		return false;
	for (const struct imap_val *f = v->list; f != NULL; f = f->next) {
		if (f->type != IMAP_VAL_ATOM)
			return false;
		for (size_t i = 0; i < sizeof(model_flag_names) / sizeof(model_flag_names[0]); i++) {
			if (strcasecmp(f->str, model_flag_names[i].name) == 0)
				flags |= model_flag_names[i].bit;
		}
	}
	*flags_r = flags;
	return true;
}

const char *model_flag_name(uint8_t bit)
{
	for (size_t i = 0; i < sizeof(model_flag_names) / sizeof(model_flag_names[0]); i++) {
		if (model_flag_names[i].bit == bit)
			return model_flag_names[i].name;
	}
	return "?";
}
