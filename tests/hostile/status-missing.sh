#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# No status byte: a chain of only the header (read, flush), and a write
# whose buffers are all device-readable. Then a read without a separate
# status buffer: chains are parsed by byte offset (§2.7.4), so its last
# writable byte is the status, leaving 511 data bytes.
# Expected: used len 0, the image untouched; the last: IOERR written into
# the data buffer's last byte, no data read, the 511 bytes before it
# zeroed (used len 512).
. "$(dirname "$0")/lib.sh"

setup
keep 32768 4096
c raw-init \
	'hdr in 64' 'desc 0 hdr 16 -' 'kick 0' 'used-expect 0 0 -' \
	'hdr flush 0' 'kick 0' 'used-expect 0 0 -' \
	'hdr out 64' 'desc 0 hdr 16 N 1' 'desc 1 data 4096 -' \
	'kick 0' 'used-expect 0 0 -' \
	'fill data 512 0xaa' 'hdr in 64' 'desc 1 data 512 W' \
	'kick 0' 'used-expect 0 512' 'expect-mem data+511 1 1' \
	'expect-fill data 511 0' raw-good
finish "missing status: used len 0; status inside data: IOERR"
