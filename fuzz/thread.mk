FUZZERS += fuzz-thread
fuzz-thread_SRCS := fuzz/fuzz-thread.c src/imap/imap-thread.c src/lib/buf.c src/lib/pool.c \
	src/lib/xmalloc.c src/lib/secure.c
