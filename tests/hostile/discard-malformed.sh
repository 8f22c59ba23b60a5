#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Malformed DISCARD / WRITE_ZEROES segment lists (§5.2.6: 16-byte
# segments, at most max_discard_seg = 16, at most max_*_sectors each): no
# segment, 24 bytes (a segment and a half), 17 segments, a segment of
# 2^22+1 sectors (past max_*_sectors and the disk), the segments in a
# device-writable buffer, the segments outside RAM; DISCARD with any flag
# and WRITE_ZEROES with an unknown flag.
# Expected: IOERR for the malformed lists; UNSUPP for the flags (§5.2.6.2:
# the device MUST set UNSUPP if any unknown flag is set); nothing
# discarded or zeroed (checked on the host). 16 empty segments are a
# no-op: OK. Each bad list is logged (the segments outside RAM too).
. "$(dirname "$0")/lib.sh"

finish_check() {
	for type in discard write-zeroes; do
		[ "$(grep -c "warning: virtio-blk: $type segments not in RAM" "$T/err")" -eq 1 ] ||
			fail "$type: want one 'segments not in RAM' warning"
	done
}

setup
keep 0 4096
keep 32768 4096
c "raw-init features=$FEAT_DEF,DISCARD,WRITE_ZEROES" \
	'desc 0 hdr 16 N 1' 'desc 1 data 16 N 2' 'desc 2 st 1 W'
for type in discard write-zeroes; do
	c 'fill data 512 0' "hdr $type 0" 'desc 0 hdr 16 N 2' \
		'kick 0' 'used-expect 0 1 1' \
		'desc 0 hdr 16 N 1' 'desc 1 data 24 N 2' \
		'kick 0' 'used-expect 0 1 1' \
		'desc 1 data 272 N 2' 'kick 0' 'used-expect 0 1 1' \
		'desc 1 data 256 N 2' 'kick 0' 'used-expect 0 1 0' \
		'put data 8 64' 'put data+8 4 0x400001' 'desc 1 data 16 N 2' \
		"hdr $type 0" 'kick 0' 'used-expect 0 1 1' \
		'put data+8 4 8' "hdr $type 0" 'desc 1 data 16 WN 2' \
		'kick 0' 'used-expect 0 17 1' 'expect-fill data 16 0' \
		'put data 8 64' 'put data+8 4 8' \
		"hdr $type 0" 'desc 1 ramend-8 16 N 2' 'kick 0' 'used-expect 0 1 1' \
		'desc 1 data 16 N 2' 'put data+12 4 2' \
		"hdr $type 0" 'kick 0' 'used-expect 0 1 2'
done
c 'put data+12 4 1' 'hdr discard 0' 'kick 0' 'used-expect 0 1 2' raw-good
finish "malformed segment lists: IOERR; unknown flags: UNSUPP"
