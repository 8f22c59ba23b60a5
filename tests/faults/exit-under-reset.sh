#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# A forced exit while the daemon holds a guest reset: writes are slowed
# down by 1.5 s (libfault holds the daemon's loop in io_submit meanwhile),
# the guest queues 32 of them and writes Status 0 from a second vCPU, then
# the daemon gets SIGINT twice. It must exit 1 by itself, log that it did
# not wait, and answer the Status write, held or not yet even looked at,
# before it destroys its IOREQ server (the guest's read of Status right
# after may still find it set, EBUSY: answered unserved, as the daemon
# leaves without resetting): Xen does not wake a vCPU whose
# server goes while it waits (the simulator counts that as a protocol
# error). Under ASan: nothing it has freed is used while the reset
# completes during teardown. Both engine paths; then with a second disk,
# idle, which teardown frees (it is the last) while the first still
# drains: the first's completion must not reach it.
. "$(dirname "$0")/lib.sh"

for p in $PATHS; do
	mkimage "$T/disk.img" 32M
	fsim_ok "$(path_rules "$p")delay:write:ms=1500:offset=0-512k" \
		--vcpus 2 --disk "$T/disk.img" -c "exit-under-reset 32 7"
	out_has '^exit-under-reset: daemon exit 1 while holding the reset; the reset write returned (an answer|ENODEV|EBUSY)'
	err_has 'again: exiting without waiting'
	if grep -q 'AddressSanitizer\|runtime error' "$T/err"; then
		fail "$p: $(grep -m1 'AddressSanitizer\|runtime error' "$T/err")"
	fi
	flog_has "^fault delay write $p " "$p: no write was delayed"
	mkimage "$T/idle.img" 1M
	fsim_ok "$(path_rules "$p")delay:write:ms=1500:path=disk.img" \
		--vcpus 2 --disk "$T/disk.img" --disk "$T/idle.img" \
		-c 'device 0' -c "exit-under-reset 32 7"
	out_has '^exit-under-reset: daemon exit 1 while holding the reset; the reset write returned (an answer|ENODEV|EBUSY)'
	if grep -q 'AddressSanitizer\|runtime error' "$T/err"; then
		fail "$p, two disks: $(grep -m1 'AddressSanitizer\|runtime error' "$T/err")"
	fi
done
pass "forced exit while a reset is held: exit 1, reset answered, nothing freed is used ($PATHS paths)"
