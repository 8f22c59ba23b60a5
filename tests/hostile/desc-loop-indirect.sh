#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Loops through NEXT inside an indirect table (next indexes the table,
# §2.7.5.3.1): entries 2 -> 1 -> 2 ..., an entry chained to itself, and a
# direct header leading into a looping table.
# Expected: used len 0 for each, nothing written, the queue keeps serving.
. "$(dirname "$0")/lib.sh"

setup
c raw-init 'hdr in 64' 'fill data 512 0xaa' \
	'idesc table 0 hdr 16 N 1' 'idesc table 1 data 512 WN 2' \
	'idesc table 2 st 1 WN 1' 'desc 0 table 48 I' \
	'kick 0' 'used-expect 0 0 -' \
	'idesc table2 0 hdr 16 N 0' 'desc 1 table2 16 I' \
	'kick 1' 'used-expect 1 0 -' \
	'idesc table2 0 data 512 WN 1' 'idesc table2 1 st 1 WN 0' \
	'desc 2 hdr 16 N 3' 'desc 3 table2 32 I' 'kick 2' 'used-expect 2 0 -' \
	'expect-fill data 512 0xaa' raw-good
finish "looping indirect tables: used len 0, nothing written"
