FUZZERS += fuzz-lmtp
fuzz-lmtp_SRCS := fuzz/fuzz-lmtp.c src/lmtp/lmtp-session.c src/lmtp/lmtp-parser.c \
	src/lmtp/lmtp-data.c src/lib/spool.c \
	$(filter src/lib/%.c src/net/%.c,$(KURA_SRCS))
