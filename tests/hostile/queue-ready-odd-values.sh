#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# QueueReady written with values that mean nothing (§4.2.2 gives 1 to
# enable a queue and 0 to disable it): 2 and 0xffffffff on a queue not yet
# enabled, 1 twice, 3 on the enabled queue before DRIVER_OK and 2 on it
# while the device runs.
# Expected: each odd value ignored with one log line (a queue is neither
# enabled with addresses the driver may not have finished, nor torn down
# under a running device, which QueueReady=0 would do); QueueReady reads 0
# until the 1, then 1; a second 1 changes nothing; no NEEDS_RESET; the
# queue serves after DRIVER_OK and after the odd write.
. "$(dirname "$0")/lib.sh"

setup
c 'raw-init stop=features' 'queue-setup ready=2' 'mmio-expect 0x44 4 0' \
	'mmio-write 0x44 4 0xffffffff' 'mmio-expect 0x44 4 0' \
	'mmio-write 0x44 4 1' 'mmio-expect 0x44 4 1' \
	'mmio-write 0x44 4 1' 'mmio-expect 0x44 4 1' \
	'mmio-write 0x44 4 3' 'mmio-expect 0x44 4 1' 'expect-status 0xb' \
	'status-add 4' 'expect-status 0xf' raw-good \
	'mmio-write 0x44 4 2' 'mmio-expect 0x44 4 1' 'expect-status 0xf' \
	raw-good

finish_check() {
	n=$(grep -c 'QueueReady 0x[0-9a-f]* ignored' "$T/err")
	[ "$n" = 4 ] || fail "$n log lines for 4 odd values: $(cat "$T/err")"
}
finish "odd QueueReady values ignored, one log line each"
