#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Every request type: FLUSH, DISCARD, WRITE_ZEROES with and without UNMAP
# (the range reads back as zeros through the device and on the host),
# GET_ID (derived and serial=), and unknown types (UNSUPP).
. "$(dirname "$0")/lib.sh"

mkimage "$T/disk.img" 4M
mkdata "$T/data" 262144
head -c 8192 /dev/zero >"$T/zero8k"
head -c 65536 /dev/zero >"$T/zero64k"

# The expected image: the data with two ranges zeroed.
cp "$T/data" "$T/expect"
dd if=/dev/zero of="$T/expect" bs=512 seek=16 count=16 conv=notrunc \
	status=none
dd if=/dev/zero of="$T/expect" bs=512 seek=128 count=128 conv=notrunc \
	status=none

sim_ok --disk "$T/disk.img" -c info -c 'write 0 '"$T/data" -c flush \
	-c 'write-zeroes 8192 8192' -c 'verify 8192 '"$T/zero8k" \
	-c 'write-zeroes 65536 65536 unmap' -c 'verify 65536 '"$T/zero64k" \
	-c 'verify 0 '"$T/expect" -c flush
out_has '^driver-features: .* FLUSH'
out_has '^driver-features: .* WRITE_ZEROES'
host_extract "$T/disk.img" 0 262144 "$T/h"
same "$T/expect" "$T/h" "image after write-zeroes (with and without unmap)"

# A larger range (split into several ranges or requests if the device's
# max_write_zeroes_sectors/seg ask for it) over data written just before.
head -c 3145728 /dev/zero >"$T/zero3m"
sim_ok --disk "$T/disk.img" -c 'write 1048576 '"$T/data" \
	-c 'write-zeroes 1048576 3145728' -c 'verify 1048576 '"$T/zero3m"

# Discard: only the status is defined (contents after it are not). It is
# offered where the file system punches holes (asked here apart from the
# daemon); a device that does not offer it must refuse it.
sim_ok --disk "$T/disk.img" -c info
command -v fallocate >/dev/null || fail "no fallocate(1) (util-linux)"
head -c 8192 /dev/urandom >"$T/punch" || fail "cannot create $T/punch"
if fallocate -p -o 0 -l 4096 "$T/punch" 2>/dev/null; then
	out_has '^driver-features: .* DISCARD'
	sim_ok --disk "$T/disk.img" -c 'discard 1048576 1048576' -c status
	out_has '^status: OK$'
else
	grep -q '^driver-features: .* DISCARD' "$T/out" &&
		fail "DISCARD offered where the file system punches no holes"
	sim_ok --disk "$T/disk.img" -c 'expect UNSUPP discard 1048576 4096'
fi

# GET_ID: a derived serial by default, the given one with serial=.
sim_ok --disk "$T/disk.img" -c get-id
grep -Eq '^serial: .+$' "$T/out" || fail "no default serial"
sim_ok --disk "$T/disk.img,serial=XVB-TEST-0001" -c get-id
out_has '^serial: XVB-TEST-0001$'
sim_ok --disk "$T/disk.img,serial=ABCDEFGHIJKLMNOPQRST" -c get-id
out_has '^serial: ABCDEFGHIJKLMNOPQRST$'

# Unknown and legacy request types are refused, the device keeps working.
sim_ok --disk "$T/disk.img" -c 'expect UNSUPP request 0x1234 0 0' \
	-c 'expect UNSUPP request 2 0 512' -c 'verify 0 '"$T/expect"
pass "flush, discard, write-zeroes (+unmap), get-id, unknown types"
