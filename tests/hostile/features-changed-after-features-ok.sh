#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# DriverFeatures rewritten after FEATURES_OK (to add INDIRECT_DESC, to
# clear everything, after DRIVER_OK), and FEATURES_OK cleared by a Status
# write.
# Expected: all ignored (§3.1.1): Status stays 0xb then 0xf, the device
# keeps the features accepted at FEATURES_OK, so an indirect chain is
# refused (used len 0) while direct chains are served.
. "$(dirname "$0")/lib.sh"

setup
c "raw-init features=$FEAT_MIN stop=features" "features-write $FEAT_DEF" \
	'features-write 0' 'mmio-write 0x70 4 3' 'expect-status 0xb' \
	queue-setup 'status-add 4' 'expect-status 0xf' \
	"features-write $FEAT_DEF" 'expect-status 0xf' \
	'hdr in 64' 'fill data 512 0xaa' \
	'idesc table 0 hdr 16 N 1' 'idesc table 1 data 512 WN 2' \
	'idesc table 2 st 1 W' 'desc 0 table 48 I' 'kick 0' 'used-expect 0 0 -' \
	'expect-fill data 512 0xaa' raw-good
finish "features changed after FEATURES_OK: ignored"
