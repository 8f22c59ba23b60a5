#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# A file system without FALLOC_FL_ZERO_RANGE or PUNCH_HOLE in the middle of
# the image (fallocate says EOPNOTSUPP there; the probe at the end of the
# file still works, so DISCARD is offered): WRITE_ZEROES writes zeroes
# itself and is OK, with or without UNMAP; a disk error or a write the
# disk cuts short for good during those writes is IOERR, never OK, and a
# failed one changed nothing; DISCARD, only a hint, is OK and leaves the
# data. Both engine paths; the daemon serves on.
. "$(dirname "$0")/lib.sh"

M=1048576
K=65536
mkdata "$T/a" $K
head -c $((3 * M / 2)) /dev/zero >"$T/zero"
for p in $PATHS; do
	mkdata "$T/disk.img" $((8 * M))
	cp "$T/disk.img" "$T/orig.img"
	fsim_ok "$(path_rules "$p")eopnotsupp:fallocate:offset=0-8m;eio:write:offset=2m-3m;short:write:offset=$((9 * M / 2))-5m" \
		--disk "$T/disk.img" \
		-c "write-zeroes 0 $((3 * M / 2))" \
		-c "write-zeroes $((3 * M / 2)) $K unmap" \
		-c "expect IOERR write-zeroes $((2 * M)) $K" \
		-c "expect IOERR write-zeroes $((4 * M)) $M" \
		-c "expect OK discard $((6 * M)) $K" \
		-c "verify 0 $T/zero" \
		-c "write $((7 * M)) $T/a" -c "verify $((7 * M)) $T/a"
	flog_has "^fault eopnotsupp fallocate " "$p: no fallocate was refused"
	flog_has "^fault eio write sync off=$((2 * M)) " \
		"$p: no write of zeroes failed"
	flog_has "^fault short write sync off=$((9 * M / 2)) " \
		"$p: no write of zeroes was cut short for good"
	err_has "I/O error at byte $((2 * M)) \\(\\+$K\\): Input/output error" \
		"$p: the failed write of zeroes was not logged"
	host_extract "$T/disk.img" 0 $((3 * M / 2 + K)) "$T/h"
	cmp -s -n $((3 * M / 2 + K)) "$T/h" /dev/zero ||
		fail "$p: WRITE_ZEROES reported OK did not zero the image"
	for off in $((2 * M)) $((6 * M)); do
		host_extract "$T/disk.img" $off $K "$T/h"
		host_extract "$T/orig.img" $off $K "$T/o"
		same "$T/o" "$T/h" "$p: the image at $off changed"
	done
	host_extract "$T/disk.img" $((7 * M)) $K "$T/h"
	same "$T/a" "$T/h" "$p: write after the failed ones"
done
pass "no ZERO_RANGE: zeroes written by hand, their errors IOERR; DISCARD a no-op ($PATHS paths)"
