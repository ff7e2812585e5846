/* imap-thread.c: RFC 5256 THREAD=ORDEREDSUBJECT and THREAD=REFERENCES (imap-thread.h).
 * Works in slices (imap_thread_step), so threading 100k messages never holds the loop: every
 * loop over messages or nodes keeps its position in struct imap_thread and looks at the clock.
 * Traps: a References chain can be as deep as the mailbox is long, so nothing here recurses:
 * the tree is walked through an explicit pre-order list (children after their parent; read
 * backwards it is a post-order) and rendered with an explicit stack; links are never made
 * when they would close a loop (RFC 5256 3 steps 1A/1B); dummies live only under the root
 * once step 3 is done, and the sort key of a dummy is its first child's. */
#include "imap-thread.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/xmalloc.h"

/* work between two looks at the clock */
#define THREAD_CHECK_EVERY 512

struct tnode {
	int msg; /* index into msgs, -1 for a dummy */
	struct tnode *parent, *child, *last, *next, *prev;
};

struct thread_slot {
	const char *id;
	size_t len;
	struct tnode *node;
};

struct thread_ctx {
	const struct store_thread_msg *msgs;
	size_t count;
	struct pool *pool;
	struct tnode root;
	struct tnode **all;      /* every node made (messages and dummies) */
	size_t nall, aall;
	/* message-id -> node (open addressing) */
	struct thread_slot *slots;
	size_t nslots, used;
};

struct thread_frame {
	const struct tnode *n;
	const struct tnode *cur; /* next child to open, while listing children */
	bool listing;
	bool close;              /* a ")" is due when the frame ends */
};

enum thread_phase {
	TP_LINK,        /* REFERENCES (1): a message at a time */
	TP_ROOTS,       /* (2) */
	TP_PRUNE,       /* (3): nodes in reverse pre-order */
	TP_SORT_TOP,    /* (4) */
	TP_SUBJECTS,    /* (5B) */
	TP_MERGE,       /* (5C) */
	TP_SORT_ALL,    /* (6): nodes in reverse pre-order */
	TP_OS_GROUP,    /* ORDEREDSUBJECT: group the subject-sorted messages */
	TP_OS_SORT,
	TP_RENDER,      /* a top-level thread at a time */
	TP_DONE,
};

struct imap_thread {
	struct thread_ctx t;
	enum imap_thread_alg alg;
	const uint32_t *numbers;
	enum thread_phase phase;
	size_t pos;
	struct tnode **order;    /* pre-order (prune, sort), or the top level (step 5) */
	size_t order_count;
	size_t *idx;             /* ORDEREDSUBJECT: messages in subject order */
	struct tnode *head;      /* ORDEREDSUBJECT: the thread being grouped */
	struct thread_ctx st;    /* step 5's subject table */
	struct tnode **tmp;      /* scratch for sorting siblings */
	size_t tmp_alloc;
	const struct tnode *render; /* the next top-level thread to render */
	struct thread_frame *stack;
	size_t stack_alloc;
};

static struct tnode *thread_node(struct thread_ctx *t, int msg)
{
	struct tnode *n = pool_alloc(t->pool, sizeof(*n));
	n->msg = msg;
	if (t->nall == t->aall) {
		t->aall = t->aall ? t->aall * 2 : 64;
		t->all = xrealloc(t->all, t->aall * sizeof(*t->all));
	}
	t->all[t->nall++] = n;
	return n;
}

/* Sibling lists are doubly linked: the root can have as many children as the mailbox has
 * messages, and step 5 moves them one by one. */
static void thread_unlink(struct tnode *c)
{
	struct tnode *p = c->parent;
	if (p == NULL)
		return;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		p->child = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	else
		p->last = c->prev;
	c->parent = NULL;
	c->next = c->prev = NULL;
}

