#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Two disks in one guest: each at its own window and SPI, each with its own
# data; writes through device 1 land in the second image only.
. "$(dirname "$0")/lib.sh"

mkimage "$T/a.img" 1M
mkimage "$T/b.img" 3M
fill_random "$T/a.img"
fill_random "$T/b.img"
cp "$T/a.img" "$T/a.orig"
host_extract "$T/a.img" 0 65536 "$T/a.head"
host_extract "$T/b.img" 0 65536 "$T/b.head"
mkdata "$T/w" 32768

sim_ok --disk "$T/a.img" --disk "$T/b.img,serial=SECOND" \
	-c 'verify 0 '"$T/a.head" -c 'device 1' -c info \
	-c 'verify 0 '"$T/b.head" -c 'write 1048576 '"$T/w" -c get-id \
	-c 'device 0' -c 'verify 0 '"$T/a.head" -c 'device 1' \
	-c 'verify 1048576 '"$T/w" -c 'random-io 200 5 64 at=2097152'
out_has '^base: 0x2000200$'
out_has '^irq: 34$'
out_has '^capacity: 6144 sectors'
out_has '^serial: SECOND$'
host_extract "$T/b.img" 1048576 32768 "$T/h"
same "$T/w" "$T/h" "device 1's write in the second image"
same "$T/a.orig" "$T/a.img" "the first image after device 1's writes"
sim_ok --disk "$T/a.img" --disk "$T/b.img" -c 'random-io 200 6 64'
sim --disk "$T/a.img" --disk "$T/b.img" -c 'device 2' &&
	fail "device 2 accepted with two disks"
grep -q "failed: USAGE.*no device '2' (have 2)" "$T/err" ||
	fail "device 2: not refused as absent: $(tail -n1 "$T/err")"
pass "two disks served independently"
