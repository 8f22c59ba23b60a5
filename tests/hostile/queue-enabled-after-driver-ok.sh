#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# DRIVER_OK with no queue set up, then QueueReady=1 (a queue cannot join a
# live device without VIRTIO_F_RING_RESET).
# Expected: DRIVER_OK is accepted (Status 0xf), the late QueueReady gets
# DEVICE_NEEDS_RESET with a configuration interrupt and reads 0; a reset
# recovers.
. "$(dirname "$0")/lib.sh"

setup
c 'raw-init stop=features' 'status-add 4' 'expect-status 0xf' queue-setup \
	'expect-status 0x4f' 'expect-irq 2' 'mmio-expect 0x44 4 0' \
	raw-init raw-good
finish "QueueReady after DRIVER_OK: NEEDS_RESET + config interrupt"
