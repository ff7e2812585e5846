FUZZERS += fuzz-pop3
fuzz-pop3_SRCS := fuzz/fuzz-pop3.c $(filter src/pop3/%.c,$(KURA_SRCS)) \
	$(filter-out src/cli/% src/daemon/% src/auth/%,$(filter src/lib/%.c src/net/%.c src/mail/%.c src/store/%.c,$(KURA_SRCS)))
