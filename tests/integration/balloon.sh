#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Ballooning: the guest gives 32 MiB of free RAM back to Xen (lowest first,
# so among it are buffers of the requests before, which the daemon mapped),
# then 48 MiB, and takes each back, with verified random I/O in between.
# Xen sends IOREQ_TYPE_INVALIDATE as the frames leave the guest's p2m; a
# frame the daemon still maps stays charged to the guest, which then
# cannot take its memory back (docs/xen-notes.md 10; the e2e case balloon
# shows it under real Xen).
# Expected: no frame still mapped once the daemon has answered, both
# balloon-ins succeed, and every request before, between and after reads
# back what was written.
. "$(dirname "$0")/lib.sh"

mkimage "$T/disk.img" 64M
sim_ok --vcpus 2 --ram-mb 128 --disk "$T/disk.img" \
	-c 'random-io 300 1 256' -c 'balloon out 32' -c 'random-io 300 2 256' \
	-c 'balloon in' -c 'random-io 200 3' -c 'balloon out 48' \
	-c 'random-io 200 4' -c 'balloon in' -c 'random-io 100 5'
[ "$(grep -c '^balloon: .* given back, 0 frame(s) still mapped' "$T/out")" = 2 ] ||
	fail "frames still mapped by the daemon after INVALIDATE"
[ "$(grep -c '^random-io: .*: verified$' "$T/out")" = 5 ] ||
	fail "a random-io run did not verify"
out_has '^balloon: 48 MiB taken back'
pass "balloon out and in around verified I/O: every frame given back is unmapped"
