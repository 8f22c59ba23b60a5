#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Every aligned 32-bit control register written in order (Status,
# QueueSel, QueueNum, QueueReady, QueueNotify, InterruptACK, the ring
# addresses, legacy and read-only registers alike) with all-ones, 0, 1 and
# 0x80000000, on a running device.
# Expected: every write is answered and whatever state it leaves, a reset
# brings the device back to serve.
. "$(dirname "$0")/lib.sh"

setup
for v in 0xffffffff 0 1 0x80000000; do
	c raw-init "sweep-write-regs $v" raw-reset
done
c raw-init raw-good
finish "every register written with garbage; a reset recovers"
