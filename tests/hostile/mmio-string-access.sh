#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# String instructions on the registers, as x86's Xen forwards them (rep
# movs/stos: one request of several units, its data a value or the guest
# address of a buffer, data_is_ptr). Arm's Xen never sends one and Linux
# never does one; a hostile x86 guest can. Reads of MagicValue, one
# through a pointer to guest memory, writes of zeros to Status (a reset if
# it were taken as a write) by value and through a pointer, and a read
# crossing into the next disk's window.
# Expected: each answered at once (the vCPU does not hang) and with one
# log line; none changes anything: reads answer 0, the guest's buffer
# behind a pointer is not written, Status keeps DRIVER_OK, and the device
# serves on without being re-initialised.
. "$(dirname "$0")/lib.sh"

setup
c init "write 0 $T/d" \
	'mmio-rep read 0 4 4 value 0 0' \
	'fill data 16 0xa5' 'mmio-rep read 0 4 4 ptr data' \
	'expect-fill data 16 0xa5' \
	'fill data 16 0' 'mmio-rep write 0x70 4 2 ptr data' \
	'mmio-rep write 0x70 4 2 value 0' 'mmio-rep write 0x70 1 8 value 0' \
	'mmio-rep read 0x1fc 4 2 value 0 0' \
	'expect-status 0xf' "verify 0 $T/d"

finish_check() {
	n=$(grep -c 'rep/pointer MMIO' "$T/err")
	[ "$n" = 6 ] ||
		fail "$n log lines for 6 string accesses: $(cat "$T/err")"
}
finish "string accesses answered, ignored, one log line each"
