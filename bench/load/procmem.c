/* procmem.c: walk /proc for a process tree and sum smaps_rollup. Trap: the parent pid is the
 * 4th field of /proc/PID/stat, after the command name in parentheses, which may itself
 * contain spaces and parentheses, so parse from the last ')'. */
#include "procmem.h"

#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdbool.h>

#include "lib/xmalloc.h"

static int procmem_ppid(int pid)
{
	char path[64], buf[512];
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
	return (int)strtol(p + 4, NULL, 10);
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

int procmem_tree(int root, struct procmem *m)
{
	memset(m, 0, sizeof(*m));
	DIR *d = opendir("/proc");
	if (d == NULL)
		return -1;
	size_t n = 0, alloc = 1024;
	int *pids = xmalloc(alloc * sizeof(*pids));
	int *ppids = xmalloc(alloc * sizeof(*ppids));
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		int pid = (int)strtol(e->d_name, NULL, 10);
		int ppid = procmem_ppid(pid);
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
	int found = 0;
	for (size_t i = 0; i < n; i++) {
		size_t k = i;
		char verdict = 2;
		/* climb until the root, a known verdict or the top (pid 0/1 or a vanished parent) */
		for (int depth = 0; depth < 4096; depth++) {
			if (pids[k] == root) {
				verdict = 1;
				found = 1;
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
	for (size_t i = 0; i < n; i++) {
		if (in_tree[i] == 1)
			procmem_add(pids[i], m);
	}
	free(in_tree);
	free(pids);
	free(ppids);
	return found && m->procs > 0 ? 0 : -1;
}
