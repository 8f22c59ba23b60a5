#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# The daemon offers two request queues (--queues 2, VIRTIO_BLK_F_MQ); a
# driver that did not negotiate MQ sets up queue 1 anyway and puts a read
# on it.
# Expected: ignored (§5.2.2: without MQ there is one request queue), one
# log line, no NEEDS_RESET, nothing consumed. After a reset, a driver that
# negotiated MQ gets the same request on queue 1 served.
. "$(dirname "$0")/lib.sh"

setup
SIM_OPTS="$SIM_OPTS --daemon-arg --queues=2"
c 'raw-init stop=features' 'queue-setup q=1' 'status-add 4' \
	'expect-status 0xf' 'fill data 512 0xaa' 'hdr in 8' \
	'desc 0 hdr 16 N 1' 'desc 1 data 512 WN 2' 'desc 2 st 1 W' 'avail 0' \
	'notify 1' 'expect ETIMEDOUT wait-irq 300' used-none \
	'expect-fill data 512 0xaa' 'expect-mem st 1 0xff' 'expect-status 0xf' \
	'raw-init features=VERSION_1,MQ stop=features' 'queue-setup q=1' \
	'status-add 4' 'expect-status 0xf' 'hdr in 8' 'desc 0 hdr 16 N 1' \
	'desc 1 data 512 WN 2' 'desc 2 st 1 W' 'avail 0' 'notify 1' \
	'used-expect 0 513 0' 'expect-image data 512 4096'
finish_check() {
	grep -q 'notify for queue 1, but the driver uses 1 (MQ not negotiated)' \
		"$T/err" || fail "no log line for the notification on queue 1"
}
finish "queue 1 without MQ ignored; with MQ served"
