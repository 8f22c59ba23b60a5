#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# A queue left not ready (QueueReady 0) when the driver sets DRIVER_OK,
# then notified with a chain available.
# Expected: the device does not touch it (§4.2.2.1: the device MUST NOT
# access a queue whose QueueReady is 0): nothing consumed, no NEEDS_RESET.
. "$(dirname "$0")/lib.sh"

setup
c 'raw-init stop=features' 'queue-setup ready=0' 'status-add 4' \
	'expect-status 0xf'
probe
c 'notify 0' used-none 'notify 0' used-none 'expect-status 0xf' \
	raw-init raw-good
finish "a queue that is not ready is not touched"
