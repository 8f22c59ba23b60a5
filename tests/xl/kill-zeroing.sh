#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# The guest's domain dies with a WRITE_ZEROES in flight that the storage
# cannot do itself (fallocate refused: the daemon writes 1 MiB at a time,
# each write slowed down by 20 ms): 16 segments of the whole 16 MiB disk,
# 256 MiB of writing for one request. Nobody can see its result any more.
# Expected: the backend process abandons the zeroing between two writes,
# unmaps everything, writes state 6 and exits 0, without writing it all.
. "$(dirname "$0")/../faults/lib.sh"

for mode in watch domid; do
	mkimage "$T/a.img" 16M
	wz_cmds 32768
	eval fsim_ok "'eopnotsupp:fallocate:offset=0-16m;delay:write:ms=20'" \
		--mode "$mode" -c "'xl-create disk=$T/a.img'" "$WZ_ARGS" \
		-c "'sleep 100'" -c "'xl-kill'" -c "'expect-daemon-exit 0'" \
		-c "'pages-mapped 0'" -c "'expect-dom gone'" \
		-c "'expect-state xvda 6'"
	flog_has '^fault delay write sync ' "$mode: no zeroes were written"
	n=$(grep -c '^fault delay write ' "$FLOG")
	# One segment alone is 16 writes; the whole request 256.
	[ "$n" -lt 16 ] || fail "$mode: $n writes of zeroes after the death"
	! grep -q 'I/O error' "$T/err" ||
		fail "$mode: the abandoned zeroing was logged as a disk error"
done
pass "death with 256 MiB of zeroing in flight: abandoned, state 6, exit 0 (watch and domid)"
