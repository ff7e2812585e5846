/* xmalloc.c: allocation wrappers. Running out of memory is not recoverable for a server
 * process in a useful way; we log and abort so the master restarts the child. */
#include "xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void xabort(const char *what)
{
	char msg[256];
	int n = snprintf(msg, sizeof(msg), "kura[%ld]: fatal: %s\n", (long)getpid(), what);
	if (n > 0)
		(void)!write(STDERR_FILENO, msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1);
	abort();
}

void *xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);
	if (p == NULL)
		xabort("out of memory");
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	size_t total;
	if (size_mul(n, size, &total) < 0)
		xabort("allocation size overflow");
	void *p = calloc(total ? total : 1, 1);
	if (p == NULL)
		xabort("out of memory");
	return p;
}

void *xrealloc(void *p, size_t size)
{
	void *q = realloc(p, size ? size : 1);
	if (q == NULL)
		xabort("out of memory");
	return q;
}

char *xstrndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *p = xmalloc(len + 1);
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

char *xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}
