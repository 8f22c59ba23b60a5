#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# QueueNum 0 and QueueReady=1.
# Expected: DEVICE_NEEDS_RESET (Status 0x4b) with a configuration
# interrupt (§2.1.2), QueueReady reads 0, DRIVER_OK does not start the
# device; a reset recovers it.
. "$(dirname "$0")/lib.sh"

setup
queue_refused num=0
c raw-init raw-good
finish "queue size 0: NEEDS_RESET + config interrupt"
