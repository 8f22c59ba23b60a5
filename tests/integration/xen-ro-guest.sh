#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# docs/xen-notes.md 2: a stock Linux guest never sends a write to a disk
# offering VIRTIO_BLK_F_RO: it marks the disk read-only and refuses writes
# and zeroouts itself (EPERM); DISCARD is not offered there. The Linux-like
# driver now does the same: nothing reaches the daemon (no OUT request,
# no refusal in its log), reads still work. Only a guest sending requests
# by hand gets the daemon's own IOERR (tests/integration/read-only.sh,
# tests/hostile/write-read-only-disk.sh).
. "$(dirname "$0")/lib.sh"

mkimage "$T/disk.img" 2M
fill_random "$T/disk.img"
cp "$T/disk.img" "$T/orig.img"
mkdata "$T/data" 4096
sim_ok --disk "$T/disk.img,ro" -c info \
	-c "expect EPERM write 0 $T/data" \
	-c 'expect EPERM write-zeroes 0 4096' \
	-c "expect EPERM write 1044480 $T/data" \
	-c 'random-io 50 3 64' -c flush -c stats
out_has '^read-only: yes$'
grep -q '^driver-features: .* DISCARD' "$T/out" &&
	fail "DISCARD offered on a read-only disk"
out_has '^device 0: requests [0-9]+ completed [0-9]+ errors 0 bytes-read [1-9][0-9]* bytes-written 0 '
grep -Eq 'write to a read-only disk|on a read-only disk' "$T/err" &&
	fail "the daemon saw a write: $(grep -m1 'read-only disk' "$T/err")"
same "$T/orig.img" "$T/disk.img" "the read-only image"
pass "the guest refuses writes to a read-only disk itself: nothing reaches the daemon"
