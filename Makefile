# SPDX-License-Identifier: GPL-2.0-only
# xen-virtio-blk: a virtio-mmio block backend for Xen guests.
#
#   make                 build build/xen-virtio-blk (and the simulator)
#   make demo            install what is missing, build, serve a simulated guest
#   make check           install what is missing, build, run every test (also ASan+UBSan,
#                        and the daemon's tests with --io-threads under ASan and TSan)
#   make coverage        lines and branches of src/ the tests run (gcov)
#   make e2e             the real-Xen suite (Xen 4.17 arm64 under qemu-system-aarch64)
#   make CROSS_COMPILE=aarch64-linux-gnu- STAGING=DIR   arm64 daemon (README, "Building")
#   make install [PREFIX=/usr/local] [DESTDIR=]

VERSION := 0.1.0

CROSS_COMPILE ?=
CC := $(CROSS_COMPILE)gcc
BUILD ?= build
SANITIZE ?=
PREFIX ?= /usr/local
DESTDIR ?=
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
# Boot integration: Debian 12's SysV layout, and systemd (which also looks
# in /usr/local/lib/systemd/system).
INITDIR ?= /etc/init.d
DEFAULTDIR ?= /etc/default
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system

XEN_PKGS := xencontrol xendevicemodel xenforeignmemory xenevtchn xenstore

ifneq ($(CROSS_COMPILE),)
# libxen-dev is not multiarch-safe: build against arm64 packages unpacked
# into a staging folder (scripts/arm64-staging makes one).
STAGING ?= $(CURDIR)/build/arm64-staging
TRIPLET := $(notdir $(patsubst %-,%,$(CROSS_COMPILE)))
XEN_CFLAGS := -I$(STAGING)/usr/include
XEN_LIBS := -L$(STAGING)/usr/lib/$(TRIPLET) \
	-Wl,-rpath-link,$(STAGING)/usr/lib/$(TRIPLET) \
	-Wl,-rpath-link,$(STAGING)/lib/$(TRIPLET) \
	-lxenctrl -lxendevicemodel -lxenforeignmemory -lxenevtchn -lxenstore
BUILD := build/$(TRIPLET)
else
XEN_CFLAGS := $(shell pkg-config --cflags $(XEN_PKGS) 2>/dev/null)
XEN_LIBS := $(shell pkg-config --libs $(XEN_PKGS) 2>/dev/null || \
	echo -lxenctrl -lxendevicemodel -lxenforeignmemory -lxenevtchn -lxenstore)
endif

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wno-missing-field-initializers
CFLAGS ?= -O2 -g
CFLAGS += -std=c11 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 $(WARN) -Iinclude \
	-DXVB_VERSION='"$(VERSION)"' -fno-strict-aliasing
ifeq ($(SANITIZE),1)
CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif
LDLIBS := $(XEN_LIBS) -laio -lpthread

