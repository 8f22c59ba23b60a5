#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Sector numbers whose byte offset overflows 64 bits or lies past the end
# (capacity 8192 sectors): reads at 2^55 (x512 = 2^64), 2^64-1 and 8192,
# writes at 2^55+1 (x512 wraps to byte 512) and 8191 (two sectors), a read
# of two sectors at 8191; DISCARD and WRITE_ZEROES segments at 2^63, at
# 2^64-1, and past the end.
# Expected: IOERR, nothing read or written (the image keeps its size and
# bytes), a read's buffer zeroed; a one-sector read at 8191 is served.
. "$(dirname "$0")/lib.sh"

setup
keep 0 4096
keep 4190208 4096
c "raw-init features=$FEAT_DEF,DISCARD,WRITE_ZEROES" 'fill data 1024 0xaa' \
	'desc 0 hdr 16 N 1' 'desc 1 data 512 WN 2' 'desc 2 st 1 W'
for sector in 0x80000000000000 0xffffffffffffffff 8192; do
	c "hdr in $sector" 'kick 0' 'used-expect 0 513 1'
done
c 'fill data 1024 0xaa' 'hdr in 8191' 'desc 1 data 1024 WN 2' 'kick 0' \
	'used-expect 0 1025 1' 'expect-fill data 1024 0' \
	'hdr out 0x80000000000001' 'desc 1 data 512 N 2' \
	'kick 0' 'used-expect 0 1 1' \
	'hdr out 8191' 'desc 1 data 1024 N 2' 'kick 0' 'used-expect 0 1 1' \
	'hdr in 8191' 'desc 1 data 512 WN 2' 'kick 0' 'used-expect 0 513 0' \
	'expect-image data 512 4193792' 'desc 1 data 16 N 2'
for seg in 0x8000000000000000:8 0xffffffffffffffff:1 8191:2 8192:1; do
	for type in discard write-zeroes; do
		c "put data 8 ${seg%:*}" "put data+8 4 ${seg#*:}" \
			'put data+12 4 0' "hdr $type 0" 'kick 0' 'used-expect 0 1 1'
	done
done
c raw-good
finish "overflowing or out-of-range sectors: IOERR, image untouched"
