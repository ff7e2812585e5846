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

/* CPU time of a process tree: utime+cutime and stime+cstime of every process in it. The
 * children's times (cutime, cstime) hold the processes that exited and were reaped by a
 * member of the tree, so the sum only grows while the tree lives, also when processes come and
 * go (Dovecot forks one imap process per connection and reaps it at logout): the difference of
 * two readings is the CPU the tree used in between. Not counted: a process reaped by something
 * outside the tree (reparented to init), and the time of a process that exited but was not yet
 * reaped is counted as its own (zombies keep their stat), so nothing is counted twice. */
struct proccpu {
	unsigned procs;
	double user, system;   /* seconds */
};

/* 0, or -1 when pid does not exist or cannot be read. */
int proccpu_tree(int pid, struct proccpu *c);

#endif
