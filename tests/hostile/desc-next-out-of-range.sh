#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# NEXT pointing past the end: to descriptor 200 and 65535 in a queue of 8,
# and to entry 5 of a 3-entry indirect table.
# Expected: used len 0 for each, nothing written, the queue keeps serving.
. "$(dirname "$0")/lib.sh"

setup
c raw-init 'hdr in 64' 'fill data 512 0xaa' \
	'desc 0 hdr 16 N 1' 'desc 1 data 512 WN 200' \
	'kick 0' 'used-expect 0 0 -' \
	'desc 2 hdr 16 N 65535' 'kick 2' 'used-expect 2 0 -' \
	'idesc table 0 hdr 16 N 1' 'idesc table 1 data 512 WN 5' \
	'idesc table 2 st 1 W' 'desc 3 table 48 I' \
	'kick 3' 'used-expect 3 0 -' 'expect-fill data 512 0xaa' raw-good
finish "next out of range: used len 0"
