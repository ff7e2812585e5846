TESTS += test-load-resp
test-load-resp_SRCS := bench/load/test-imap-resp.c bench/load/imap-resp.c src/lib/buf.c \
	src/lib/pool.c src/lib/xmalloc.c src/lib/secure.c
FUZZERS += fuzz-load-resp
fuzz-load-resp_SRCS := bench/load/fuzz-imap-resp.c bench/load/imap-resp.c bench/load/smtp-resp.c \
	src/lib/buf.c src/lib/pool.c src/lib/xmalloc.c src/lib/secure.c
TESTS += test-load-smtp
test-load-smtp_SRCS := bench/load/test-smtp-resp.c bench/load/smtp-resp.c src/lib/buf.c \
	src/lib/xmalloc.c src/lib/secure.c