# ---------------------------------------------------------------- the daemon
SRCS := $(wildcard src/*.c)
OBJS := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(SRCS))
DAEMON := $(BUILD)/xen-virtio-blk

all: $(DAEMON) sim

$(BUILD)/obj/%.o: src/%.c $(wildcard include/*.h) | $(BUILD)/obj
	$(CC) $(CFLAGS) $(XEN_CFLAGS) -c -o $@ $<

$(DAEMON): $(OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/obj $(BUILD)/sim-lib $(BUILD)/tests $(BUILD)/sim-obj:
	mkdir -p $@

# ------------------------------------------------------------ the simulator
# Drop-in Xen libraries with Debian's sonames and symbol versions: the
# shipped daemon runs on them unmodified through LD_LIBRARY_PATH.
SIM_LIB_COMMON := $(wildcard tests/sim/lib/common/*.c)
SIM_LIBS := libxenctrl.so.4.17 libxendevicemodel.so.1 libxenforeignmemory.so.1 \
	libxenevtchn.so.1 libxenstore.so.4
SIM_LIB_PATHS := $(addprefix $(BUILD)/sim-lib/,$(SIM_LIBS))
SIM_CFLAGS := $(CFLAGS) -Itests/sim -Itests/sim/lib/common -fPIC

$(BUILD)/sim-lib/%: tests/sim/lib/%.c tests/sim/lib/%.map $(SIM_LIB_COMMON) \
		$(wildcard tests/sim/*.h tests/sim/lib/common/*.h) | $(BUILD)/sim-lib
	$(CC) $(SIM_CFLAGS) $(XEN_CFLAGS) -shared -Wl,-soname,$* \
		-Wl,--version-script=tests/sim/lib/$*.map -o $@ $< $(SIM_LIB_COMMON) \
		$(LDFLAGS) -lpthread

# sim-guest: the simulated hypervisor plus a Linux-like guest driver.
SIM_GUEST_SRCS := $(wildcard tests/sim/*.c)
SIM_GUEST := $(BUILD)/sim-guest
$(SIM_GUEST): $(SIM_GUEST_SRCS) $(wildcard tests/sim/*.h) | $(BUILD)
	$(CC) $(SIM_CFLAGS) -o $@ $(SIM_GUEST_SRCS) $(LDFLAGS) -lpthread -lm

sim: $(SIM_LIB_PATHS) $(SIM_GUEST)

$(BUILD):
	mkdir -p $@

# ------------------------------------------------------------- unit tests
# Each unit test links the objects it tests; fakes live in tests/unit/.
UNIT_FAKES := $(patsubst tests/unit/%.c,$(BUILD)/tests/%.o,$(wildcard tests/unit/fake_*.c))
UNIT_TESTS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/test_*.c))
UNIT_DEPS_test_options := options.o log.o
UNIT_DEPS_test_mmio := virtio_mmio.o virtqueue.o log.o
UNIT_DEPS_test_virtqueue := virtqueue.o log.o
UNIT_DEPS_test_blk := virtio_blk.o virtqueue.o aio_engine.o image.o loop.o log.o
# test_guest_mem tests the real guest_mem.o over its own fake Xen library.
UNIT_DEPS_test_guest_mem := guest_mem.o loop.o log.o
UNIT_DEPS_test_xs_backend := xs_values.o log.o
UNIT_DEPS_test_loop := loop.o
UNIT_NO_FAKES := test_guest_mem
# test_blk fails calloc at will (the I/O engine out of memory) and makes
# io_submit say EAGAIN (the kernel short of AIO memory).
UNIT_LDFLAGS_test_blk := -Wl,--wrap=calloc -Wl,--wrap=io_submit
unit_fakes = $(if $(filter $(1),$(UNIT_NO_FAKES)),,$(UNIT_FAKES))

$(BUILD)/tests/%.o: tests/unit/%.c $(wildcard include/*.h tests/unit/*.h) | $(BUILD)/tests
	$(CC) $(CFLAGS) $(XEN_CFLAGS) -Itests/unit -c -o $@ $<

.SECONDEXPANSION:
$(BUILD)/tests/test_%: $(BUILD)/tests/test_%.o $$(call unit_fakes,test_$$*) \
		$$(addprefix $(BUILD)/obj/,$$(UNIT_DEPS_test_$$*))
	$(CC) $(LDFLAGS) $(UNIT_LDFLAGS_test_$*) -o $@ $^ -laio -lpthread

unit: $(UNIT_TESTS)

# ------------------------------------------------ fault injection (tests)
# libfault.so: an LD_PRELOAD library that fails, shortens or delays the
# daemon's disk I/O from outside (tests/fault/libfault.c, used by
# tests/faults/*.sh). Built without sanitizers: the ASan tree loads it after
# the ASan runtime.
LIBFAULT := $(BUILD)/libfault.so
$(LIBFAULT): tests/fault/libfault.c | $(BUILD)
	$(CC) -O2 -g -std=c11 -D_GNU_SOURCE $(WARN) -fPIC -shared -o $@ $< \
		-ldl -lpthread
# libprobe.so: tries the daemon's restricted Xen handles on another domain
# (tests/integration/restricted.sh).
LIBPROBE := $(BUILD)/libprobe.so
$(LIBPROBE): tests/fault/libprobe.c | $(BUILD)
	$(CC) -O2 -g -std=c11 -D_GNU_SOURCE $(WARN) $(XEN_CFLAGS) -fPIC -shared \
		-o $@ $< -ldl
# libsyslog.so: catches syslog() lines into a file (tests that check what
# reaches syslog).
LIBSYSLOG := $(BUILD)/libsyslog.so
$(LIBSYSLOG): tests/fault/libsyslog.c | $(BUILD)
	$(CC) -O2 -g -std=c11 -D_GNU_SOURCE $(WARN) -fPIC -shared -o $@ $<
# notify-listen: systemd's end of the readiness notification
# (tests/xl/systemd-notify.sh).
NOTIFY_LISTEN := $(BUILD)/notify-listen
$(NOTIFY_LISTEN): tests/fault/notify-listen.c | $(BUILD)
	$(CC) -O2 -g -std=c11 -D_GNU_SOURCE $(WARN) -o $@ $<
ifeq ($(CROSS_COMPILE),)
all: $(LIBFAULT) $(LIBPROBE) $(LIBSYSLOG) $(NOTIFY_LISTEN)
endif

# ------------------------------------------------------------------ targets
DEPS_STAMP := build/.deps-installed
deps: $(DEPS_STAMP)
$(DEPS_STAMP):
	scripts/install-deps
	@mkdir -p build && touch $@

check: deps
	$(MAKE) all unit
	$(MAKE) BUILD=build-asan SANITIZE=1 all unit
	$(MAKE) tsan
	tests/run-tests build build-asan build-asan+--io-threads \
		$(TSAN_BUILD)+--io-threads

# The daemon under ThreadSanitizer, for the threads of --io-threads: make
# check runs the daemon's tests with it on the plain build's simulator
# (the simulator's own shared-memory atomics are not TSan's business), so
# $(TSAN_BUILD) holds the daemon, a copy of sim-guest (which runs the
# daemon found next to its own /proc/self/exe: a link would lead back to
# $(BUILD)) and links to the rest of $(BUILD).
TSAN_BUILD := build-tsan
tsan: all
	CFLAGS="-O1 -g -fsanitize=thread" LDFLAGS=-fsanitize=thread \
		$(MAKE) BUILD=$(TSAN_BUILD) SANITIZE= $(TSAN_BUILD)/xen-virtio-blk
	for f in $(BUILD)/*; do \
		case $${f##*/} in xen-virtio-blk|obj) ;; \
		sim-guest) cp -f "$$f" $(TSAN_BUILD)/ ;; \
		*) ln -sfn "$(CURDIR)/$$f" $(TSAN_BUILD)/ ;; esac; \
	done