/* Append c to list (head, last) of parent p. */
static void thread_append(struct tnode *p, struct tnode **head, struct tnode **last,
			  struct tnode *c)
{
	c->parent = p;
	c->next = NULL;
	c->prev = *last;
	if (*last != NULL)
		(*last)->next = c;
	else
		*head = c;
	*last = c;
}

static void thread_link(struct tnode *p, struct tnode *c)
{
	thread_unlink(c);
	thread_append(p, &p->child, &p->last, c);
}

/* a is an ancestor of (or is) b */
static bool thread_ancestor(const struct tnode *a, const struct tnode *b)
{
	for (; b != NULL; b = b->parent) {
		if (a == b)
			return true;
	}
	return false;
}

static uint64_t thread_hash(const char *s, size_t len)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
	return h;
}

static void thread_table_grow(struct thread_ctx *t)
{
	size_t old = t->nslots;
	struct thread_slot *slots = t->slots;
	t->nslots = old ? old * 2 : 1024;
	t->slots = xcalloc(t->nslots, sizeof(*t->slots));
	t->used = 0;
	for (size_t i = 0; i < old; i++) {
		if (slots[i].node == NULL)
			continue;
		size_t k = thread_hash(slots[i].id, slots[i].len) & (t->nslots - 1);
		while (t->slots[k].node != NULL)
			k = (k + 1) & (t->nslots - 1);
		t->slots[k] = slots[i];
		t->used++;
	}
	free(slots);
}

/* The slot of id (its node NULL if absent). */
static size_t thread_find(struct thread_ctx *t, const char *id, size_t len)
{
	if (t->used * 2 >= t->nslots)
		thread_table_grow(t);
	size_t k = thread_hash(id, len) & (t->nslots - 1);
	while (t->slots[k].node != NULL &&
	       (t->slots[k].len != len || memcmp(t->slots[k].id, id, len) != 0))
		k = (k + 1) & (t->nslots - 1);
	return k;
}

static void thread_insert(struct thread_ctx *t, size_t slot, const char *id, size_t len,
			  struct tnode *n)
{
	t->slots[slot].id = id;
	t->slots[slot].len = len;
	t->slots[slot].node = n;
	t->used++;
}

/* RFC 5256 3: a msg-id normalised: quoting removed ("<\"a\"@b>" is "<a@b>"), white space
 * dropped. From the pool. */
static const char *thread_norm(struct thread_ctx *t, const unsigned char *s, size_t len,
			       size_t *len_r)
{
	char *out = pool_alloc(t->pool, len + 1);
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = s[i];
		if (c == '\\' && i + 1 < len) {
			out[n++] = (char)s[++i];
			continue;
		}
		if (c == '"' || c == ' ' || c == '\t')
			continue;
		out[n++] = (char)c;
	}
	*len_r = n;
	return out;
}

/* The node of a referenced id: the message's, or a dummy made now. */
static struct tnode *thread_ref(struct thread_ctx *t, const char *id, size_t len)
{
	size_t k = thread_find(t, id, len);
	if (t->slots[k].node != NULL)
		return t->slots[k].node;
	struct tnode *d = thread_node(t, -1);
	thread_insert(t, k, id, len, d);
	return d;
}

/* sort key: (date, mailbox order) of the node or, for a dummy, of its first child */
static const struct tnode *thread_key_node(const struct tnode *n)
{
	while (n->msg < 0 && n->child != NULL)
		n = n->child;
	return n;
}

static int thread_date_cmp(const void *x, const void *y, void *ctx)
{
	const struct thread_ctx *t = ctx;
	const struct tnode *a = thread_key_node(*(struct tnode *const *)x);
	const struct tnode *b = thread_key_node(*(struct tnode *const *)y);
	if (a->msg < 0 || b->msg < 0)
		return (a->msg >= 0) - (b->msg >= 0);
	int64_t da = t->msgs[a->msg].date, db = t->msgs[b->msg].date;
	if (da != db)
		return da < db ? -1 : 1;
	return a->msg < b->msg ? -1 : a->msg > b->msg;
}

/* Sort the children of p by sent date. */
static void thread_sort_children(struct thread_ctx *t, struct tnode *p, struct tnode ***tmp,
				 size_t *tmp_alloc)
{
	size_t n = 0;
	for (struct tnode *c = p->child; c != NULL; c = c->next)
		n++;
	if (n < 2)
		return;
	if (n > *tmp_alloc) {
		*tmp_alloc = n;
		*tmp = xrealloc(*tmp, n * sizeof(**tmp));
	}
	n = 0;
	for (struct tnode *c = p->child; c != NULL; c = c->next)
		(*tmp)[n++] = c;
	qsort_r(*tmp, n, sizeof(**tmp), thread_date_cmp, t);
	p->child = NULL;
	p->last = NULL;
	for (size_t i = 0; i < n; i++)
		thread_append(p, &p->child, &p->last, (*tmp)[i]);
}

/* Every node under the root, parents before children. */
static struct tnode **thread_preorder(struct thread_ctx *t, size_t *count_r)
{
	struct tnode **order = xcalloc(t->nall + 1, sizeof(*order));
	struct tnode **stack = xcalloc(t->nall + 1, sizeof(*stack));
	size_t n = 0, sp = 0;
	stack[sp++] = &t->root;
	while (sp > 0) {
		struct tnode *x = stack[--sp];
		order[n++] = x;
		for (struct tnode *c = x->child; c != NULL; c = c->next)
			stack[sp++] = c;
	}
	free(stack);
	*count_r = n;
	return order;
}

/* Step 3 for the children of p (whose own children are pruned already): dummies without
 * children go; a dummy's children replace it, except that at the root only a single child is
 * promoted. */
static void thread_prune_children(struct thread_ctx *t, struct tnode *p)
{
	struct tnode *c = p->child, *kids = NULL, *last = NULL;
	while (c != NULL) {
		struct tnode *next = c->next;
		if (c->msg < 0 && c->child == NULL) {
			c->parent = c->next = c->prev = NULL;
		} else if (c->msg < 0 && (p != &t->root || c->child->next == NULL)) {
			/* splice its children in its place */
			for (struct tnode *g = c->child; g != NULL;) {
				struct tnode *gn = g->next;
				thread_append(p, &kids, &last, g);
				g = gn;
			}
			c->child = c->last = NULL;
			c->parent = c->next = c->prev = NULL;
		} else {
			thread_append(p, &kids, &last, c);
		}
		c = next;
	}
	p->child = kids;
	p->last = last;
}

static const struct store_thread_str *thread_subject(const struct thread_ctx *t,
						      const struct tnode *n)
{
	n = thread_key_node(n);
	return n->msg >= 0 ? &t->msgs[n->msg].subject : NULL;
}

static bool thread_reply(const struct thread_ctx *t, const struct tnode *n)
{
	return n->msg >= 0 && t->msgs[n->msg].reply;
}

/* (5B) the subject table gets c, or keeps what it has */
static void thread_subject_enter(struct imap_thread *th, struct tnode *c)
{
	struct thread_ctx *t = &th->t;
	const struct store_thread_str *s = thread_subject(t, c);
	if (s == NULL || s->len == 0)
		return;
	size_t k = thread_find(&th->st, (const char *)s->p, s->len);
	struct tnode *old = th->st.slots[k].node;
	if (old == NULL)
		thread_insert(&th->st, k, (const char *)s->p, s->len, c);
	else if (old->msg >= 0 && (c->msg < 0 || (thread_reply(t, old) && !thread_reply(t, c))))
		th->st.slots[k].node = c;
}

