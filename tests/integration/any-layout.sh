#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# VERSION_1 implies ANY_LAYOUT (virtio 1.2 section 2.7.4): the header split
# over two descriptors, data in odd-sized pieces, header+data or data+status
# in one descriptor must all work, with and without indirect tables.
. "$(dirname "$0")/lib.sh"

mkimage "$T/disk.img" 8M
mkdata "$T/d" 200704
r="at=1048576"
sim_ok --disk "$T/disk.img" -c 'layout split' -c 'write 4096 '"$T/d" \
	-c 'verify 4096 '"$T/d" -c "random-io 150 51 64 $r" \
	-c 'layout merged' -c 'verify 4096 '"$T/d" \
	-c "random-io 150 52 64 $r" -c 'indirect off' -c 'layout split' \
	-c "random-io 100 53 32 $r" -c 'layout merged' \
	-c "random-io 100 54 32 $r" -c get-id -c flush
host_extract "$T/disk.img" 4096 200704 "$T/h"
same "$T/d" "$T/h" "image after split-layout write"
pass "split and merged descriptor layouts"
