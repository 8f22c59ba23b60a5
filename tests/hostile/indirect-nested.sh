#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# An indirect descriptor inside an indirect table (§2.7.5.3.1: the driver
# MUST NOT set INDIRECT in a table's descriptors), pointing at a valid
# inner table.
# Expected: used len 0, nothing written.
. "$(dirname "$0")/lib.sh"

setup
c raw-init 'hdr in 64' 'fill data 512 0xaa' \
	'idesc table2 0 data 512 WN 1' 'idesc table2 1 st 1 W' \
	'idesc table 0 hdr 16 N 1' 'idesc table 1 table2 32 I' \
	'desc 0 table 32 I' 'kick 0' 'used-expect 0 0 -' \
	'expect-fill data 512 0xaa' raw-good
finish "nested indirect table: used len 0"
