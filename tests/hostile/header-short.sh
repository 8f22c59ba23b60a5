#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# A header of 8 bytes instead of 16.
# Expected: IOERR, nothing read, the data buffer zeroed (used len 513). The contrast: the same 16
# bytes split over two descriptors (8 + 8) are a valid header (ANY_LAYOUT,
# §2.7.4) and the read is served.
. "$(dirname "$0")/lib.sh"

setup
c raw-init 'fill data 512 0xaa' \
	'hdr in 64' 'desc 0 hdr 8 N 1' 'desc 1 data 512 WN 2' 'desc 2 st 1 W' \
	'kick 0' 'used-expect 0 513 1' 'expect-fill data 512 0' \
	'hdr in 64' 'desc 0 hdr 8 N 3' 'desc 3 hdr+8 8 N 1' \
	'kick 0' 'used-expect 0 513 0' 'expect-image data 512 32768' raw-good
finish "8-byte header: IOERR; 8 + 8 bytes: served"
