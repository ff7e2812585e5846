# kura build. `make` builds build/kura; `make SAN=1` builds build-san/ with ASan+UBSan;
# `make unit` runs the C unit tests; `make check` runs the whole suite (tests/run-all).
# Unit tests are declared in src/<layer>/tests.mk (and bench/load/tests.mk), fuzz targets in
# fuzz/*.mk. `make bench-quick` and `make bench` run the benchmarks (bench/README.md).

CC ?= cc
ifeq ($(origin CC),default)
CC := cc
endif

ifeq ($(SAN),1)
BUILD ?= build-san
OPT ?= -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
BUILD ?= build
OPT ?= -O2
endif

WARN := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes \
	-Wvla -Wno-unused-parameter
CFLAGS ?= -g $(OPT)
ALL_CFLAGS := -std=gnu11 $(WARN) -D_GNU_SOURCE -Isrc $(CFLAGS)
LDFLAGS ?=
ifeq ($(SAN),1)
LDFLAGS += -fsanitize=address,undefined
endif
LIBS := -lssl -lcrypto -lsqlite3 -lz -lcrypt -largon2 -lunistring -lpthread

KURA_SRCS := $(foreach f,$(wildcard src/*/*.c),$(if $(findstring /test-,$(f)),,$(f)))
KURA_OBJS := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(KURA_SRCS))

# The load generator (bench/load/, one event loop per process) reuses lib/ and net/loop.
LOAD_SRCS := $(filter-out bench/load/test-% bench/load/fuzz-%,$(wildcard bench/load/*.c))
LOAD_LIB_SRCS := src/lib/buf.c src/lib/pool.c src/lib/xmalloc.c src/lib/secure.c src/lib/log.c \
	src/net/loop.c
LOAD_OBJS := $(patsubst bench/load/%.c,$(BUILD)/obj/bench-load/%.o,$(LOAD_SRCS)) \
	$(patsubst src/%.c,$(BUILD)/obj/%.o,$(LOAD_LIB_SRCS))
# object of a source in src/ or bench/load/
objs_of = $(patsubst bench/load/%.c,$(BUILD)/obj/bench-load/%.o,$(patsubst src/%.c,$(BUILD)/obj/%.o,$(1)))

TESTS :=
FUZZERS :=
include $(wildcard src/*/tests.mk bench/load/tests.mk)
include $(wildcard fuzz/*.mk)

.PHONY: all unit check clean fuzz banned bench-quick bench bench-mix
all: $(BUILD)/kura $(BUILD)/kura-load $(patsubst %,$(BUILD)/tests/%,$(TESTS))

$(BUILD)/kura: $(KURA_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/kura-load: $(LOAD_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ -lssl -lcrypto

$(BUILD)/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/obj/bench-load/%.o: bench/load/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

# One binary per unit test, linked only with the sources it names in <name>_SRCS.
define test_template
$(BUILD)/tests/$(1): $$(call objs_of,$$($(1)_SRCS))
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(LIBS)
endef
$(foreach t,$(TESTS),$(eval $(call test_template,$(t))))

unit: $(patsubst %,$(BUILD)/tests/%,$(TESTS))
	@pass=0; fail=0; for t in $(TESTS); do \
		if $(BUILD)/tests/$$t > $(BUILD)/tests/$$t.log 2>&1; then pass=$$((pass+1)); \
		else fail=$$((fail+1)); echo "FAIL $$t"; cat $(BUILD)/tests/$$t.log; fi; \
	done; echo "$$pass passed, $$fail failed"; [ $$fail -eq 0 ]

# libFuzzer targets (clang only), always with ASan+UBSan.
FUZZ_CC ?= clang
FUZZ_CFLAGS := -std=gnu11 -g -O1 -D_GNU_SOURCE -Isrc -fsanitize=fuzzer,address,undefined \
	-fno-omit-frame-pointer
define fuzz_template
build-fuzz/$(1): $$($(1)_SRCS)
	@mkdir -p build-fuzz
	$$(FUZZ_CC) $$(FUZZ_CFLAGS) -o $$@ $$^ $$(LIBS)
endef
$(foreach f,$(FUZZERS),$(eval $(call fuzz_template,$(f))))
fuzz: $(patsubst %,build-fuzz/%,$(FUZZERS))

# Benchmarks (bench/README.md). bench-quick: kura alone, ~20 clients, asserts zero errors
# (CI runs it, under 2 minutes). bench: the full side-by-side with Dovecot (many minutes).
# bench-mix: the mixed workload vs Dovecot in alternating rounds, 100 and 1000 clients, with
# each server's CPU time (issue 4; about 30 minutes, root).
bench-quick: all
	bench/run-quick $(BUILD)

bench: all
	bench/run-bench $(BUILD)

bench-mix: all
	bench/mix-bench.py --kura $(BUILD)/kura --load $(BUILD)/kura-load --clients 100,1000 \
		--rounds 3 --duration 20

# STYLE.md bans these; the suite runs this check.
banned:
	@if grep -nE '\b(strcpy|strcat|sprintf|vsprintf|strtok|atoi|atol|sscanf|gets)\s*\(' \
		$$(find src fuzz bench -name '*.[ch]' 2>/dev/null); then \
		echo "banned function used"; exit 1; fi; echo "no banned functions"

clean:
	rm -rf build build-san build-fuzz

-include $(KURA_OBJS:.o=.d)
-include $(wildcard $(BUILD)/obj/*/*.d)
