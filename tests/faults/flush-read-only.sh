#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# A FLUSH on a read-only disk has nothing to make durable: it completes OK
# without a sync, so an image on a file system with no fsync (squashfs,
# iso9660: fdatasync fails with EINVAL, as the fault library makes it
# here) does not fail every flush and claim written data may be lost.
# The writable disk beside it still syncs, and its failure still counts.
. "$(dirname "$0")/lib.sh"

mkimage "$T/ro.img" 4M
mkimage "$T/rw.img" 4M
mkdata "$T/d" 4096
fsim_ok "einval:fdsync:path=ro.img;eio:fdsync:path=rw.img" \
	--disk "$T/ro.img,ro" --disk "$T/rw.img" \
	-c flush -c flush -c "verify 0 $T/ro.img" \
	-c "device 1" -c "write 0 $T/d" -c "expect IOERR flush"
flog_lacks "^fault einval fdsync" "the read-only disk was synced"
flog_has "^fault eio fdsync" "the writable disk was not synced"
[ "$(grep -c 'a data sync failed' "$T/err")" -eq 1 ] ||
	fail "want exactly one 'a data sync failed' line (the writable disk's)"
grep -q 'ro.img: a data sync failed' "$T/err" &&
	fail "the read-only disk reported a failed sync"
pass "FLUSH on a read-only disk: OK without a sync; the writable disk's still syncs"
