# SPDX-License-Identifier: GPL-2.0-only
# libFuzzer targets for the guest-facing parsers (issue 5: a hostile guest).
# Run from the top of the tree:
#
#   make fuzz                          build, then fuzz each target 60 s
#   make fuzz FUZZ_SECONDS=30          the quick mode CI uses
#   make -f tests/fuzz/fuzz.mk         build only, into build-fuzz/
#   make -f tests/fuzz/fuzz.mk regress replay corpus + regressions once
#
# Everything is compiled again with clang, coverage and ASan+UBSan into
# build-fuzz/: the daemon's sources exactly as shipped (no fuzz-only paths)
# plus the unit-test guest_mem fake (fuzz_guest_mem has the real one). New corpus entries stay in
# build-fuzz/corpus/<target>/ (nothing is merged into the repository);
# crashes, leaks and timeouts go to build-fuzz/crashes/ and make the run fail.

FUZZ_CC ?= clang
FUZZ_BUILD ?= build-fuzz
ifeq ($(strip $(FUZZ_SECONDS)),)
override FUZZ_SECONDS := 60
endif
FUZZ_TARGETS := fuzz_virtqueue fuzz_mmio fuzz_blk fuzz_guest_mem
# Per-run options: a hang is a bug (a guest must never stall the loop).
FUZZ_RUN_FLAGS ?= -timeout=10 -rss_limit_mb=2048 -print_final_stats=1

FUZZ_XEN_CFLAGS := $(shell pkg-config --cflags xenforeignmemory 2>/dev/null)
FUZZ_WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wno-missing-field-initializers
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	-fno-omit-frame-pointer
FUZZ_CFLAGS := -O1 -g -std=c11 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 \
	$(FUZZ_WARN) -fno-strict-aliasing -Iinclude -Itests/unit -Itests/fuzz \
	-DXVB_VERSION='"fuzz"' $(FUZZ_XEN_CFLAGS) $(FUZZ_SAN)

FUZZ_OBJ := $(FUZZ_BUILD)/obj
FUZZ_BINS := $(addprefix $(FUZZ_BUILD)/,$(FUZZ_TARGETS))

# What each target links besides its own object and (but fuzz_guest_mem)
# the guest_mem fake.
FUZZ_DEPS_fuzz_virtqueue := virtqueue.o log.o
FUZZ_DEPS_fuzz_mmio := virtio_mmio.o virtqueue.o log.o
FUZZ_DEPS_fuzz_blk := virtio_blk.o virtqueue.o aio_engine.o image.o loop.o \
	log.o
# fuzz_blk checks each used entry against the chain it answers: the
# device's calls into the virtqueue go through its wrappers.
FUZZ_LIBS_fuzz_blk := -laio -lpthread \
	-Wl,--wrap=virtq_pop,--wrap=virtq_unpop,--wrap=virtq_push
# fuzz_guest_mem tests the real guest_mem.o (over its own fake Xen
# library): no guest_mem fake, see its rules below.
FUZZ_DEPS_fuzz_guest_mem := guest_mem.o loop.o log.o
FUZZ_LIBS_fuzz_guest_mem := -lpthread
# Largest input per target: room for rings of a few hundred entries (for
# fuzz_blk, queue 1's at 0x9000 too).
FUZZ_MAXLEN_fuzz_virtqueue := 16384
FUZZ_MAXLEN_fuzz_mmio := 8192
FUZZ_MAXLEN_fuzz_blk := 49152
FUZZ_MAXLEN_fuzz_guest_mem := 4096

all: $(FUZZ_BINS)

$(FUZZ_OBJ) $(FUZZ_BUILD)/crashes:
	mkdir -p $@

