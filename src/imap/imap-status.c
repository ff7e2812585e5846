/* imap-status.c: STATUS item parsing and rendering; the values are the store's counters, so
 * STATUS costs one row read whatever the mailbox size. */
#include "imap-status.h"

#include <strings.h>

#include "imap/imap-arg.h"
#include "imap/imap-mailbox.h"

static const struct {
	const char *name;
	unsigned bit;
} status_items[] = {
	{"MESSAGES", IMAP_STATUS_MESSAGES}, {"UIDNEXT", IMAP_STATUS_UIDNEXT},
	{"UIDVALIDITY", IMAP_STATUS_UIDVALIDITY}, {"UNSEEN", IMAP_STATUS_UNSEEN},
	{"DELETED", IMAP_STATUS_DELETED}, {"SIZE", IMAP_STATUS_SIZE},
	{"RECENT", IMAP_STATUS_RECENT}, {"APPENDLIMIT", IMAP_STATUS_APPENDLIMIT},
	{"HIGHESTMODSEQ", IMAP_STATUS_HIGHESTMODSEQ},
};

int imap_status_parse(const struct imap_arg *list, bool rev1, unsigned *items_r)
{
	*items_r = 0;
	if (list->type != IMAP_ARG_LIST || list->count == 0)
		return -1;
	for (size_t i = 0; i < list->count; i++) {
		unsigned bit = 0;
		for (size_t k = 0; k < sizeof(status_items) / sizeof(status_items[0]); k++)
			if (imap_arg_atom_equals(&list->list[i], status_items[k].name))
				bit = status_items[k].bit;
		if (bit == 0 || (bit == IMAP_STATUS_RECENT && !rev1))
			return -1;
		*items_r |= bit;
	}
	return 0;
}

void imap_status_render(struct buf *out, struct store *store, const struct store_mailbox *mb,
			unsigned items, bool utf8, size_t append_limit)
{
	buf_append_str(out, "* STATUS ");
	imap_mailbox_to_client(out, mb->name, utf8);
	buf_append_str(out, " (");
	const char *sep = "";
	if (items & IMAP_STATUS_MESSAGES) {
		buf_printf(out, "%sMESSAGES %u", sep, mb->messages);
		sep = " ";
	}
	if (items & IMAP_STATUS_UIDNEXT) {
		buf_printf(out, "%sUIDNEXT %u", sep, mb->uidnext);
		sep = " ";
	}
	if (items & IMAP_STATUS_UIDVALIDITY) {
		buf_printf(out, "%sUIDVALIDITY %u", sep, mb->uidvalidity);
		sep = " ";
	}
	if (items & IMAP_STATUS_UNSEEN) {
		buf_printf(out, "%sUNSEEN %u", sep, mb->unseen);
		sep = " ";
	}
	if (items & IMAP_STATUS_DELETED) {
		buf_printf(out, "%sDELETED %u", sep, mb->deleted);
		sep = " ";
	}
	if (items & IMAP_STATUS_SIZE) {
		buf_printf(out, "%sSIZE %llu", sep, (unsigned long long)mb->size);
		sep = " ";
	}
	if (items & IMAP_STATUS_RECENT) {
		/* the messages no IMAP4rev1 session has seen yet (store_recent_claim) */
		uint32_t recent = 0;
		const char *err;
		if (mb->first_recent_uid < mb->uidnext &&
		    store_recent_count(store, mb->id, mb->first_recent_uid, &recent, &err) < 0)
			recent = 0;
		buf_printf(out, "%sRECENT %u", sep, recent);
		sep = " ";
	}
	if (items & IMAP_STATUS_APPENDLIMIT) {
		buf_printf(out, "%sAPPENDLIMIT %zu", sep, append_limit);
		sep = " ";
	}
	/* every kura mailbox keeps MODSEQs, so never 0 (RFC 7162 3.1.7: 0 would be NOMODSEQ) */
	if (items & IMAP_STATUS_HIGHESTMODSEQ)
		buf_printf(out, "%sHIGHESTMODSEQ %llu", sep, (unsigned long long)mb->highestmodseq);
	buf_append_str(out, ")\r\n");
}
