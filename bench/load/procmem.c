/* procmem.c: walk /proc for a process tree and sum smaps_rollup (memory) or the CPU times in
 * stat. Trap: the parent pid is the 4th field of /proc/PID/stat, after the command name in
 * parentheses, which may itself contain spaces and parentheses, so parse from the last ')'.
 * A process reaped between the scan and the reading of its stat loses its time once (it left
 * its parent's cutime before, when the parent was read first): rare, and a few ticks. */
#include "procmem.h"

#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdbool.h>
#include <unistd.h>

#include "lib/xmalloc.h"

/* The 4th field (ppid) of /proc/PID/stat and, when cpu is not NULL, fields 14-17 (utime, stime,
 * cutime, cstime, in clock ticks). -1 when the process is gone or the line is not understood. */
static int procmem_stat(int pid, unsigned long long cpu[4])
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	FILE *f = fopen(path, "re");
	if (f == NULL)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	if (p == NULL || p[1] != ' ' || p[2] == '\0' || p[3] != ' ')
		return -1;
	char *end;
	long ppid = strtol(p + 4, &end, 10);
	if (cpu != NULL) {
		/* after ppid: pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt (9),
		 * then utime stime cutime cstime */
		for (int i = 0; i < 9 && end != NULL; i++) {
			end = strchr(end + 1, ' ');
		}
		for (int i = 0; i < 4; i++) {
			if (end == NULL || *end != ' ')
				return -1;
			cpu[i] = strtoull(end + 1, &end, 10);
		}
	}
	return (int)ppid;
}

static void procmem_add(int pid, struct procmem *m)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", pid);
	FILE *f = fopen(path, "re");
	if (f == NULL)
		return;
	m->procs++;
	while (fgets(line, sizeof(line), f) != NULL) {
		uint64_t *dst = NULL;
		const char *v = NULL;
		if (strncmp(line, "Rss:", 4) == 0) {
			dst = &m->rss;
			v = line + 4;
		} else if (strncmp(line, "Pss:", 4) == 0) {
			dst = &m->pss;
			v = line + 4;
		}
		if (dst != NULL)
			*dst += strtoull(v, NULL, 10) * 1024;
	}
	fclose(f);
}

/* The pids of root and its descendants (NULL with *n_r = 0 when root does not exist). */
static int *procmem_members(int root, size_t *n_r)
{
	*n_r = 0;
	DIR *d = opendir("/proc");
	if (d == NULL)
		return NULL;
	size_t n = 0, alloc = 1024;
	int *pids = xmalloc(alloc * sizeof(*pids));
	int *ppids = xmalloc(alloc * sizeof(*ppids));
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		int pid = (int)strtol(e->d_name, NULL, 10);
		int ppid = procmem_stat(pid, NULL);
		if (ppid < 0)
			continue;
		if (n == alloc) {
			alloc *= 2;
			pids = xrealloc(pids, alloc * sizeof(*pids));
			ppids = xrealloc(ppids, alloc * sizeof(*ppids));
		}
		pids[n] = pid;
		ppids[n] = ppid;
		n++;
	}
	closedir(d);
	/* membership by walking each process's ancestors, memoised: 0 unknown, 1 in, 2 out */
	int max_pid = 0;
	for (size_t i = 0; i < n; i++)
		max_pid = pids[i] > max_pid ? pids[i] : max_pid;
	size_t *index_of = xcalloc((size_t)max_pid + 1, sizeof(*index_of));
	for (size_t i = 0; i < n; i++)
		index_of[pids[i]] = i + 1;
	char *in_tree = xcalloc(n > 0 ? n : 1, 1);
	for (size_t i = 0; i < n; i++) {
		size_t k = i;
		char verdict = 2;
		/* climb until the root, a known verdict or the top (pid 0/1 or a vanished parent) */
		for (int depth = 0; depth < 4096; depth++) {
			if (pids[k] == root) {
				verdict = 1;
				break;
			}
			if (in_tree[k] != 0) {
				verdict = in_tree[k];
				break;
			}
			int pp = ppids[k];
			if (pp <= 0 || pp > max_pid || index_of[pp] == 0)
				break;
			k = index_of[pp] - 1;
		}
		in_tree[i] = verdict;
	}
	free(index_of);
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		if (in_tree[i] == 1)
			pids[m++] = pids[i];
	}
	free(in_tree);
	free(ppids);
	if (m == 0) {
		free(pids);
		return NULL;
	}
	*n_r = m;
	return pids;
}

int procmem_tree(int root, struct procmem *m)
{
	memset(m, 0, sizeof(*m));
	size_t n;
	int *pids = procmem_members(root, &n);
	for (size_t i = 0; i < n; i++)
		procmem_add(pids[i], m);
	free(pids);
	return m->procs > 0 ? 0 : -1;
}

int proccpu_tree(int root, struct proccpu *c)
{
	static long ticks_per_s;
	if (ticks_per_s <= 0)
		ticks_per_s = sysconf(_SC_CLK_TCK);
	memset(c, 0, sizeof(*c));
	size_t n;
	int *pids = procmem_members(root, &n);
	unsigned long long user = 0, sys = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned long long t[4];
		if (procmem_stat(pids[i], t) < 0)
			continue;   /* exited since the scan: its time moves to its parent's cutime */
		c->procs++;
		user += t[0] + t[2];
		sys += t[1] + t[3];
	}
	free(pids);
	if (ticks_per_s <= 0 || c->procs == 0)
		return -1;
	c->user = (double)user / (double)ticks_per_s;
	c->system = (double)sys / (double)ticks_per_s;
	return 0;
}
