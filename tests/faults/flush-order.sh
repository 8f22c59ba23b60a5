#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# A FLUSH completes only after every write queued before it: writes in the
# first 256 KiB are slowed down by 300 ms (libfault delay) so that they are
# still in flight when the FLUSH arrives. The guest must never see the
# FLUSH complete before one of them, and the fault log must show no fdsync
# issued while a write was in flight. Both engine paths (the FLUSH is the
# worker's fdatasync on both).
. "$(dirname "$0")/lib.sh"

for p in $PATHS; do
	rules=$(path_rules "$p")
	mkimage "$T/disk.img" 32M
	fsim_ok "${rules}delay:write:ms=300:offset=0-256k" --disk "$T/disk.img" \
		-c "flush-order 48 1" -c "flush-order 48 2" -c "flush-order 4 3"
	[ "$(grep -c '^flush-order: .*flush completed after all' "$T/out")" -eq 3 ] ||
		fail "$p: flush-order did not report three ordered flushes"
	flog_has "^fault delay write " "$p: no write was delayed"
	flog_has "^fdsync-start " "$p: no fdsync"
	flog_lacks "^fdsync-start .* writes-in-flight=[1-9]" \
		"$p: fdsync issued with writes in flight"
	flog_has "^fdsync-done sync res=0" "$p: fdatasync on a worker"
	path_check "$p"
done
pass "a FLUSH completes after every earlier write, even delayed ones ($PATHS)"
