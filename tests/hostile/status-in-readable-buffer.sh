#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# The status byte in a device-readable buffer: after writable data (a
# read: readable after writable, against §2.7.4.2), after readable data (a
# write: no writable byte at all), and a flush.
# Expected: used len 0 for each; nothing read, nothing written to the image,
# the status byte untouched.
. "$(dirname "$0")/lib.sh"

setup
keep 32768 4096
c raw-init 'fill data 512 0xaa' \
	'hdr in 64' 'desc 0 hdr 16 N 1' 'desc 1 data 512 WN 2' 'desc 2 st 1 -' \
	'kick 0' 'used-expect 0 0 -' 'expect-fill data 512 0xaa' \
	'hdr out 64' 'desc 1 data 512 N 2' 'kick 0' 'used-expect 0 0 -' \
	'hdr flush 0' 'desc 0 hdr 16 N 2' 'kick 0' 'used-expect 0 0 -' raw-good
finish "status in a readable buffer: used len 0, nothing written"
