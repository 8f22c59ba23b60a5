#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Buffers whose address plus length wraps around 2^64: read data, write
# data, a header at 2^64-8, a status buffer at 2^64-1 of 2 bytes, and a
# status buffer ending past 2^64.
# Expected: IOERR for data and header (used len 0 where the data buffer
# wraps, as nothing before the status could be written; 513 with the data
# buffer after the wrapping header zeroed); used len 0 where the
# status byte's own address wraps; nothing else written, image untouched.
. "$(dirname "$0")/lib.sh"

setup
keep 32768 4096
c raw-init 'fill data 1024 0xaa' \
	'hdr in 64' 'desc 0 hdr 16 N 1' 'desc 1 0xfffffffffffffe00 1024 WN 2' \
	'desc 2 st 1 W' 'kick 0' 'used-expect 0 0 1' \
	'hdr out 64' 'desc 1 0xffffffffffffff00 512 N 2' \
	'kick 0' 'used-expect 0 1 1' \
	'hdr in 64' 'desc 0 0xfffffffffffffff8 16 N 1' 'desc 1 data 512 WN 2' \
	'kick 0' 'used-expect 0 513 1' \
	'hdr in 64' 'desc 0 hdr 16 N 1' 'desc 2 0xffffffffffffffff 2 W' \
	'kick 0' 'used-expect 0 0 -' \
	'hdr in 64' 'desc 2 st 1 WN 3' 'desc 3 0xfffffffffffff000 0x2000 W' \
	'kick 0' 'used-expect 0 0 -' 'expect-fill data 512 0' \
	'expect-fill data+512 512 0xaa' raw-good
finish "addresses wrapping 2^64: IOERR or used len 0"
