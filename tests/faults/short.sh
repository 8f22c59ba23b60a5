#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Short reads and writes are never success: a transfer the disk cuts short
# for good (as at the end of a file) is IOERR on both engine paths; one
# short transfer that the disk then continues (worker path: the kernel may
# return any partial count) completes with the right data in the guest and
# in the image. Requests outside the range are untouched.
. "$(dirname "$0")/lib.sh"

mkdata "$T/a" 65536
M=1048576
# Reads cut at 1 MiB + 32 KiB, writes at 3 MiB + 32 KiB.
R=$((M + 32768))
W=$((3 * M + 32768))
for p in $PATHS; do
	mkimage "$T/disk.img" 8M
	fsim_ok "$(path_rules "$p")short:read:offset=$R-$((2 * M));short:write:offset=$W-$((4 * M))" \
		--disk "$T/disk.img" \
		-c "write $M $T/a" -c "write 0 $T/a" \
		-c "expect IOERR read $M 65536 $T/x" \
		-c "expect IOERR read $R 4096 $T/x" \
		-c "expect IOERR write $((3 * M)) $T/a" \
		-c "expect IOERR write $W $T/a" \
		-c "verify 0 $T/a" -c "write $((5 * M)) $T/a" \
		-c "verify $((5 * M)) $T/a" -c flush
	path_check "$p"
	flog_has "^fault short read $p " "$p: no read was cut short"
	flog_has "^fault short write $p " "$p: no write was cut short"
	host_extract "$T/disk.img" $((5 * M)) 65536 "$T/h"
	same "$T/a" "$T/h" "$p: write after the short ones"
done

# Worker path: one partial transfer each, continued by the engine.
mkimage "$T/disk.img" 8M
fsim_ok "nodirect:open;short:read:offset=$R-:count=1;short:write:offset=$W-:count=1" \
	--disk "$T/disk.img" \
	-c "write $M $T/a" -c "verify $M $T/a" \
	-c "write $((3 * M)) $T/a" -c "verify $((3 * M)) $T/a" -c flush
flog_has "^fault short read sync " "one-shot: no read was cut short"
flog_has "^fault short write sync " "one-shot: no write was cut short"
flog_has "^write-done sync off=$W len=32768 res=32768" \
	"one-shot: the rest of the write was not written"
host_extract "$T/disk.img" $((3 * M)) 65536 "$T/h"
same "$T/a" "$T/h" "one-shot: the continued write"
pass "short transfers are IOERR ($PATHS paths); a continued partial transfer is OK"
