#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# The request header in a device-writable buffer, so the chain has no
# device-readable bytes (§5.2.6: the header is device-readable), as a read
# and as a write; then a readable header after a writable buffer, against
# §2.7.4.2 (readable buffers come first).
# Expected: IOERR in the status byte, no data moved, the writable header
# and data zeroed and counted in the used length (16 + 512 + 1); the
# misordered chain: used len 0, nothing written.
. "$(dirname "$0")/lib.sh"

setup
keep 32768 4096
c raw-init 'fill data 512 0xaa' \
	'hdr in 64' 'desc 0 hdr 16 WN 1' 'desc 1 data 512 WN 2' \
	'desc 2 st 1 W' 'kick 0' 'used-expect 0 529 1' \
	'fill data 512 0xaa' 'hdr out 64' 'kick 0' 'used-expect 0 529 1' \
	'expect-fill data 512 0' 'fill data 512 0xaa' \
	'hdr in 64' 'desc 0 data 512 WN 1' 'desc 1 hdr 16 N 2' \
	'kick 0' 'used-expect 0 0 -' 'expect-fill data 512 0xaa' raw-good
finish "header in a writable buffer: IOERR; after one: used len 0"
