#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Malformed chains from a hostile guest: each one is answered with an error
# (or a request for a reset), the daemon stays up, and the device works
# afterwards (re-initialised if it asked for a reset).
. "$(dirname "$0")/lib.sh"

mkimage "$T/disk.img" 2M
mkdata "$T/d" 8192
args="-c 'write 0 $T/d'"
for k in loop oob wrap huge nested indirect-next indirect-size \
	indirect-empty bad-next no-status write-before-read short-header \
	avail-jump; do
	args="$args -c 'bad-chain $k' -c 'verify 0 $T/d'"
done
# random-io stays in the second MiB: which of its requests are writes
# depends on timing, and the first 8 KiB must still hold d below.
# shellcheck disable=SC2086 # $args is split by eval on purpose
eval sim_ok --disk "$T/disk.img" $args \
	-c "'random-io 100 61 64 at=1048576 region=1'"
# Registers: writes to read-only ones and unknown offsets are ignored.
sim_ok --disk "$T/disk.img" -c info -c 'mmio-write 0x000 4 0' \
	-c 'mmio-expect 0x000 4 0x74726976' -c 'mmio-write 0x100 4 0' \
	-c 'mmio-expect 0x100 4 4096' -c 'mmio-write 0x1f0 4 0xdeadbeef' \
	-c 'mmio-expect 0x1f0 4 0' -c 'mmio-write 0x70 1 0xff' \
	-c 'mmio-expect 0x70 4 0xf' -c 'verify 0 '"$T/d"
pass "malformed chains answered, daemon alive, device usable"
