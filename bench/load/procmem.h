/* procmem.h: memory of a server's process tree, read from /proc: the process and all its
 * descendants (Dovecot's imap processes, kura's children), summed. Rss counts shared pages
 * in every process; Pss divides them among the processes sharing them, so it adds up to
 * what the tree really costs. Needs permission to read /proc/PID/smaps_rollup (root, or the
 * same user). */
#ifndef KURA_LOAD_PROCMEM_H
#define KURA_LOAD_PROCMEM_H

#include <stdint.h>

struct procmem {
	unsigned procs;
	uint64_t rss, pss;  /* bytes */
};

/* 0, or -1 when pid does not exist or cannot be read. */
int procmem_tree(int pid, struct procmem *m);

#endif
