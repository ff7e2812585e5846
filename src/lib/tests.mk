TESTS += test-lib
test-lib_SRCS := src/lib/test-lib.c src/lib/buf.c src/lib/pool.c src/lib/base64.c \
	src/lib/secure.c src/lib/xmalloc.c src/lib/hash.c
TESTS += test-spool
test-spool_SRCS := src/lib/test-spool.c src/lib/spool.c src/lib/fdutil.c src/lib/xmalloc.c
