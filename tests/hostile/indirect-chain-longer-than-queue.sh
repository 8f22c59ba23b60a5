#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Through an indirect table a chain can hold more descriptors than the
# queue has entries. §2.7.5.3.1 tells drivers not to, but asks nothing of
# the device, and Linux's ring code only objects to total_sg > num without
# indirect descriptors; the daemon's choice is to accept chains up to
# VIRTQ_MAX_CHAIN (1024) descriptors. A queue of 4 carries a 16-entry
# table: header, 14 data buffers of 512 bytes, status.
# Expected: served, {0, 7169}, status OK, the image's data.
. "$(dirname "$0")/lib.sh"

setup
c 'raw-init num=4' 'hdr in 64' \
	'idesc table 0 hdr 16 N 1' 'idesc-fill table 1 14 data 512 WN' \
	'idesc table 15 st 1 W' 'desc 0 table 256 I' \
	'kick 0' 'used-expect 0 7169 0' 'expect-image data 7168 32768' raw-good
finish "a 16-descriptor indirect chain in a queue of 4 is served"
