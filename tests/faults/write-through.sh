#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# A driver that turns VIRTIO_BLK_F_FLUSH down may take the disk for
# write-through (virtio 1.2 §5.2.6.2, case 1): every write and write-zeroes
# must be stable before it completes. On the libaio path each write carries
# RWF_DSYNC; on the worker path, and for write-zeroes, an fdatasync follows
# each one before it completes, and a failed sync is the request's IOERR.
# A kernel that refuses RWF_DSYNC gets a sync after each write instead.
# With FLUSH negotiated (Linux) the daemon pays for none of that.
. "$(dirname "$0")/lib.sh"

M=1048576
mkdata "$T/a" 65536
mkdata "$T/b" 4096

# synced_each_write WHAT: every successful write-done is followed by a
# successful fdsync before the next one (the sim issues one request at a
# time; a write refused with EFAULT is tried again through bounce buffers).
synced_each_write() {
	awk '/^write-done / && !/ res=-/ { if (open) exit 1; open = 1; n++ }
	     /^fdsync-done .* res=0$/ { open = 0 }
	     END { exit !(n && !open) }' "$FLOG" ||
		fail "$1: a write completed without an fdatasync after it"
}

for p in $PATHS; do
	# Write-through: FLUSH not accepted by the driver.
	mkimage "$T/disk.img" 16M
	fsim_ok "$(path_rules "$p")" --disk "$T/disk.img" \
		-c "features -FLUSH" -c info \
		-c "write 0 $T/a" -c "write $((3 * M + 512)) $T/b" \
		-c "write-zeroes $((5 * M)) 65536" \
		-c "signal-daemon KILL" -c "expect-exit KILL"
	grep -q '^cache: write through' "$T/out" ||
		fail "$p: the driver did not take the cache for write-through"
	path_check "$p"
	if [ "$p" = aio ]; then
		flog_lacks "^write-done aio .* dsync=0" \
			"$p: a write-through write went without RWF_DSYNC"
		# The write-zeroes ran on a worker and synced there.
		flog_has "^fdsync-done sync res=0" \
			"$p: write-zeroes completed without an fdatasync"
	else
		synced_each_write "$p"
	fi
	host_extract "$T/disk.img" 0 65536 "$T/h"
	same "$T/a" "$T/h" "$p: 64 KiB at 0"
	host_extract "$T/disk.img" $((3 * M + 512)) 4096 "$T/h"
	same "$T/b" "$T/h" "$p: 4 KiB at 3 MiB + 512"

	# A sync that fails is the request's error, not a silent OK.
	mkimage "$T/disk.img" 16M
	fsim_ok "$(path_rules "$p")eio:fdsync:via=sync" --disk "$T/disk.img" \
		-c "features -FLUSH" \
		-c "expect IOERR write-zeroes $((5 * M)) 65536"
	flog_has "^fault eio fdsync sync" "$p: the write-zeroes' sync"
	if [ "$p" = sync ]; then
		fsim_ok "nodirect:open;eio:fdsync:via=sync" \
			--disk "$T/disk.img" -c "features -FLUSH" \
			-c "expect IOERR write 0 $T/a"
	fi

	# A kernel that refuses RWF_DSYNC (before 4.13): each write is
	# synced after it completes instead, and reported only then.
	if [ "$p" = aio ]; then
		mkimage "$T/disk.img" 16M
		fsim_ok "nodsync:write" --disk "$T/disk.img" \
			-c "features -FLUSH" \
			-c "write 0 $T/a" -c "write $((3 * M + 512)) $T/b" \
			-c "verify 0 $T/a" -c "verify $((3 * M + 512)) $T/b"
		flog_has "^fault nodsync write aio" "nodsync: never refused"
		err_has 'RWF_DSYNC unsupported by the kernel'
		synced_each_write "nodsync"
	fi

	# Write-back (FLUSH negotiated): no per-write sync.
	mkimage "$T/disk.img" 16M
	fsim_ok "$(path_rules "$p")" --disk "$T/disk.img" \
		-c "write 0 $T/a" -c "write $((3 * M + 512)) $T/b" \
		-c "write-zeroes $((5 * M)) 65536"
	path_check "$p"
	flog_lacks "^write-done aio .* dsync=1" "$p: write-back write with RWF_DSYNC"
	flog_lacks "^fdsync" "$p: write-back write synced"
done
pass "FLUSH turned down: writes and write-zeroes are stable before they complete ($PATHS paths); a failed sync is IOERR"
