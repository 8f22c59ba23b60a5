#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# INDIRECT and NEXT on one descriptor (§2.7.5.3.1 forbids the pair).
# Expected: used len 0 and nothing written. The contrast, direct
# descriptors ending in an indirect one without NEXT, is legal and served.
. "$(dirname "$0")/lib.sh"

setup
c raw-init 'hdr in 64' 'fill data 512 0xaa' \
	'idesc table 0 data 512 WN 1' 'idesc table 1 st 1 W' \
	'desc 0 hdr 16 N 1' 'desc 1 table 32 IN 2' 'desc 2 st 1 W' \
	'kick 0' 'used-expect 0 0 -' 'expect-fill data 512 0xaa' \
	'hdr in 64' 'desc 1 table 32 I' 'kick 0' 'used-expect 0 513 0' \
	'expect-image data 512 32768' raw-good
finish "INDIRECT|NEXT: used len 0; a direct header then a table: served"
