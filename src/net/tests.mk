TESTS += test-tls
test-tls_SRCS := src/net/test-tls.c src/net/tls.c src/lib/fdutil.c src/lib/log.c src/lib/buf.c src/lib/xmalloc.c src/lib/secure.c
