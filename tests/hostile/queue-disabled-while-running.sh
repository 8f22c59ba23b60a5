#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# QueueReady=0 while the device runs (without VIRTIO_F_RING_RESET a queue
# cannot leave a live device on its own).
# Expected: the write is answered once nothing is in flight (here at once;
# faults/queue-disabled-inflight.sh holds a read back), QueueReady reads 0
# (§4.2.2.2: the driver reads it back), DEVICE_NEEDS_RESET with a
# configuration interrupt, later
# notifications are ignored, re-enabling the queue before a reset changes
# nothing; a reset recovers.
. "$(dirname "$0")/lib.sh"

setup
c raw-init 'mmio-write 0x44 4 0' 'mmio-expect 0x44 4 0' \
	'expect-status 0x4f' 'expect-irq 2'
probe
c 'notify 0' used-none 'mmio-write 0x44 4 1' 'mmio-expect 0x44 4 0' \
	'notify 0' used-none raw-init raw-good
finish "QueueReady=0 while running: NEEDS_RESET + config interrupt"
