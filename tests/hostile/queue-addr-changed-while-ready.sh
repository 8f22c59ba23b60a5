#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# QueueNum and the three ring addresses rewritten while the queue is ready
# (§4.2.2.2: the driver MUST NOT access them then), and the registers of a
# queue that does not exist (QueueSel 1: QueueNumMax reads 0).
# Expected: the writes are ignored: no NEEDS_RESET, QueueReady still 1,
# and the queue keeps serving on its original rings.
. "$(dirname "$0")/lib.sh"

setup
c raw-init 'mmio-write 0x38 4 4' 'mmio-write 0x80 4 0x1000' \
	'mmio-write 0x84 4 0xffffffff' 'mmio-write 0x90 4 3' \
	'mmio-write 0x94 4 0' 'mmio-write 0xa0 4 0' 'mmio-write 0xa4 4 1' \
	'expect-status 0xf' 'mmio-expect 0x44 4 1' \
	'mmio-write 0x30 4 1' 'mmio-expect 0x34 4 0' 'mmio-write 0x38 4 8' \
	'mmio-write 0x80 4 0' 'mmio-write 0x44 4 1' 'mmio-expect 0x44 4 0' \
	'mmio-write 0x30 4 0' 'expect-status 0xf' 'expect-isr 0' raw-good \
	'hdr in 64' 'desc 0 hdr 16 N 1' 'desc 1 data 4096 WN 2' 'desc 2 st 1 W' \
	'kick 0' 'used-expect 0 4097 0' 'expect-image data 4096 32768'
finish "queue registers written while ready: ignored, queue still serves"