/* (5C) c joins the thread of its subject */
static void thread_subject_merge(struct imap_thread *th, struct tnode *c)
{
	struct thread_ctx *t = &th->t;
	if (c->parent != &t->root)
		return; /* merged into another thread meanwhile */
	const struct store_thread_str *s = thread_subject(t, c);
	if (s == NULL || s->len == 0)
		return;
	size_t k = thread_find(&th->st, (const char *)s->p, s->len);
	struct tnode *old = th->st.slots[k].node;
	if (old == NULL || old == c)
		return;
	if (old->msg < 0 && c->msg < 0) {
		while (c->child != NULL)
			thread_link(old, c->child);
		thread_unlink(c);
	} else if (old->msg < 0) {
		thread_link(old, c);
	} else if (thread_reply(t, c) && !thread_reply(t, old)) {
		thread_link(old, c);
	} else {
		struct tnode *d = thread_node(t, -1);
		thread_link(&t->root, d);
		thread_link(d, old);
		thread_link(d, c);
		th->st.slots[k].node = d;
	}
}

/* (1) message i: its node, the links of its references, its parent */
static void thread_link_message(struct thread_ctx *t, size_t i)
{
	const struct store_thread_msg *m = &t->msgs[i];
	size_t idlen;
	const char *id = thread_norm(t, m->message_id.p, m->message_id.len, &idlen);
	struct tnode *c = NULL;
	if (idlen > 0) {
		size_t k = thread_find(t, id, idlen);
		struct tnode *old = t->slots[k].node;
		if (old == NULL) {
			c = thread_node(t, (int)i);
			thread_insert(t, k, id, idlen, c);
		} else if (old->msg < 0) {
			c = old; /* referenced before it came: the dummy becomes it */
			c->msg = (int)i;
		}
		/* else a duplicate id: this message gets a unique one (none) */
	}
	if (c == NULL)
		c = thread_node(t, (int)i);
	/* (1A) link the references in a chain, never re-parenting, never in a loop */
	struct tnode *prev = NULL;
	const unsigned char *p = m->references.p, *end = p + m->references.len;
	while (p != NULL && p < end) {
		const unsigned char *sp = memchr(p, ' ', (size_t)(end - p));
		const unsigned char *e = sp != NULL ? sp : end;
		size_t rlen;
		const char *r = thread_norm(t, p, (size_t)(e - p), &rlen);
		p = sp != NULL ? sp + 1 : end;
		if (rlen == 0)
			continue;
		struct tnode *rc = thread_ref(t, r, rlen);
		/* a loop needs rc to have descendants: skip the walk when it has none */
		if (prev != NULL && rc != prev && rc->parent == NULL &&
		    (rc->child == NULL || !thread_ancestor(rc, prev)))
			thread_link(prev, rc);
		prev = rc;
	}
	/* (1B) the last reference is the parent */
	thread_unlink(c);
	if (prev != NULL && prev != c && (c->child == NULL || !thread_ancestor(c, prev)))
		thread_link(prev, c);
}

static int thread_subject_cmp(const void *x, const void *y, void *ctx)
{
	const struct thread_ctx *t = ctx;
	const struct store_thread_msg *a = &t->msgs[*(const size_t *)x];
	const struct store_thread_msg *b = &t->msgs[*(const size_t *)y];
	size_t n = a->subject.len < b->subject.len ? a->subject.len : b->subject.len;
	int c = n > 0 ? memcmp(a->subject.p, b->subject.p, n) : 0;
	if (c == 0 && a->subject.len != b->subject.len)
		c = a->subject.len < b->subject.len ? -1 : 1;
	if (c == 0 && a->date != b->date)
		c = a->date < b->date ? -1 : 1;
	if (c == 0)
		c = *(const size_t *)x < *(const size_t *)y ? -1 : 1;
	return c;
}

