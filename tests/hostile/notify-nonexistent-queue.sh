#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Notifications before DRIVER_OK and for queues that do not exist (1,
# 0xffff, 0xffffffff).
# Expected: ignored, no NEEDS_RESET, no error; in particular nothing is
# consumed before DRIVER_OK (§3.1.2: the device MUST NOT consume buffers
# before DRIVER_OK). A notification for queue 0 afterwards is served.
. "$(dirname "$0")/lib.sh"

setup
c 'raw-init stop=queue'
probe
c 'notify 0' used-none 'status-add 4' 'expect-status 0xf' \
	'notify 1' 'notify 0xffff' 'notify 0xffffffff' 'expect-status 0xf' \
	'notify 0' 'used-expect 0 0 -' raw-good
finish "notifications for missing queues ignored"
