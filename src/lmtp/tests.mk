# Unit tests of the lmtp/ layer: the command-line parser, the DATA decoder, and the spool with
# local delivery into a real store in a temporary folder (STORE_SRCS comes from
# src/store/tests.mk, included after this file: hence "=", expanded late).
TESTS += test-lmtp-parser test-lmtp-data test-lmtp-delivery
test-lmtp-parser_SRCS := src/lmtp/test-lmtp-parser.c src/lmtp/lmtp-parser.c src/lib/pool.c \
	src/lib/xmalloc.c
test-lmtp-data_SRCS := src/lmtp/test-lmtp-data.c src/lmtp/lmtp-data.c
test-lmtp-delivery_SRCS = src/lmtp/test-lmtp-delivery.c src/lmtp/lmtp-delivery.c \
	src/lib/spool.c $(STORE_SRCS) $(STORE_DEP_SRCS)
