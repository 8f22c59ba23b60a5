#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Two request queues (--queues 2, MQ negotiated). Queue 0's available index
# jumps (DEVICE_NEEDS_RESET: queue 0 stops, queue 1 still runs: a read
# notified there is served, and so is one made available without a
# notification, since the daemon polls its rings after any work,
# --poll-us, unless the queues have threads of their own); then the driver takes queue 1 away (QueueReady=0, reads 0)
# and puts a read on its ring, which it may now reuse as it likes.
# Expected: nothing more is taken from queue 1 (§4.2.2.2: the device stops
# using the queue once QueueReady reads 0): no used entry, no status byte,
# the data buffer untouched; a reset recovers.
. "$(dirname "$0")/lib.sh"

setup
SIM_OPTS="$SIM_OPTS --daemon-arg --queues=2 --daemon-arg --poll-us=200000"
c 'raw-init features=VERSION_1,MQ stop=features' 'queue-setup q=1' \
	'queue-setup q=0 desc=desc+0x70000 avail=desc+0x74000 used=desc+0x75000 raw=0' \
	'status-add 4' 'expect-status 0xf' 'put desc+0x74002 2 100' 'notify 0' \
	"$NOTIFIED_STATUS 0x4f" 'expect-irq 2' \
	'hdr in 8' 'desc 0 hdr 16 N 1' 'desc 1 data 512 WN 2' 'desc 2 st 1 W' \
	'kick 0' 'used-expect 0 513 0' 'expect-irq 1'
# Queue threads do not poll (--io-threads): there, only the notified read.
case " ${XVB_TEST_DAEMON_ARGS:-} " in
*" --io-threads "*) ;;
*) c 'hdr in 16' 'avail 0' 'used-expect 0 513 0' 'expect-irq 1' ;;
esac
c 'mmio-write 0x30 4 1' \
	'mmio-write 0x44 4 0' 'mmio-expect 0x44 4 0' 'fill data 512 0xaa' \
	'hdr in 8' 'desc 0 hdr 16 N 1' 'desc 1 data 512 WN 2' 'desc 2 st 1 W' \
	'avail 0' 'expect ETIMEDOUT wait-irq 400' used-none \
	'expect-fill data 512 0xaa' 'expect-mem st 1 0xff'
finish "a queue disabled after another broke is no longer served"
