#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Huge indirect tables: 0xfffffff0 and 0xffffffff bytes, 2 GiB, and 16400
# bytes (1025 entries, one more than VIRTQ_MAX_CHAIN); the table's start
# is valid RAM.
# Expected: used len 0 for each; the daemon never reads past its limit.
. "$(dirname "$0")/lib.sh"

setup
c raw-init 'hdr in 64' \
	'idesc table 0 hdr 16 N 1' 'idesc table 1 data 512 WN 2' \
	'idesc table 2 st 1 W'
for len in 0xfffffff0 0xffffffff 0x80000000 16400; do
	c "desc 0 table $len I" 'kick 0' 'used-expect 0 0 -'
done
c raw-good
finish "huge indirect tables: used len 0"
