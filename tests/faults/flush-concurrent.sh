#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Two FLUSHes in flight at once (a multiqueue guest keeps one per queue)
# and a writeback that fails: Linux tells the failure to the first sync
# that looks only, and the other may return 0 first. The daemon runs one
# sync at a time per image, so the failure is on record before the next
# sync starts. Expected, on both engine paths: both FLUSHes IOERR (the
# fault library fails the first fdatasync only, 300 ms late, and lets the
# second through), the syncs never overlap in the fault log, and the
# daemon says so once.
. "$(dirname "$0")/lib.sh"

for p in $PATHS; do
	mkimage "$T/disk.img" 4M
	fsim_ok "$(path_rules "$p")eio:fdsync:count=1:ms=300" \
		--disk "$T/disk.img" -c 'raw-init features=VERSION_1,FLUSH' \
		-c 'hdr flush 0' -c 'desc 0 hdr 16 N 1' -c 'desc 1 st 1 W' \
		-c 'hdr flush 0 hdr2' -c 'put st2 1 0xff' \
		-c 'desc 2 hdr2 16 N 3' -c 'desc 3 st2 1 W' -c 'kick 0 2' \
		-c 'used-expect * 1' -c 'used-expect * 1' \
		-c 'expect-mem st 1 1' -c 'expect-mem st2 1 1' -c raw-good
	flog_has "^fault eio fdsync " "$p: no sync failed"
	[ "$(grep -c '^fdsync-start ' "$FLOG")" -ge 2 ] ||
		fail "$p: the second FLUSH did not sync"
	awk '/^fdsync-start / { if (open) exit 1; open = 1 }
	     /^fdsync-done / { open = 0 }' "$FLOG" ||
		fail "$p: two syncs of the image overlapped"
	[ "$(grep -c 'error: .*a data sync failed' "$T/err")" -eq 1 ] ||
		fail "$p: want one 'a data sync failed' error line"
done
pass "two FLUSHes in flight, one writeback error: both IOERR, syncs one at a time ($PATHS paths)"
