# Unit tests of the mail/ layer, each linked only with what it tests.
MAIL_LIB_SRCS := src/lib/buf.c src/lib/pool.c src/lib/xmalloc.c src/lib/secure.c

TESTS += test-header
test-header_SRCS := src/mail/test-header.c src/mail/header.c src/mail/address.c $(MAIL_LIB_SRCS)

TESTS += test-date
test-date_SRCS := src/mail/test-date.c src/mail/date.c

TESTS += test-charset
test-charset_SRCS := src/mail/test-charset.c src/mail/charset.c src/mail/rfc2047.c $(MAIL_LIB_SRCS)

TESTS += test-mutf7
test-mutf7_SRCS := src/mail/test-mutf7.c src/mail/mutf7.c src/mail/charset.c $(MAIL_LIB_SRCS)

TESTS += test-decode
test-decode_SRCS := src/mail/test-decode.c src/mail/decode.c $(MAIL_LIB_SRCS)

MAIL_MIME_SRCS := src/mail/mime.c src/mail/mime-parts.c src/mail/mime-param.c src/mail/header.c src/mail/rfc2047.c \
	src/mail/charset.c src/mail/decode.c

TESTS += test-mime
test-mime_SRCS := src/mail/test-mime.c $(MAIL_MIME_SRCS) $(MAIL_LIB_SRCS)

MAIL_RENDER_SRCS := src/mail/envelope.c src/mail/bodystructure.c src/mail/mail-string.c \
	src/mail/address.c

TESTS += test-envelope
test-envelope_SRCS := src/mail/test-envelope.c $(MAIL_RENDER_SRCS) $(MAIL_MIME_SRCS) $(MAIL_LIB_SRCS)

# Run from the repository root (or with KURA_SRCDIR set): reads tests/mime-corpus/.
TESTS += test-corpus
test-corpus_SRCS := src/mail/test-corpus.c src/mail/date.c $(MAIL_RENDER_SRCS) $(MAIL_MIME_SRCS) \
	$(MAIL_LIB_SRCS)

# Run from the repository root (or with KURA_SRCDIR set): reads tests/mime-corpus/.
TESTS += test-search-fold
test-search-fold_SRCS := src/mail/test-search-fold.c src/mail/search-fold.c src/mail/search-text.c \
	src/mail/html-text.c $(MAIL_MIME_SRCS) $(MAIL_LIB_SRCS)

TESTS += test-sort-keys
test-sort-keys_SRCS := src/mail/test-sort-keys.c src/mail/sort-keys.c src/mail/address.c src/mail/search-fold.c \
	$(MAIL_MIME_SRCS) $(MAIL_LIB_SRCS)
