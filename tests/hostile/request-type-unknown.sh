#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Request types the device does not implement: SCSI_CMD (2), 3, 5,
# GET_LIFETIME (10), SECURE_ERASE (14), zoned (15, 24), 0xffffffff, and a
# read carrying the legacy BARRIER flag (0x80000000); DISCARD and
# WRITE_ZEROES from a driver that did not negotiate them.
# Expected: UNSUPP (§5.2.6: unsupported requests), no data read or
# written; a writable data buffer zeroed and counted in the used length;
# the DISCARD and WRITE_ZEROES logged once each.
. "$(dirname "$0")/lib.sh"

finish_check() {
	for type in discard write-zeroes; do
		[ "$(grep -c "warning: virtio-blk: $type not negotiated" "$T/err")" -eq 1 ] ||
			fail "$type: want one 'not negotiated' warning"
	done
}

setup
keep 32768 4096
for type in 2 3 5 10 14 15 24 0xffffffff 0x80000000; do
	c "expect UNSUPP request $type 64 512 in" \
		"expect UNSUPP request $type 64 512 out"
done
c raw-init 'fill data 512 0xaa' \
	'hdr 0x80000000 64' 'desc 0 hdr 16 N 1' 'desc 1 data 512 WN 2' \
	'desc 2 st 1 W' 'kick 0' 'used-expect 0 513 2' \
	'expect-fill data 512 0' \
	'put data 8 64' 'put data+8 4 8' 'put data+12 4 0' \
	'desc 1 data 16 N 2' 'hdr discard 0' 'kick 0' 'used-expect 0 1 2' \
	'hdr write-zeroes 0' 'kick 0' 'used-expect 0 1 2' raw-good
finish "unknown request types: UNSUPP"