/* thread-list contents of n (RFC 5256 5), without n's own parentheses; no recursion */
static void thread_emit(struct imap_thread *th, const struct tnode *top, struct buf *out)
{
	struct thread_frame *stack = th->stack;
	size_t sp = 0;
	stack[sp++] = (struct thread_frame){.n = top};
	while (sp > 0) {
		struct thread_frame *f = &stack[sp - 1];
		if (!f->listing) {
			const struct tnode *n = f->n;
			bool real = n->msg >= 0;
			if (real)
				buf_printf(out, "%u", th->numbers[n->msg]);
			if (n->child == NULL) {
				if (f->close)
					buf_append_byte(out, ')');
				sp--;
				continue;
			}
			if (real)
				buf_append_byte(out, ' ');
			if (real && n->child->next == NULL) {
				/* one child: the thread goes on inline ("1 2 3") */
				f->n = n->child;
				continue;
			}
			f->listing = true;
			f->cur = n->child;
		}
		if (f->cur == NULL) {
			if (f->close)
				buf_append_byte(out, ')');
			sp--;
			continue;
		}
		const struct tnode *c = f->cur;
		f->cur = c->next;
		buf_append_byte(out, '(');
		if (sp == th->stack_alloc) {
			th->stack_alloc *= 2;
			stack = th->stack = xrealloc(stack, th->stack_alloc * sizeof(*stack));
		}
		stack[sp++] = (struct thread_frame){.n = c, .close = true};
	}
}

struct imap_thread *imap_thread_begin(enum imap_thread_alg alg,
				      const struct store_thread_msg *msgs, const uint32_t *numbers,
				      size_t count, struct pool *pool)
{
	struct imap_thread *th = xcalloc(1, sizeof(*th));
	th->t.msgs = msgs;
	th->t.count = count;
	th->t.pool = pool;
	th->st.pool = pool;
	th->alg = alg;
	th->numbers = numbers;
	th->stack_alloc = 64;
	th->stack = xcalloc(th->stack_alloc, sizeof(*th->stack));
	if (alg == IMAP_THREAD_REFERENCES) {
		th->phase = TP_LINK;
	} else {
		/* ORDEREDSUBJECT: by base subject, then sent date (one sort) */
		th->idx = xcalloc(count ? count : 1, sizeof(size_t));
		for (size_t i = 0; i < count; i++)
			th->idx[i] = i;
		qsort_r(th->idx, count, sizeof(size_t), thread_subject_cmp, &th->t);
		th->phase = TP_OS_GROUP;
	}
	return th;
}

void imap_thread_end(struct imap_thread **thp)
{
	struct imap_thread *th = *thp;
	if (th == NULL)
		return;
	*thp = NULL;
	free(th->t.slots);
	free(th->t.all);
	free(th->st.slots);
	free(th->st.all);
	free(th->order);
	free(th->idx);
	free(th->tmp);
	free(th->stack);
	free(th);
}

static bool thread_time_up(const struct timespec *deadline)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > deadline->tv_sec ||
	       (now.tv_sec == deadline->tv_sec && now.tv_nsec >= deadline->tv_nsec);
}

