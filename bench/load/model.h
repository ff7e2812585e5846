/* model.h: what one simulated client knows about its selected mailbox: the messages' UIDs in
 * ascending order (so index + 1 is the sequence number while the model matches the server),
 * their flags, their sizes and, for messages this run appended, which mbox message they are
 * (so FETCH BODY[] can be compared byte for byte, through a hash).
 *
 * The model is a prefix of the server's list: messages announced by EXISTS but not yet
 * fetched are newer than every known one. Capacity grows on demand without a limit (a
 * mailbox of 100,000 messages takes 1.6 MB). */
#ifndef KURA_LOAD_MODEL_H
#define KURA_LOAD_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct imap_val;

#define MODEL_SEEN 0x01u
#define MODEL_ANSWERED 0x02u
#define MODEL_FLAGGED 0x04u
#define MODEL_DELETED 0x08u
#define MODEL_DRAFT 0x10u

struct model_msg {
	uint32_t uid;
	uint32_t size;   /* RFC822.SIZE, 0 while unknown */
	uint32_t src;    /* mbox message index + 1, 0 when not appended by this client */
	uint8_t flags;   /* MODEL_* */
};

struct model {
	struct model_msg *msgs;
	size_t count, alloc;
	/* during a full resync: the previous contents, to carry src over */
	struct model_msg *old;
	size_t old_count;
};

void model_init(struct model *m);
void model_free(struct model *m);
/* Empty the model, keeping the entries aside so model_append() can carry their src over. */
void model_rebuild_begin(struct model *m);
void model_rebuild_end(struct model *m);

uint32_t model_max_uid(const struct model *m);  /* 0 when empty */
/* Index of uid, true if present. */
bool model_find(const struct model *m, uint32_t uid, size_t *idx_r);
/* Add a message newer than all others. -1 (unchanged) when uid <= model_max_uid(). */
int model_append(struct model *m, uint32_t uid, uint32_t size, uint32_t src, uint8_t flags);
void model_remove_at(struct model *m, size_t idx);

/* Parse a FLAGS list into MODEL_* bits; keywords and \Recent are ignored. false if v is not a
 * list of atoms. */
bool model_flags_parse(const struct imap_val *v, uint8_t *flags_r);
/* "\\Seen" etc. for one bit. */
const char *model_flag_name(uint8_t bit);

#endif
