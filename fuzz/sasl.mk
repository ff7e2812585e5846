FUZZERS += fuzz-sasl
fuzz-sasl_SRCS := fuzz/fuzz-sasl.c src/auth/sasl.c src/auth/scram.c src/auth/userdb.c \
	src/auth/password.c src/lib/buf.c src/lib/base64.c src/lib/secure.c src/lib/xmalloc.c \
	src/lib/log.c
