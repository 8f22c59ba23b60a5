#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Indirect table lengths that are not a multiple of 16 (a descriptor's
# size): 47, 49, 8 and 1 bytes for a 3-entry table.
# Expected: used len 0 for each, nothing written.
. "$(dirname "$0")/lib.sh"

setup
c raw-init 'hdr in 64' 'fill data 512 0xaa' \
	'idesc table 0 hdr 16 N 1' 'idesc table 1 data 512 WN 2' \
	'idesc table 2 st 1 W'
for len in 47 49 8 1; do
	c "desc 0 table $len I" 'kick 0' 'used-expect 0 0 -'
done
c 'expect-fill data 512 0xaa' raw-good
finish "indirect lengths 47, 49, 8, 1: used len 0"
