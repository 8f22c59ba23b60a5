#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# A failed data sync is not forgotten. When writeback fails, Linux drops
# the dirty pages it could not write and tells one fdatasync only, so the
# next one succeeds with the data gone: a FLUSH after the failed one must
# fail too, or the guest is told its data is durable when it is not.
# Expected, on both engine paths (aio fdsync, fdatasync on a worker): the
# first sync fails (IOERR), and so does every later FLUSH, though the disk
# (the fault library) would now sync; reads and writes go on; the daemon
# says so once, as an error. A new daemon on the same image flushes again.
. "$(dirname "$0")/lib.sh"

mkdata "$T/a" 65536
for p in $PATHS; do
	mkimage "$T/disk.img" 16M
	fsim_ok "$(path_rules "$p")eio:fdsync:count=1" --disk "$T/disk.img" \
		-c "write 0 $T/a" -c "expect IOERR flush" \
		-c "write 65536 $T/a" -c "expect IOERR flush" \
		-c "expect IOERR flush" -c "verify 0 $T/a" -c "verify 65536 $T/a"
	flog_has "^fault eio fdsync " "$p: no sync failed"
	[ "$(grep -c 'error: .*a data sync failed' "$T/err")" -eq 1 ] ||
		fail "$p: want one 'a data sync failed' error line"
	# The later flushes reached the disk, which synced them: still IOERR.
	[ "$(grep -c '^fdsync-done .* res=0$' "$FLOG")" -ge 2 ] ||
		fail "$p: the later flushes did not sync (nothing to refuse)"
	fsim_ok "$(path_rules "$p")" --disk "$T/disk.img" \
		-c "write 131072 $T/a" -c flush -c "verify 0 $T/a"
done
pass "after a failed sync every flush fails ($PATHS paths); a new daemon flushes"
