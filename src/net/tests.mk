TESTS += test-tls
test-tls_SRCS := src/net/test-tls.c src/net/tls.c src/lib/fdutil.c src/lib/log.c src/lib/buf.c src/lib/xmalloc.c src/lib/secure.c
TESTS += test-conn
test-conn_SRCS := src/net/test-conn.c src/net/conn.c src/net/loop.c src/lib/fdutil.c \
	src/lib/log.c src/lib/buf.c src/lib/xmalloc.c src/lib/secure.c
