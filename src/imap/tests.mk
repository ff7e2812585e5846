TESTS += test-imap-parser test-imap-arg
test-imap-parser_SRCS := src/imap/test-imap-parser.c src/imap/imap-parser.c src/lib/buf.c \
	src/lib/pool.c src/lib/xmalloc.c src/lib/secure.c
test-imap-arg_SRCS := src/imap/test-imap-arg.c src/imap/imap-arg.c src/imap/imap-parser.c \
	src/lib/buf.c src/lib/pool.c src/lib/xmalloc.c src/lib/secure.c
