#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Buffer lengths near 2^32: a read into 0xffffffff bytes (not whole
# sectors), a read into 0xfffffe00 bytes and a write of 0xfffffe00 bytes
# (both past the device's per-request limit and past RAM), and a status
# buffer of 0xffffffff bytes, whose last byte (the status) lies 4 GiB past
# the start of RAM.
# Expected: IOERR and no data moved for the first three (the image
# untouched); the daemon zeroes none of a buffer past its per-request
# limit, so the reads' used length is 0 (§2.7.8.1: no more than it
# wrote), their status written all the same; used len 0 for the last,
# nothing written.
. "$(dirname "$0")/lib.sh"

setup
keep 32768 4096
c raw-init 'fill data 4096 0xaa' \
	'hdr in 64' 'desc 0 hdr 16 N 1' 'desc 1 data 0xffffffff WN 2' \
	'desc 2 st 1 W' 'kick 0' 'used-expect 0 0 1' \
	'hdr in 64' 'desc 1 data 0xfffffe00 WN 2' 'kick 0' \
	'used-expect 0 0 1' \
	'hdr out 64' 'desc 1 data 0xfffffe00 N 2' 'kick 0' 'used-expect 0 1 1' \
	'hdr in 64' 'desc 1 data 512 WN 2' 'desc 2 st 0xffffffff W' \
	'kick 0' 'used-expect 0 0 -' 'expect-fill data 4096 0xaa' raw-good
finish "lengths near 4 GiB: IOERR, or used len 0 for the status buffer"
