#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Rings that are not (entirely) guest RAM: a descriptor table below RAM
# (0x1000), straddling its end, at the device's MMIO window; an available
# ring past the end; a used ring straddling the end and one wrapping
# around 2^64.
# Expected: DEVICE_NEEDS_RESET with a configuration interrupt, QueueReady
# reads 0, DRIVER_OK does not start the device; no access outside RAM; a
# reset recovers it.
. "$(dirname "$0")/lib.sh"

setup
for ring in desc=0x1000 desc=ramend-64 desc=0x2000000 avail=ramend \
	used=ramend-8 used=0xfffffffffffffff0; do
	queue_refused "$ring"
done
c raw-init raw-good
finish "rings outside RAM: NEEDS_RESET + config interrupt"
