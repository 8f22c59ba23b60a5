#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Writes to a read-only disk (access=ro; VIRTIO_BLK_F_RO offered):
# OUT through the driver and by hand, DISCARD and WRITE_ZEROES.
# Expected: IOERR (§5.2.6.2: the device MUST set IOERR for a write request
# if VIRTIO_BLK_F_RO is offered, and MUST NOT write any data; DISCARD and
# WRITE_ZEROES get IOERR too), the image byte-for-byte unchanged on the
# host; reads, FLUSH and GET_ID still work.
. "$(dirname "$0")/lib.sh"

setup ro
c 'expect IOERR request 1 64 4096' 'expect IOERR request 1 0 512 out' \
	'expect IOERR request 11 0 16 out' 'expect IOERR request 13 0 16 out' \
	'expect OK flush' 'expect OK get-id' "verify 0 $T/a.head" \
	raw-init 'fill data 4096 0xaa' \
	'hdr out 64' 'desc 0 hdr 16 N 1' 'desc 1 data 4096 N 2' 'desc 2 st 1 W' \
	'kick 0' 'used-expect 0 1 1' \
	'put data 8 0' 'put data+8 4 8' 'put data+12 4 0' \
	'hdr discard 0' 'desc 1 data 16 N 2' 'kick 0' 'used-expect 0 1 1' \
	'hdr write-zeroes 0' 'kick 0' 'used-expect 0 1 1' raw-good
# Refused by the rule itself, never tried on the read-only file descriptor
# (which would fail too, and hide the rule's absence).
finish_check() {
	for what in 'write to' 'discard on' 'write-zeroes on'; do
		grep -q "$what a read-only disk" "$T/err" ||
			fail "no '$what a read-only disk' refusal logged"
	done
	if grep -q 'I/O error' "$T/err"; then
		fail "a write reached the read-only image: $(grep -m1 'I/O error' "$T/err")"
	fi
}
finish "writes to a read-only disk: IOERR, image unchanged"
