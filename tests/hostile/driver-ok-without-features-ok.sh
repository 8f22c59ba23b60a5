#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# DRIVER_OK without FEATURES_OK (§3.1.1 orders them), with a queue set up.
# Expected: DEVICE_NEEDS_RESET with a configuration interrupt; the device
# does not start (a notified chain stays unanswered), not even after a
# late FEATURES_OK; a reset recovers.
. "$(dirname "$0")/lib.sh"

setup
c raw-reset 'status-add 1' 'status-add 2' "features-write $FEAT_DEF" \
	queue-setup irq-sync 'status-add 4' 'expect-status 0x47' 'expect-irq 2'
probe
c 'notify 0' used-none 'status-add 8' 'notify 0' used-none \
	raw-init raw-good
finish "DRIVER_OK without FEATURES_OK: NEEDS_RESET + config interrupt"
