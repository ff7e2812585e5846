TESTS += test-imap-parser test-imap-arg
test-imap-parser_SRCS := src/imap/test-imap-parser.c src/imap/imap-parser.c src/lib/buf.c \
	src/lib/pool.c src/lib/xmalloc.c src/lib/secure.c
test-imap-arg_SRCS := src/imap/test-imap-arg.c src/imap/imap-arg.c src/imap/imap-parser.c \
	src/lib/buf.c src/lib/pool.c src/lib/xmalloc.c src/lib/secure.c
TESTS += test-imap-seqset
test-imap-seqset_SRCS := src/imap/test-imap-seqset.c src/imap/imap-seqset.c src/imap/imap-mailbox.c \
	src/imap/imap-arg.c $(foreach f,$(wildcard src/store/*.c src/mail/*.c),$(if $(findstring /test-,$(f)),,$(f))) \
	src/lib/buf.c src/lib/pool.c src/lib/xmalloc.c src/lib/secure.c src/lib/fdutil.c src/lib/log.c
TESTS += test-imap-fetch
test-imap-fetch_SRCS := src/imap/test-imap-fetch.c src/imap/imap-fetch.c src/imap/imap-fetch-body.c \
	src/imap/imap-arg.c src/imap/imap-parser.c src/mail/mime.c src/mail/mime-parts.c src/mail/mime-param.c \
	src/mail/header.c src/mail/rfc2047.c src/mail/charset.c src/mail/decode.c \
	src/lib/buf.c src/lib/pool.c src/lib/xmalloc.c src/lib/secure.c
TESTS += test-imap-search
test-imap-search_SRCS := src/imap/test-imap-search.c src/imap/imap-search.c src/imap/imap-seqset.c \
	src/imap/imap-arg.c src/imap/imap-parser.c \
	$(foreach f,$(wildcard src/store/*.c src/mail/*.c),$(if $(findstring /test-,$(f)),,$(f))) \
	src/lib/buf.c src/lib/pool.c src/lib/xmalloc.c src/lib/secure.c src/lib/fdutil.c src/lib/log.c
TESTS += test-imap-thread
test-imap-thread_SRCS := src/imap/test-imap-thread.c src/imap/imap-thread.c src/lib/buf.c \
	src/lib/pool.c src/lib/xmalloc.c src/lib/secure.c
