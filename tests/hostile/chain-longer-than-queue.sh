#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# A direct chain longer than the queue (§2.7.5: the queue size is the
# longest possible chain) can only revisit a descriptor: in a queue of 4, a
# chain using all 4 descriptors is served; the same chain continued back
# to its head is dropped.
# Expected: {0, 1025} with status OK and the image's data, then used len 0
# with nothing written.
. "$(dirname "$0")/lib.sh"

setup
c 'raw-init num=4' 'hdr in 64' \
	'desc 0 hdr 16 N 1' 'desc 1 data 512 WN 2' 'desc 2 data+512 512 WN 3' \
	'desc 3 st 1 W' 'kick 0' 'used-expect 0 1025 0' \
	'expect-image data 1024 32768' \
	'hdr in 64' 'fill data 1024 0xaa' 'desc 3 st 1 WN 0' \
	'kick 0' 'used-expect 0 0 -' 'expect-fill data 1024 0xaa' raw-good
finish "4 descriptors in a queue of 4 served, a 5th (revisited) one refused"
