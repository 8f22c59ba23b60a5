#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# A read-only disk: RO offered, DISCARD and WRITE_ZEROES not; the
# Linux-like guest refuses writes itself (EPERM, as Linux does:
# docs/xen-notes.md 2), and the writes, discards and write-zeroes a guest
# sends anyway (request) get IOERR; reads work, the image is unchanged.
. "$(dirname "$0")/lib.sh"

mkimage "$T/disk.img" 2M
fill_random "$T/disk.img"
cp "$T/disk.img" "$T/orig.img"
mkdata "$T/data" 4096
host_extract "$T/disk.img" 65536 131072 "$T/expect"

sim_ok --disk "$T/disk.img,ro" -c info -c 'expect EPERM write 0 '"$T/data" \
	-c 'expect IOERR request 1 0 4096 out' \
	-c 'expect IOERR request 1 2040 4096 out' \
	-c 'expect IOERR request 11 0 16 out' \
	-c 'expect IOERR request 13 0 16 out' \
	-c 'read 65536 131072 '"$T/got" -c 'verify 65536 '"$T/expect" \
	-c 'random-io 100 3 64'
out_has '^read-only: yes$'
out_has '^driver-features: .* RO( |$)'
same "$T/expect" "$T/got" "read from the read-only disk"
grep -Eq '^driver-features: .*(DISCARD|WRITE_ZEROES)' "$T/out" &&
	fail "DISCARD or WRITE_ZEROES offered on a read-only disk"
same "$T/orig.img" "$T/disk.img" "the read-only image"
pass "RO offered, the guest refuses writes (EPERM), sent ones get IOERR, reads correct"
