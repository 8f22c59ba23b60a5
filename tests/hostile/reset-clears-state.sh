#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# A reset of a device in DEVICE_NEEDS_RESET with a used-buffer and a
# configuration interrupt pending (InterruptStatus 3).
# Expected: the reset clears Status, InterruptStatus and QueueReady
# (§4.2.2.1: upon reset the device MUST clear all bits in InterruptStatus
# and the ready bits of all queues); a notification for the old queue is
# ignored and nothing more is written into its rings; the device then
# initialises and serves.
. "$(dirname "$0")/lib.sh"

setup
c raw-init 'hdr in 64' 'desc 0 hdr 16 N 1' 'desc 1 data 512 WN 2' \
	'desc 2 st 1 W' 'kick 0' 'used-expect 0 513 0' \
	'avail-idx +9' 'notify 0' "$NOTIFIED_STATUS 0x4f" 'expect-isr 3' \
	raw-reset 'expect-isr 0' 'expect-status 0' 'mmio-expect 0x44 4 0' \
	'fill used 256 0xee' 'notify 0' 'sleep 200' \
	'expect-fill used 256 0xee' \
	raw-init raw-good
finish "a reset clears Status, InterruptStatus and QueueReady"
