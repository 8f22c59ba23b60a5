#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# QueueReady=1 before the ring addresses were written (they are 0 after a
# reset: not RAM on this platform).
# Expected: DEVICE_NEEDS_RESET with a configuration interrupt and
# QueueReady reads 0. Writing the addresses and QueueReady=1 afterwards,
# then DRIVER_OK, does not revive the device (a chain it would answer at
# once stays unanswered) until a reset.
. "$(dirname "$0")/lib.sh"

setup
c 'raw-init stop=features' 'mmio-write 0x30 4 0' 'mmio-write 0x38 4 8' \
	'mmio-write 0x44 4 1' 'expect-status 0x4b' 'expect-irq 2' \
	'mmio-expect 0x44 4 0' queue-setup 'status-add 4' 'expect-status 0x4f'
probe
c 'notify 0' used-none raw-init raw-good
finish "QueueReady before addresses: NEEDS_RESET + config interrupt"