int imap_thread_step(struct imap_thread *th, unsigned budget_ms, struct buf *out)
{
	struct thread_ctx *t = &th->t;
	struct timespec deadline;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += budget_ms / 1000;
	deadline.tv_nsec += (long)(budget_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	size_t work = 0;
#define THREAD_TICK()                                                                        \
	do {                                                                                 \
		if (++work % THREAD_CHECK_EVERY == 0 && thread_time_up(&deadline))            \
			return 0;                                                            \
	} while (0)
	for (;;) {
		switch (th->phase) {
		case TP_LINK:
			while (th->pos < t->count) {
				thread_link_message(t, th->pos++);
				THREAD_TICK();
			}
			th->phase = TP_ROOTS;
			th->pos = 0;
			break;
		case TP_ROOTS:
			/* (2) the parentless under the root */
			while (th->pos < t->nall) {
				struct tnode *n = t->all[th->pos++];
				if (n->parent == NULL)
					thread_link(&t->root, n);
				THREAD_TICK();
			}
			th->order = thread_preorder(t, &th->order_count);
			th->pos = th->order_count;
			th->phase = TP_PRUNE;
			break;
		case TP_PRUNE:
			while (th->pos > 0) {
				thread_prune_children(t, th->order[--th->pos]);
				THREAD_TICK();
			}
			free(th->order);
			th->order = NULL;
			th->phase = TP_SORT_TOP;
			break;
		case TP_SORT_TOP:
			/* (4) a dummy sorts by its sorted children's first */
			for (struct tnode *c = t->root.child; c != NULL; c = c->next) {
				if (c->msg < 0)
					thread_sort_children(t, c, &th->tmp, &th->tmp_alloc);
			}
			thread_sort_children(t, &t->root, &th->tmp, &th->tmp_alloc);
			/* step 5 walks a snapshot of the top level */
			th->order_count = 0;
			for (struct tnode *c = t->root.child; c != NULL; c = c->next)
				th->order_count++;
			th->order = xcalloc(th->order_count + 1, sizeof(*th->order));
			th->order_count = 0;
			for (struct tnode *c = t->root.child; c != NULL; c = c->next)
				th->order[th->order_count++] = c;
			th->pos = 0;
			th->phase = TP_SUBJECTS;
			if (thread_time_up(&deadline))
				return 0;
			break;
		case TP_SUBJECTS:
			while (th->pos < th->order_count) {
				thread_subject_enter(th, th->order[th->pos++]);
				THREAD_TICK();
			}
			th->pos = 0;
			th->phase = TP_MERGE;
			break;
		case TP_MERGE:
			while (th->pos < th->order_count) {
				thread_subject_merge(th, th->order[th->pos++]);
				THREAD_TICK();
			}
			free(th->order);
			th->order = thread_preorder(t, &th->order_count);
			th->pos = th->order_count;
			th->phase = TP_SORT_ALL;
			if (thread_time_up(&deadline))
				return 0;
			break;
		case TP_SORT_ALL:
			/* (6) children before parents: a dummy's first child is known in time */
			while (th->pos > 0) {
				thread_sort_children(t, th->order[--th->pos], &th->tmp, &th->tmp_alloc);
				THREAD_TICK();
			}
			free(th->order);
			th->order = NULL;
			th->phase = TP_RENDER;
			th->render = t->root.child;
			if (th->render != NULL)
				buf_append_byte(out, ' ');
			break;
		case TP_OS_GROUP:
			while (th->pos < t->count) {
				size_t i = th->idx[th->pos++];
				const struct store_thread_msg *m = &t->msgs[i];
				struct tnode *n = thread_node(t, (int)i);
				const struct store_thread_msg *h =
					th->head != NULL ? &t->msgs[th->head->msg] : NULL;
				if (h != NULL && h->subject.len == m->subject.len &&
				    (m->subject.len == 0 ||
				     memcmp(h->subject.p, m->subject.p, m->subject.len) == 0)) {
					/* the second and later messages are children of the first */
					thread_link(th->head, n);
				} else {
					thread_link(&t->root, n);
					th->head = n;
				}
				THREAD_TICK();
			}
			th->phase = TP_OS_SORT;
			break;
		case TP_OS_SORT:
			/* threads by the sent date of their first message */
			thread_sort_children(t, &t->root, &th->tmp, &th->tmp_alloc);
			th->phase = TP_RENDER;
			th->render = t->root.child;
			if (th->render != NULL)
				buf_append_byte(out, ' ');
			if (thread_time_up(&deadline))
				return 0;
			break;
		case TP_RENDER:
			while (th->render != NULL) {
				buf_append_byte(out, '(');
				thread_emit(th, th->render, out);
				buf_append_byte(out, ')');
				th->render = th->render->next;
				THREAD_TICK();
			}
			th->phase = TP_DONE;
			break;
		case TP_DONE:
			return 1;
		}
	}
#undef THREAD_TICK
}

void imap_thread_render(enum imap_thread_alg alg, const struct store_thread_msg *msgs,
			const uint32_t *numbers, size_t count, struct pool *pool, struct buf *out)
{
	struct imap_thread *th = imap_thread_begin(alg, msgs, numbers, count, pool);
	while (imap_thread_step(th, 1000, out) == 0)
		;
	imap_thread_end(&th);
}
