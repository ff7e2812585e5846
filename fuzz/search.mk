FUZZERS += fuzz-search
fuzz-search_SRCS := fuzz/fuzz-search.c src/imap/imap-search.c src/imap/imap-seqset.c \
	src/imap/imap-arg.c src/imap/imap-parser.c \
	$(foreach f,$(wildcard src/store/*.c src/mail/*.c),$(if $(findstring /test-,$(f)),,$(f))) \
	src/lib/buf.c src/lib/pool.c src/lib/xmalloc.c src/lib/secure.c src/lib/fdutil.c src/lib/log.c
