#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Buffers straddling the end of RAM (their first bytes are RAM, the rest
# is not): read data, write data, a header, and a status buffer whose last
# byte (the status) is the first byte past RAM.
# Expected: IOERR for data and header, nothing read, written or moved to
# the image (used len 0 for the read, whose data buffer is not all RAM and
# is left alone; 513 for the header, whose data buffer is zeroed); used len 0 for the
# status buffer, and its in-RAM byte untouched.
. "$(dirname "$0")/lib.sh"

setup
keep 32768 8192
c raw-init 'fill data 512 0xaa' \
	'hdr in 64' 'desc 0 hdr 16 N 1' 'desc 1 ramend-256 512 WN 2' \
	'desc 2 st 1 W' 'kick 0' 'used-expect 0 0 1' \
	'hdr out 64' 'desc 1 ramend-4096 8192 N 2' 'kick 0' 'used-expect 0 1 1' \
	'hdr in 64' 'put ramend-8 8 0' 'desc 0 ramend-8 16 N 1' \
	'desc 1 data 512 WN 2' 'kick 0' 'used-expect 0 513 1' \
	'expect-fill data 512 0' \
	'hdr in 64' 'put ramend-1 1 0x77' 'desc 0 hdr 16 N 1' \
	'desc 2 ramend-1 2 W' 'kick 0' 'used-expect 0 0 -' \
	'expect-mem ramend-1 1 0x77' raw-good
finish "buffers straddling the end of RAM: IOERR or used len 0"
