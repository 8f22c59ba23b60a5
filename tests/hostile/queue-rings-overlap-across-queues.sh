#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Two request queues (--queues 2, MQ negotiated) whose rings clash: the
# second queue's used ring over the first one's available ring, and the
# first one's used ring under the second one's available ring, both ways
# round (our stores to one queue's used ring would move the other's
# indices, as within one queue).
# Expected: the second QueueReady=1 refused with DEVICE_NEEDS_RESET and a
# configuration interrupt, QueueReady reads 0; a reset recovers. Two
# queues sharing the driver's read-only rings are accepted.
. "$(dirname "$0")/lib.sh"

setup
SIM_OPTS="$SIM_OPTS --daemon-arg --queues=2"
MQ='raw-init features=VERSION_1,MQ stop=features'
Q1='desc=desc+0x70000 avail=desc+0x74000'
c "$MQ" queue-setup "queue-setup q=1 $Q1 used=avail" 'expect-status 0x4b' \
	'expect-irq 2' 'mmio-expect 0x44 4 0'
c "$MQ" "queue-setup q=1 $Q1 used=desc+0x75000" 'expect-status 0xb' \
	'queue-setup used=desc+0x74000' 'expect-status 0x4b' 'expect-irq 2' \
	'mmio-expect 0x44 4 0'
# The queue set up first writes where the second one's rings are.
c "$MQ" 'queue-setup used=desc+0x74000' 'expect-status 0xb' \
	"queue-setup q=1 $Q1 used=desc+0x75000" 'expect-status 0x4b' \
	'expect-irq 2' 'mmio-expect 0x44 4 0'
c "$MQ" queue-setup 'queue-setup q=1 desc=desc avail=avail used=desc+0x75000' \
	'expect-status 0xb' 'mmio-expect 0x44 4 1' raw-init raw-good
finish_check() {
	[ "$(grep -c 'rings overlap queue' "$T/err")" -eq 3 ] ||
		fail "want three 'rings overlap queue' log lines"
}
finish "rings clashing between queues: NEEDS_RESET + config interrupt"
