#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Probe as Linux does and check what the device reports: identity registers,
# features, config space, the status after DRIVER_OK, the window's extent.
. "$(dirname "$0")/lib.sh"

mkimage "$T/disk.img" 1M
sim_ok --disk "$T/disk.img" -c info \
	-c 'mmio-expect 0x000 4 0x74726976' -c 'mmio-expect 0x004 4 2' \
	-c 'mmio-expect 0x008 4 2' -c 'mmio-expect 0x070 4 0xf' \
	-c 'mmio-write 0x030 4 0' -c 'mmio-expect 0x044 4 1' \
	-c 'expect ENODEV mmio-read 0x200 4' \
	-c 'expect ENODEV mmio-read 0x1fe 4'
out_has '^magic: 0x74726976$'
out_has '^version: 2$'
out_has '^device-id: 2$'
out_has '^driver-features: .* VERSION_1'
out_has '^capacity: 2048 sectors \(1048576 bytes\)$'
out_has '^read-only: no$'
grep -Eq '^queue-size: (1|2|4|8|16|32|64|128|256|512|1024)$' "$T/out" ||
	fail "queue size is not a power of two up to 1024"

# The config space answers 1, 2 and 4-byte reads at any offset (Linux reads
# each field with its own width; 64-bit ones as two 32-bit halves).
sim_ok --disk "$T/disk.img" -c info -c 'mmio-expect 0x100 4 2048' \
	-c 'mmio-expect 0x104 4 0' -c 'mmio-expect 0x100 2 2048' \
	-c 'mmio-expect 0x101 1 8' -c 'mmio-expect 0x100 1 0' \
	-c 'mmio-expect 0x114 4 512'
pass "probe, identity, features and config space as expected"
