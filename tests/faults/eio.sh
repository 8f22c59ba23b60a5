#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# EIO from the disk reaches the guest as IOERR, never as OK, on both engine
# paths (libaio on O_DIRECT, worker threads on buffered I/O): reads, writes
# (also one that only straddles the bad range), FLUSH, DISCARD and
# WRITE_ZEROES. The daemon keeps serving everything outside the bad range,
# failed writes changed nothing, and after the failed FLUSH every later one
# fails too (tests/faults/flush-error-sticky.sh).
# A failed read leaves zeros in its buffer, which the used length counts
# with the status byte (§2.7.8: the driver looks no further than len).
. "$(dirname "$0")/lib.sh"

mkdata "$T/a" 65536
head -c 131072 /dev/zero >"$T/zero"
M=1048576
for p in $PATHS; do
	mkimage "$T/disk.img" 16M
	fsim_ok "$(path_rules "$p")eio:write:offset=1m-2m;eio:read:offset=3m-4m;eio:fdsync:count=1;eio:fallocate:offset=5m-6m" \
		--disk "$T/disk.img" \
		-c "write 0 $T/a" -c "write $((3 * M)) $T/a" \
		-c "expect IOERR write $M $T/a" \
		-c "expect IOERR write $((M - 32768)) $T/a" \
		-c "write $((2 * M)) $T/a" \
		-c "expect IOERR read $((3 * M)) 4096 $T/x" \
		-c "expect IOERR read $((3 * M - 512)) 1024 $T/x" \
		-c "verify 0 $T/a" -c "verify $((2 * M)) $T/a" \
		-c "expect IOERR flush" -c "expect IOERR flush" \
		-c "expect IOERR write-zeroes $((5 * M)) 65536" \
		-c "expect IOERR discard $((5 * M)) 65536" \
		-c "write-zeroes $((6 * M)) 65536" \
		-c "write $((8 * M)) $T/a" -c "verify $((8 * M)) $T/a" \
		-c raw-init -c 'fill data 512 0xaa' -c 'hdr in 6144' \
		-c 'desc 0 hdr 16 N 1' -c 'desc 1 data 512 WN 2' \
		-c 'desc 2 st 1 W' -c 'kick 0' -c 'used-expect 0 513 1' \
		-c 'expect-fill data 512 0'
	path_check "$p"
	flog_has "^fault eio write $p " "$p: no write failed"
	flog_has "^fault eio read $p " "$p: no read failed"
	flog_has "^fault eio fdsync " "$p: no flush failed"
	flog_has "^fault eio fallocate " "$p: no discard/write-zeroes failed"
	# Both failed writes covered [1 MiB - 32 KiB, 1 MiB + 64 KiB).
	host_extract "$T/disk.img" $((M - 32768)) 98304 "$T/h"
	cmp -s -n 98304 "$T/h" "$T/zero" ||
		fail "$p: a write reported as failed changed the image"
	for off in 0 $((2 * M)) $((3 * M)) $((8 * M)); do
		host_extract "$T/disk.img" $off 65536 "$T/h"
		same "$T/a" "$T/h" "$p: write at $off"
	done
done
pass "EIO is IOERR for read/write/flush/discard/write-zeroes ($PATHS paths); the rest keeps working"
