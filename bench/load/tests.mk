TESTS += test-load-resp
test-load-resp_SRCS := bench/load/test-imap-resp.c bench/load/imap-resp.c src/lib/buf.c \
	src/lib/pool.c src/lib/xmalloc.c src/lib/secure.c
FUZZERS += fuzz-load-resp
fuzz-load-resp_SRCS := bench/load/fuzz-imap-resp.c bench/load/imap-resp.c src/lib/buf.c \
	src/lib/pool.c src/lib/xmalloc.c src/lib/secure.c
