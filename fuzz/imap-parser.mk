FUZZERS += fuzz-imap-parser
fuzz-imap-parser_SRCS := fuzz/fuzz-imap-parser.c src/imap/imap-parser.c src/lib/buf.c \
	src/lib/pool.c src/lib/xmalloc.c src/lib/secure.c
