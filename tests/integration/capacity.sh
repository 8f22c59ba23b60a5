#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Capacity edges: an image of 1 MiB + 100 bytes has 2048 sectors; the last
# sector reads and writes, one past it (or straddling the end) is IOERR, and
# the 100-byte tail is never touched.
. "$(dirname "$0")/lib.sh"

mkimage "$T/disk.img" 1048676
fill_random "$T/disk.img"
tail -c 100 "$T/disk.img" >"$T/tail.before"
mkdata "$T/sector" 512
mkdata "$T/two" 1024

sim_ok --disk "$T/disk.img" -c info -c 'write 1048064 '"$T/sector" \
	-c 'verify 1048064 '"$T/sector" \
	-c 'expect IOERR read 1048576 512 '"$T/x" \
	-c 'expect IOERR write 1048576 '"$T/sector" \
	-c 'expect IOERR read 1047552 2048 '"$T/x" \
	-c 'expect IOERR write 1048064 '"$T/two" \
	-c 'expect IOERR read 0x7ffffffffffffe00 512 '"$T/x" \
	-c 'expect IOERR request 0 0xffffffffffffffff 512 in' \
	-c 'verify 1048064 '"$T/sector"
out_has '^capacity: 2048 sectors \(1048576 bytes\)$'
host_extract "$T/disk.img" 1048064 512 "$T/h"
same "$T/sector" "$T/h" "last sector on the host"
tail -c 100 "$T/disk.img" >"$T/tail.after"
same "$T/tail.before" "$T/tail.after" "the partial sector past the end"
[ "$(stat -c %s "$T/disk.img")" = 1048676 ] || fail "image size changed"
pass "capacity rounds down, last sector OK, past the end IOERR"
