#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# A device already in state 2 when the backend process starts (another
# backend serves it, or an earlier process of ours did) is left alone: no
# state change, no extras, no hotplug-error, no MMIO window; the guest's
# other disk is served.
. "$(dirname "$0")/lib.sh"

mkimage "$T/a.img" 16M
mkimage "$T/b.img" 16M
mkdata "$T/d" 16384
be=/local/domain/0/backend/virtio_disk/1/51728
for mode in watch domid; do
	xsim_ok "$mode" \
		-c "xl-create disk=$T/a.img disk=$T/b.img set=1:state=2" \
		-c "write 0 $T/d" \
		-c "verify 0 $T/d" \
		-c "xs-settle" \
		-c "info" \
		-c "expect-node $be/state 2 0" \
		-c "expect-node $be/sectors - 0" \
		-c "expect-node $be/hotplug-error - 0" \
		-c "device 1" \
		-c "expect ENODEV mmio-read 0 4"
	err_has 'virtio disk 51728 \(xvdb\): state is 2, not 1 \(Initialising\); not touching it' "$mode"
done
pass "a device already in state 2 is left untouched"
