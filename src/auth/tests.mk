TESTS += test-password
test-password_SRCS := src/auth/test-password.c src/auth/password.c src/lib/secure.c \
	src/lib/xmalloc.c

TESTS += test-scram
test-scram_SRCS := src/auth/test-scram.c src/auth/scram.c src/lib/buf.c src/lib/base64.c \
	src/lib/secure.c src/lib/xmalloc.c

TESTS += test-userdb
test-userdb_SRCS := src/auth/test-userdb.c src/auth/userdb.c src/auth/password.c \
	src/auth/scram.c src/lib/buf.c src/lib/base64.c src/lib/secure.c src/lib/xmalloc.c

TESTS += test-sasl
test-sasl_SRCS := src/auth/test-sasl.c src/auth/sasl.c src/auth/userdb.c src/auth/password.c \
	src/auth/scram.c src/lib/buf.c src/lib/base64.c src/lib/secure.c src/lib/xmalloc.c \
	src/lib/log.c

TESTS += test-throttle
test-throttle_SRCS := src/auth/test-throttle.c src/auth/throttle.c src/lib/xmalloc.c