# Library code: coverage instrumentation without libFuzzer's main().
$(FUZZ_OBJ)/%.o: src/%.c $(wildcard include/*.h) | $(FUZZ_OBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_OBJ)/fake_guest_mem.o: tests/unit/fake_guest_mem.c \
		tests/unit/fake_guest_mem.h $(wildcard include/*.h) | $(FUZZ_OBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_OBJ)/fuzz_%.o: tests/fuzz/fuzz_%.c $(wildcard tests/fuzz/*.h) \
		$(wildcard include/*.h tests/unit/*.h) | $(FUZZ_OBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -c -o $@ $<

$(FUZZ_BUILD)/fuzz_guest_mem: $(FUZZ_OBJ)/fuzz_guest_mem.o \
		$(addprefix $(FUZZ_OBJ)/,$(FUZZ_DEPS_fuzz_guest_mem))
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ \
		$(FUZZ_LIBS_fuzz_guest_mem)

.SECONDEXPANSION:
$(FUZZ_BUILD)/fuzz_%: $(FUZZ_OBJ)/fuzz_%.o $(FUZZ_OBJ)/fake_guest_mem.o \
		$$(addprefix $(FUZZ_OBJ)/,$$(FUZZ_DEPS_fuzz_$$*))
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(FUZZ_LIBS_fuzz_$*)

# Corpus directories a target reads: its working corpus first (libFuzzer
# writes new inputs only there), then the committed seeds and regressions.
fuzz_dirs = $(FUZZ_BUILD)/corpus/$(1) $(wildcard tests/fuzz/corpus/$(1) \
	tests/fuzz/regressions/$(1))

# Fuzz every target for FUZZ_SECONDS, each even if an earlier one failed;
# fail at the end if any crashed. Full logs: build-fuzz/logs/<target>.log.
run: $(FUZZ_BINS) | $(FUZZ_BUILD)/crashes
	@mkdir -p $(FUZZ_BUILD)/logs; fail=0; \
	$(foreach t,$(FUZZ_TARGETS), \
	mkdir -p $(FUZZ_BUILD)/corpus/$(t); \
	echo "fuzz: $(t) for $(FUZZ_SECONDS)s"; \
	if $(FUZZ_BUILD)/$(t) -max_total_time=$(FUZZ_SECONDS) \
		-max_len=$(FUZZ_MAXLEN_$(t)) $(FUZZ_RUN_FLAGS) \
		-artifact_prefix=$(FUZZ_BUILD)/crashes/$(t)- \
		$(call fuzz_dirs,$(t)) >$(FUZZ_BUILD)/logs/$(t).log 2>&1; then \
		grep -E '^#[0-9]+[[:space:]]+DONE|stat::(number_of|average)' \
			$(FUZZ_BUILD)/logs/$(t).log | sed 's/^/  /'; \
	else \
		fail=1; echo "fuzz: $(t) FAILED, see $(FUZZ_BUILD)/logs/$(t).log"; \
		grep -E -A25 '^==[0-9]+==ERROR|runtime error|deadly signal|ALARM' \
			$(FUZZ_BUILD)/logs/$(t).log | head -40; \
	fi;) \
	ls $(FUZZ_BUILD)/crashes/ 2>/dev/null | sed 's/^/  crash: /'; \
	exit $$fail

# Replay the seeds and regression inputs once (no fuzzing).
regress: $(FUZZ_BINS)
	tests/fuzz/run-regressions $(FUZZ_BUILD)

# Line coverage of the committed corpus plus build-fuzz/corpus/ (clang
# source-based coverage, no sanitizers): build-fuzz/cov/<target>.txt.
FUZZ_COV := $(FUZZ_BUILD)/cov
$(FUZZ_COV)/obj/%.o: src/%.c $(wildcard include/*.h)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(filter-out $(FUZZ_SAN),$(FUZZ_CFLAGS)) \
		-fprofile-instr-generate -fcoverage-mapping -c -o $@ $<
$(FUZZ_COV)/obj/fake_guest_mem.o: tests/unit/fake_guest_mem.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(filter-out $(FUZZ_SAN),$(FUZZ_CFLAGS)) -c -o $@ $<
$(FUZZ_COV)/obj/fuzz_%.o: tests/fuzz/fuzz_%.c $(wildcard tests/fuzz/*.h)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(filter-out $(FUZZ_SAN),$(FUZZ_CFLAGS)) -c -o $@ $<
$(FUZZ_COV)/fuzz_guest_mem: $(FUZZ_COV)/obj/fuzz_guest_mem.o \
		$(addprefix $(FUZZ_COV)/obj/,$(FUZZ_DEPS_fuzz_guest_mem))
	$(FUZZ_CC) -fsanitize=fuzzer -fprofile-instr-generate -o $@ $^ \
		$(FUZZ_LIBS_fuzz_guest_mem)
$(FUZZ_COV)/fuzz_%: $(FUZZ_COV)/obj/fuzz_%.o $(FUZZ_COV)/obj/fake_guest_mem.o \
		$$(addprefix $(FUZZ_COV)/obj/,$$(FUZZ_DEPS_fuzz_$$*))
	$(FUZZ_CC) -fsanitize=fuzzer -fprofile-instr-generate -o $@ $^ \
		$(FUZZ_LIBS_fuzz_$*)

cov: $(addprefix $(FUZZ_COV)/,$(FUZZ_TARGETS))
	@set -e; for t in $(FUZZ_TARGETS); do \
		mkdir -p $(FUZZ_BUILD)/corpus/$$t; \
		LLVM_PROFILE_FILE=$(FUZZ_COV)/$$t.profraw $(FUZZ_COV)/$$t \
			-runs=0 -timeout=10 $(FUZZ_BUILD)/corpus/$$t \
			$$(ls -d tests/fuzz/corpus/$$t tests/fuzz/regressions/$$t \
			2>/dev/null) >/dev/null 2>&1; \
		llvm-profdata-14 merge -o $(FUZZ_COV)/$$t.profdata \
			$(FUZZ_COV)/$$t.profraw; \
		llvm-cov-14 report $(FUZZ_COV)/$$t \
			-instr-profile=$(FUZZ_COV)/$$t.profdata src/ \
			>$(FUZZ_COV)/$$t.txt; \
		llvm-cov-14 show $(FUZZ_COV)/$$t \
			-instr-profile=$(FUZZ_COV)/$$t.profdata src/ \
			>$(FUZZ_COV)/$$t.lines; \
		echo "== $$t"; grep -E '^(src/|Filename|TOTAL)' $(FUZZ_COV)/$$t.txt \
			| awk '{print $$1, "regions", $$4, "functions", $$7, "lines", $$10}'; \
	done

.PHONY: all run regress cov
.SECONDARY:
.DELETE_ON_ERROR:
