#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Reads and writes whose data is not a whole number of 512-byte sectors
# (§5.2.6: the data of IN and OUT is a multiple of 512 bytes): IOERR and
# the image untouched, on both engine paths. On the libaio path the kernel
# would refuse such I/O itself (EINVAL on O_DIRECT); on the worker path
# (buffered) it would not, so the rule must be the daemon's own.
. "$(dirname "$0")/lib.sh"

mkimage "$T/disk.img" 4M
fill_random "$T/disk.img"
cp "$T/disk.img" "$T/orig.img" || fail "cannot copy the image"
for p in $PATHS; do
	# The aligned write after them is new data, put into the expected
	# image too: the rest must stay the original.
	mkdata "$T/w" 4096
	dd if="$T/w" of="$T/orig.img" bs=4096 seek=1 conv=notrunc status=none ||
		fail "cannot patch the expected image"
	fsim_ok "$(path_rules "$p")" --disk "$T/disk.img" \
		-c 'expect IOERR request 1 0 100 out' \
		-c 'expect IOERR request 1 8 4097 out' \
		-c 'expect IOERR request 0 0 513 in' \
		-c "write 4096 $T/w" -c "verify 4096 $T/w"
	flog_lacks "^write-done .* len=(100|4097) " "$p: an unaligned write reached the disk"
	host_extract "$T/disk.img" 4096 4096 "$T/h"
	same "$T/w" "$T/h" "$p: an aligned write after them"
	cmp -s "$T/disk.img" "$T/orig.img" ||
		fail "$p: the image changed"
done
pass "data not a multiple of 512 bytes: IOERR, image untouched ($PATHS paths)"
