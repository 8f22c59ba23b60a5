#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Resets with requests in flight: writes queued from two vCPUs (direct and
# indirect chains), and a 64 KiB raw read. The reset completes once they
# drain (§2.4: the device must not touch the queues after a reset).
# Expected: every write completed before the reset is OK and in the
# image; the device writes nothing into guest memory after the reset (the
# driver's rings and buffers are quarantined and checked after new I/O;
# the raw queue's used ring and status byte are poisoned and checked).
. "$(dirname "$0")/lib.sh"

setup vcpus=2
c 'reset-under-io 64 7' 'reset-under-io 200 8' 'indirect off' \
	'reset-under-io 64 9' 'indirect on' \
	raw-init 'hdr in 64' 'desc 0 hdr 16 N 1' 'desc 1 data 65536 WN 2' \
	'desc 2 st 1 W' 'kick 0' raw-reset 'fill used 256 0xee' 'fill st 1 0xee' \
	init "write 0 $T/d" "verify 0 $T/d" \
	'expect-fill used 256 0xee' 'expect-fill st 1 0xee'
finish "reset under I/O: completed writes on disk, nothing written after"
