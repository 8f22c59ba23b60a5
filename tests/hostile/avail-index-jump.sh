#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# The available index moving by more than the queue size: +9 in a queue of
# 8, and backwards by one (a move of 65535; §2.7.6.1: a driver never
# decrements it).
# Expected: the ring is unusable: DEVICE_NEEDS_RESET with a configuration
# interrupt (§2.1.2), later notifications are ignored; a reset recovers. A
# move of exactly the queue size (8 chains at once) is legal and served.
. "$(dirname "$0")/lib.sh"

setup
c raw-init 'avail-idx +9' 'notify 0' "$NOTIFIED_STATUS 0x4f" 'expect-irq 2'
probe
c 'notify 0' used-none \
	raw-init 'desc 0 hdr 16 N 0' 'kick 0' 'used-expect 0 0 -' \
	'avail-idx 0' 'notify 0' "$NOTIFIED_STATUS 0x4f" 'expect-irq 2' \
	raw-init 'desc 0 hdr 16 N 0' 'avail-idx +8' 'notify 0'
for _ in 1 2 3 4 5 6 7 8; do
	c 'used-expect 0 0 -'
done
c 'expect-status 0xf' raw-good
finish "avail index jump: NEEDS_RESET + config interrupt"
