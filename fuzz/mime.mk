FUZZERS += fuzz-mime
fuzz-mime_SRCS := fuzz/fuzz-mime.c src/mail/mime.c src/mail/mime-parts.c src/mail/mime-param.c src/mail/header.c \
	src/mail/address.c src/mail/date.c src/mail/rfc2047.c src/mail/charset.c src/mail/decode.c \
	src/mail/envelope.c src/mail/bodystructure.c src/mail/mail-string.c src/mail/mutf7.c \
	src/lib/buf.c src/lib/pool.c src/lib/xmalloc.c src/lib/secure.c
