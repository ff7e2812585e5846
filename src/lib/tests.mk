TESTS += test-lib
test-lib_SRCS := src/lib/test-lib.c src/lib/buf.c src/lib/pool.c src/lib/base64.c \
	src/lib/secure.c src/lib/xmalloc.c src/lib/hash.c
