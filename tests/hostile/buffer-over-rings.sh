#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Reads whose data buffer is the queue's own memory, filled from sectors of
# zeros: the used ring (the device writes the data, then its used entry
# and index over it), the descriptor table (already copied for this
# chain), and the available ring, whose index the data resets to 0 after
# the device consumed entry 0.
# Expected: all three reads are served ({0, 513}, status OK); the next
# notification finds the available index gone backwards, which is an
# unusable ring: DEVICE_NEEDS_RESET with a configuration interrupt; a
# reset recovers.
. "$(dirname "$0")/lib.sh"

setup
head -c 4096 /dev/zero >"$T/z"
c init "write 32768 $T/z" raw-init \
	'hdr in 64' 'desc 0 hdr 16 N 1' 'desc 1 used 512 WN 2' 'desc 2 st 1 W' \
	'kick 0' 'used-expect 0 513 0' \
	'hdr in 64' 'desc 1 desc 512 WN 2' 'kick 0' 'used-expect 0 513 0' \
	raw-init 'hdr in 64' 'desc 0 hdr 16 N 1' 'desc 1 avail 512 WN 2' \
	'desc 2 st 1 W' 'kick 0' 'used-expect 0 513 0' 'expect-mem avail 4 0' \
	'notify 0' 'expect-status 0x4f' 'expect-irq 2' raw-init raw-good
finish "reads into the rings served; a zeroed avail index: NEEDS_RESET"
