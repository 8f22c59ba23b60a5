#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# A full file system: a sparse image larger than its (small) tmpfs. Writes
# into holes beyond the free space get ENOSPC, which the guest sees as
# IOERR; reads still work; once the host frees space, writes work again.
# Both engine paths. Needs root to mount the tmpfs.
. "$(dirname "$0")/lib.sh"

MNT="$T/mnt"
mkdir -p "$MNT"
mount -t tmpfs -o size=4m,mode=0700 xvb-enospc "$MNT" 2>/dev/null ||
	skip "cannot mount a tmpfs (needs root)"
trap 'umount "$MNT" 2>/dev/null; rm -rf "$T"' EXIT

mkdata "$T/a" 65536
mkdata "$T/big" $((4 * 1048576))
M=1048576
for p in $PATHS; do
	rm -f "$MNT"/*
	# 1 MiB taken by another file, 64 KiB by the image's data.
	head -c $M /dev/zero >"$MNT/filler" || fail "cannot fill $MNT"
	mkimage "$MNT/disk.img" 32M
	fsim_ok "$(path_rules "$p")" --disk "$MNT/disk.img" \
		-c "write 0 $T/a" \
		-c "expect IOERR write $((8 * M)) $T/big" \
		-c "verify 0 $T/a" \
		-c "expect IOERR write $((16 * M)) $T/a" \
		-c "verify 0 $T/a" \
		-c "host-rm $MNT/filler" \
		-c "write $((16 * M)) $T/a" -c flush \
		-c "verify $((16 * M)) $T/a" -c "verify 0 $T/a"
	err_has "No space left on device"
	path_check "$p"
	for off in 0 $((16 * M)); do
		host_extract "$MNT/disk.img" $off 65536 "$T/h"
		same "$T/a" "$T/h" "$p: write at $off"
	done
done
pass "ENOSPC is IOERR, reads keep working, writes resume after space is freed ($PATHS paths)"
