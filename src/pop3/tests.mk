# Unit tests of the pop3/ layer: the command-line parser and the RETR/TOP encoder.
TESTS += test-pop3-parser test-pop3-body
test-pop3-parser_SRCS := src/pop3/test-pop3-parser.c src/pop3/pop3-parser.c
test-pop3-body_SRCS := src/pop3/test-pop3-body.c src/pop3/pop3-body.c src/lib/buf.c \
	src/lib/xmalloc.c src/lib/log.c src/lib/secure.c
