#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Queue sizes above QueueNumMax (256; §4.2.2.2: the driver MUST NOT write
# more): 512, 1024, 65536, 2^32-1.
# Expected: DEVICE_NEEDS_RESET with a configuration interrupt, QueueReady
# reads 0, DRIVER_OK does not start the device; a reset recovers it.
. "$(dirname "$0")/lib.sh"

setup
c 'mmio-expect 0x34 4 256'
for num in 512 1024 65536 0xffffffff; do
	queue_refused num=$num
done
c raw-init raw-good
finish "queue sizes above the maximum: NEEDS_RESET + config interrupt"
