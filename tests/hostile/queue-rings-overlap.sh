#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# A used ring placed over the driver's rings: over the available ring
# (our stores to used->flags would move avail->idx under us) and over the
# descriptor table.
# Expected (the daemon's choice, see virtq_start): QueueReady=1 refused
# with DEVICE_NEEDS_RESET and a configuration interrupt, QueueReady reads
# 0, DRIVER_OK does not start the device; a reset recovers.
. "$(dirname "$0")/lib.sh"

setup
queue_refused used=avail
queue_refused used=avail-32
queue_refused used=desc+64
c raw-init raw-good
finish "used ring over the driver's rings: NEEDS_RESET + config interrupt"
