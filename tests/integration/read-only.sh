#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# A read-only disk: RO offered; the Linux-like guest refuses writes and
# write-zeroes itself (EPERM, as Linux does: docs/xen-notes.md 2), and the
# writes a guest sends anyway (request) get IOERR; reads work, the image
# is unchanged.
. "$(dirname "$0")/lib.sh"

mkimage "$T/disk.img" 2M
fill_random "$T/disk.img"
cp "$T/disk.img" "$T/orig.img"
mkdata "$T/data" 4096
host_extract "$T/disk.img" 65536 131072 "$T/expect"

sim_ok --disk "$T/disk.img,ro" -c info -c 'expect EPERM write 0 '"$T/data" \
	-c 'expect IOERR request 1 0 4096 out' \
	-c 'expect IOERR request 1 2040 4096 out' \
	-c 'read 65536 131072 '"$T/got" -c 'verify 65536 '"$T/expect" \
	-c 'random-io 100 3 64'
out_has '^read-only: yes$'
out_has '^driver-features: .* RO( |$)'
same "$T/expect" "$T/got" "read from the read-only disk"
if grep -q '^driver-features: .* WRITE_ZEROES' "$T/out"; then
	sim_ok --disk "$T/disk.img,ro" -c 'expect EPERM write-zeroes 0 4096' \
		-c 'expect IOERR request 13 0 16 out'
fi
same "$T/orig.img" "$T/disk.img" "the read-only image"
pass "RO offered, the guest refuses writes (EPERM), sent ones get IOERR, reads correct"