demo: deps
	$(MAKE) all
	scripts/demo $(BUILD)

e2e:
	tests/e2e/run-suite

bench: deps
	$(MAKE) all
	scripts/bench $(BUILD)

# Real Xen: fio in the domU on our virtio disk and on a Xen PV disk, same
# boot (docs/performance.md); minutes under emulation, so not part of e2e.
bench-xen:
	tests/e2e/bench

fuzz:
	$(MAKE) -f tests/fuzz/fuzz.mk run FUZZ_SECONDS=$(FUZZ_SECONDS)

# Lines and branches of src/ the tests run (gcov; build-cov/coverage.txt).
coverage: deps
	scripts/coverage build-cov

# The init script and unit get the daemon's installed path and that of the
# settings file; an existing settings file (the administrator's) is kept.
INSTALL_PATHS = -e 's|/usr/sbin/xen-virtio-blk|$(SBINDIR)/xen-virtio-blk|' \
	-e 's|/etc/default/|$(DEFAULTDIR)/|g'
install: $(DAEMON)
	install -D -m 0755 $(DAEMON) $(DESTDIR)$(SBINDIR)/xen-virtio-blk
	install -D -m 0644 docs/xen-virtio-blk.8 $(DESTDIR)$(MANDIR)/man8/xen-virtio-blk.8
	sed $(INSTALL_PATHS) scripts/init.d/xen-virtio-blk >$(BUILD)/xen-virtio-blk.init
	install -D -m 0755 $(BUILD)/xen-virtio-blk.init $(DESTDIR)$(INITDIR)/xen-virtio-blk
	sed $(INSTALL_PATHS) scripts/systemd/xen-virtio-blk.service >$(BUILD)/xen-virtio-blk.service
	install -D -m 0644 $(BUILD)/xen-virtio-blk.service \
		$(DESTDIR)$(SYSTEMDUNITDIR)/xen-virtio-blk.service
	[ -e $(DESTDIR)$(DEFAULTDIR)/xen-virtio-blk ] || \
		install -D -m 0644 scripts/default/xen-virtio-blk $(DESTDIR)$(DEFAULTDIR)/xen-virtio-blk

format:
	clang-format -i src/*.c include/*.h tests/sim/*.[ch] tests/sim/lib/*.c \
		tests/sim/lib/common/*.[ch] tests/unit/*.[ch]

clean:
	rm -rf build build-asan build-cov build-fuzz $(TSAN_BUILD)

.PHONY: all sim unit deps check demo e2e bench bench-xen fuzz coverage install format clean tsan
.DELETE_ON_ERROR:
