#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Linux reports a writeback error once per open file, to the first sync
# that looks (errseq), and a write-through write's RWF_DSYNC is such a
# sync. Were the daemon's data syncs made on the open file its libaio
# writes use, a write that took the report would leave the next sync
# clean, and the request that sync stands for would be answered OK for
# data the kernel dropped. The fault library keeps Linux's error sequence
# per open file (wberr). Write-through (FLUSH turned down), one
# notification for two requests:
#   Z  WRITE_ZEROES, on a worker: a writeback error happens as its
#      fallocate returns (or its pwrite of zeroes, where the file system
#      has no ZERO_RANGE), and its data sync is held back 1.5 s;
#   B  a 4 KiB write through libaio with RWF_DSYNC, its completion held
#      back 300 ms: it looks first, takes the report and fails (IOERR).
# Expected: Z's sync sees the error all the same (the image's syncs have
# an open file of their own): IOERR, not OK; the daemon says a data sync
# failed. Two reports in the fault log, one per open file.
. "$(dirname "$0")/lib.sh"

case " $PATHS " in
*" aio "*) ;;
*) skip "no O_DIRECT in ${TMPDIR:-/tmp}: no RWF_DSYNC writes" ;;
esac

mkimage "$T/disk.img" 16M
# B writes bytes [0, 4 KiB), Z zeroes [2 MiB, +4 KiB); a first write at
# 1 MiB settles the engine's path (bounce buffers where zero-copy fails).
rules="delay:write:via=aio:offset=0-4096:ms=300"
rules="$rules;wberr:fallocate+write:via=sync:offset=2m-3m"
rules="$rules;delay:fdsync:via=sync:ms=1500:count=1"
fsim_ok "$rules" \
	--disk "$T/disk.img" -c "raw-init features=VERSION_1,WRITE_ZEROES" \
	-c 'fill data 4096 0x5a' -c 'hdr out 2048' \
	-c 'desc 0 hdr 16 N 1' -c 'desc 1 data 4096 N 2' -c 'desc 2 st 1 W' \
	-c 'kick 0' -c 'used-expect 0 1 0' -c 'hdr out 0' \
	-c 'hdr write-zeroes 0 hdr2' -c 'put st2 1 0xff' \
	-c 'put data2 8 4096' -c 'put data2+8 4 8' -c 'put data2+12 4 0' \
	-c 'desc 3 hdr2 16 N 4' -c 'desc 4 data2 16 N 5' -c 'desc 5 st2 1 W' \
	-c 'kick 0 3' -c 'used-expect 0 1 1' -c 'used-expect 3 1' \
	-c 'expect-mem st2 1 1'
flog_has '^fault wberr (fallocate|write) sync' "no writeback error injected"
flog_has '^write-done aio .* res=-5 dsync=1' "the RWF_DSYNC write took no report"
files=$(sed -n 's/^wberr-report fd=//p' "$FLOG" | sort -u | wc -l)
[ "$files" -eq 2 ] ||
	fail "want reports on two open files (the write's, the syncs'): $files"
err_has 'a data sync failed'
pass "a writeback error taken by an RWF_DSYNC write still fails the next data sync"
