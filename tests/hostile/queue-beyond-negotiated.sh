#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# The daemon offers two request queues (--queues 2, VIRTIO_BLK_F_MQ); a
# driver that did not negotiate MQ sets up queue 1 anyway and puts a read
# on it.
# Expected: after FEATURES_OK without MQ queue 1 does not exist (§5.2.2:
# one request queue): QueueNumMax reads 0, its QueueReady stays 0, the
# notification is ignored, nothing is consumed, no NEEDS_RESET. Before
# FEATURES_OK, and after a reset, QueueNumMax reads the queue size. A
# driver that negotiated MQ gets the same request on queue 1 served.
. "$(dirname "$0")/lib.sh"

setup
SIM_OPTS="$SIM_OPTS --daemon-arg --queues=2"
c 'raw-reset' 'mmio-write 0x30 4 1' 'mmio-expect 0x34 4 256' \
	'raw-init stop=features' 'mmio-write 0x30 4 1' 'mmio-expect 0x34 4 0' \
	'queue-setup q=1' 'mmio-expect 0x44 4 0' 'status-add 4' \
	'expect-status 0xf' 'fill data 512 0xaa' 'hdr in 8' \
	'desc 0 hdr 16 N 1' 'desc 1 data 512 WN 2' 'desc 2 st 1 W' 'avail 0' \
	'notify 1' 'expect ETIMEDOUT wait-irq 300' used-none \
	'expect-fill data 512 0xaa' 'expect-mem st 1 0xff' 'expect-status 0xf' \
	'raw-init features=VERSION_1,MQ stop=features' 'queue-setup q=1' \
	'status-add 4' 'expect-status 0xf' 'hdr in 8' 'desc 0 hdr 16 N 1' \
	'desc 1 data 512 WN 2' 'desc 2 st 1 W' 'avail 0' 'notify 1' \
	'used-expect 0 513 0' 'expect-image data 512 4096'
finish_check() {
	grep -q 'QueueReady for missing queue 1' "$T/err" ||
		fail "no log line for QueueReady on queue 1"
}
finish "queue 1 without MQ does not exist; with MQ served"
