#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Indirect descriptors whose table length is 0, at the head of a chain and
# after a direct header.
# Expected: used len 0 for each.
. "$(dirname "$0")/lib.sh"

setup
c raw-init 'hdr in 64' \
	'idesc table 0 hdr 16 N 1' 'idesc table 1 data 512 WN 2' \
	'idesc table 2 st 1 W' 'desc 0 table 0 I' 'kick 0' 'used-expect 0 0 -' \
	'desc 1 hdr 16 N 2' 'desc 2 table 0 I' 'kick 1' 'used-expect 1 0 -' \
	raw-good
finish "zero-length indirect tables: used len 0"
