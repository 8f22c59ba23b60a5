#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Feature bits the device never offered (RING_PACKED, NOTIFICATION_DATA,
# RING_RESET, IN_ORDER, ANY_LAYOUT, GEOMETRY, bit 63) and a driver without
# VERSION_1 (legacy).
# Expected: FEATURES_OK does not stick (§3.1.1: Status reads 0x3); a
# driver that sets DRIVER_OK anyway gets DEVICE_NEEDS_RESET with a
# configuration interrupt. The device offers nothing past bit 63, so a
# bit written to DriverFeatures bank 2 is accepting an unoffered feature
# too: refused the same way; a zero written there is harmless.
. "$(dirname "$0")/lib.sh"

setup
for f in RING_PACKED bit38 RING_RESET IN_ORDER ANY_LAYOUT GEOMETRY bit63; do
	c raw-reset 'status-add 1' 'status-add 2' "features-write VERSION_1,$f" \
		'status-add 8' 'expect-status 3'
done
c raw-reset 'status-add 1' 'status-add 2' 'features-write INDIRECT_DESC' \
	'status-add 8' 'expect-status 3' irq-sync 'status-add 4' \
	'expect-status 0x47' 'expect-irq 2' \
	raw-reset 'status-add 1' 'status-add 2' "features-write $FEAT_DEF" \
	'mmio-write 0x24 4 2' 'mmio-write 0x20 4 0xffffffff' 'status-add 8' \
	'expect-status 3' \
	raw-reset 'status-add 1' 'status-add 2' "features-write $FEAT_DEF" \
	'mmio-write 0x24 4 2' 'mmio-write 0x20 4 0' 'status-add 8' \
	'expect-status 0xb' raw-init raw-good
finish "unoffered features: FEATURES_OK stays clear"
