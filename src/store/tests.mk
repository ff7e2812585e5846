# Unit tests of the store/ layer: the embedded backend with the mail/ renderers it caches from.
STORE_SRCS := src/store/store.c src/store/store-db.c src/store/store-name.c \
	src/store/store-body.c src/store/store-mailbox.c src/store/store-message.c \
	src/store/store-notify.c src/store/store-check.c src/store/store-index.c \
	src/store/store-search.c src/store/store-sort.c src/store/store-park.c \
	src/store/store-state.c src/store/store-stage.c src/store/store-sync.c
STORE_DEP_SRCS := src/mail/envelope.c src/mail/bodystructure.c src/mail/mail-string.c \
	src/mail/address.c src/mail/mime.c src/mail/mime-parts.c src/mail/mime-param.c src/mail/header.c \
	src/mail/rfc2047.c src/mail/charset.c src/mail/decode.c src/mail/date.c \
	src/mail/search-fold.c src/mail/search-text.c src/mail/html-text.c src/mail/sort-keys.c \
	src/lib/buf.c src/lib/pool.c src/lib/xmalloc.c src/lib/secure.c src/lib/fdutil.c \
	src/lib/log.c

TESTS += test-store
test-store_SRCS := src/store/test-store.c $(STORE_SRCS) $(STORE_DEP_SRCS)

TESTS += test-store-message
test-store-message_SRCS := src/store/test-store-message.c $(STORE_SRCS) $(STORE_DEP_SRCS)

TESTS += test-store-search
test-store-search_SRCS := src/store/test-store-search.c $(STORE_SRCS) $(STORE_DEP_SRCS)

TESTS += test-store-park
test-store-park_SRCS := src/store/test-store-park.c $(STORE_SRCS) $(STORE_DEP_SRCS)
