FUZZERS += fuzz-preauth
fuzz-preauth_SRCS := fuzz/fuzz-preauth.c $(filter-out src/cli/% src/daemon/% src/auth/%,$(filter src/lib/%.c src/net/%.c src/imap/%.c src/mail/%.c src/store/%.c,$(KURA_SRCS)))
