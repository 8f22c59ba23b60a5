#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Queue sizes that are not powers of two (§2.7: split queue sizes are):
# 3, 6, 255.
# Expected: DEVICE_NEEDS_RESET with a configuration interrupt, QueueReady
# reads 0, DRIVER_OK does not start the device; a reset recovers it.
. "$(dirname "$0")/lib.sh"

setup
for num in 3 6 255; do
	queue_refused num=$num
done
c raw-init raw-good
finish "queue sizes 3, 6, 255: NEEDS_RESET + config interrupt"
