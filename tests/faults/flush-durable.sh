#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# FLUSH means durable: the guest writes, flushes (OK), and the daemon is
# killed with SIGKILL right after the flush completed. The image on the host
# holds every byte, and the fault log (written unbuffered, so it survives
# the kill) shows the FLUSH became a successful fdatasync after the last
# write had completed, before the kill. Both engine paths; the FLUSH is
# the worker thread's fdatasync on both.
. "$(dirname "$0")/lib.sh"

M=1048576
mkdata "$T/a" $M
mkdata "$T/b" 65536
mkdata "$T/c" 4096

# synced_after_writes WHAT: a successful fdsync follows the last write.
synced_after_writes() {
	awk '/^write-done / { w = NR; if ($0 !~ / res=-/) ok = 1 }
	     /^fdsync-done .* res=0$/ { s = NR }
	     END { exit !(ok && s > w) }' "$FLOG" ||
		fail "$1: no successful fdsync after the last write"
}

for p in $PATHS; do
	rules=$(path_rules "$p")
	mkimage "$T/disk.img" 16M
	# The sync takes 500 ms: a FLUSH answered before it ended would
	# have the daemon killed before its fdsync-done line.
	fsim_ok "${rules}delay:fdsync:ms=500" --disk "$T/disk.img" \
		-c "write 0 $T/a" -c "write $((5 * M)) $T/b" \
		-c "write $((9 * M + 512)) $T/c" -c flush \
		-c "signal-daemon KILL" -c "expect-exit KILL"
	flog_has "^fdsync-done sync res=0" "$p: fdatasync on a worker"
	path_check "$p"
	synced_after_writes "$p"
	host_extract "$T/disk.img" 0 $M "$T/h"
	same "$T/a" "$T/h" "$p: 1 MiB at 0 after SIGKILL"
	host_extract "$T/disk.img" $((5 * M)) 65536 "$T/h"
	same "$T/b" "$T/h" "$p: 64 KiB at 5 MiB after SIGKILL"
	host_extract "$T/disk.img" $((9 * M + 512)) 4096 "$T/h"
	same "$T/c" "$T/h" "$p: 4 KiB at 9 MiB + 512 after SIGKILL"
done
pass "flushed data is in the image after SIGKILL; the flush synced after the writes ($PATHS)"
