#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Ring addresses off their alignment (§2.7: descriptor table 16, available
# ring 2, used ring 4): desc+8, avail+1, used+2.
# Expected: DEVICE_NEEDS_RESET with a configuration interrupt, QueueReady
# reads 0, DRIVER_OK does not start the device; a reset recovers it.
. "$(dirname "$0")/lib.sh"

setup
queue_refused desc=desc+8
queue_refused avail=avail+1
queue_refused used=used+2
c raw-init raw-good
finish "unaligned rings: NEEDS_RESET + config interrupt"
