#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Two disks of one guest whose rings clash: disk 1 runs on the raw rings,
# and disk 0's used ring is set over disk 1's available ring (our stores
# for disk 0 would move disk 1's index and hand it chains its driver never
# made available). Both disks see the same guest RAM.
# Expected: disk 0's QueueReady=1 refused with DEVICE_NEEDS_RESET and a
# configuration interrupt, QueueReady reads 0, disk 1's ring untouched;
# rings of their own are accepted beside disk 1's. A reset recovers.
. "$(dirname "$0")/lib.sh"

setup
Q0='raw=0 desc=desc+0x40000 avail=desc+0x44000'
c 'device 1' raw-init 'device 0' 'raw-init stop=features' \
	"queue-setup $Q0 used=avail" 'expect-status 0x4b' 'expect-irq 2' \
	'mmio-expect 0x44 4 0' 'expect-mem avail+2 2 0'
c 'device 1' raw-init 'device 0' 'raw-init stop=features' \
	"queue-setup $Q0 used=desc+0x45000" 'expect-status 0xb' \
	'mmio-expect 0x44 4 1'
finish_check() {
	[ "$(grep -c 'rings overlap queue 0.s of another disk' "$T/err")" -eq 1 ] ||
		fail "want one 'rings overlap queue 0's of another disk' log line"
}
finish "rings clashing between two disks of a guest: NEEDS_RESET + config interrupt"
