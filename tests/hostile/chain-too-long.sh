#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Chains past the device's limits. A 1024-entry table (header, 1022 data
# buffers, status) is a valid chain for the ring but has more segments
# than seg_max (254) allows: the block device answers IOERR. One more
# descriptor (a direct header before a 1024-entry table: 1025 >
# VIRTQ_MAX_CHAIN) is refused by the ring walk.
# Expected: IOERR, no data read, the writable buffers not zeroed (more
# buffers than a read may have, which must not become the daemon's work)
# and so used len 0 (§2.7.8.1: no more than the device wrote); then used
# len 0, nothing written.
. "$(dirname "$0")/lib.sh"

setup
c raw-init 'hdr in 0' 'fill data 4096 0xaa' \
	'idesc table 0 hdr 16 N 1' 'idesc-fill table 1 1022 data 512 WN' \
	'idesc table 1023 st 1 W' 'desc 0 table 16384 I' \
	'kick 0' 'used-expect 0 0 1' 'expect-fill data 4096 0xaa' \
	'hdr in 0' 'idesc-fill table 0 1023 data 512 WN' \
	'idesc table 1023 st 1 W' 'desc 1 hdr 16 N 2' 'desc 2 table 16384 I' \
	'kick 1' 'used-expect 1 0 -' \
	'expect-fill data 4096 0xaa' raw-good
finish "1024 descriptors: IOERR (over seg_max); 1025: used len 0"
