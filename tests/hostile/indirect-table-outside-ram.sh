#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Indirect tables that are not guest RAM: just past its end, straddling
# its end, wrapping around 2^64, below it (0x1000) and at the device's own
# MMIO window.
# Expected: used len 0 for each; no access outside RAM (the daemon would
# die on the simulator's PROT_NONE frames).
. "$(dirname "$0")/lib.sh"

setup
c raw-init
for addr in ramend ramend-16 0xfffffffffffffff0 0x1000 0x2000000; do
	c "desc 0 $addr 48 I" 'kick 0' 'used-expect 0 0 -'
done
c raw-good
finish "indirect tables outside RAM: used len 0"
