#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# A device in state 1 that lacks a node the daemon needs (params, mode,
# base, irq): libxl writes a device's nodes and its state in one
# transaction, so these will never come. The daemon must refuse the device
# (state 6, hotplug-error naming the missing node) before libxl gives up
# (10 s, then "unable to initialize device" with no reason anywhere),
# rather than leave it in state 1; the other disk is served. (A grace
# period for writers that are not transactional is fine: 8 s are allowed.)
. "$(dirname "$0")/lib.sh"

mkimage "$T/a.img" 16M
mkimage "$T/b.img" 16M
be=/local/domain/0/backend/virtio_disk/1/51728
for key in params mode base irq; do
	xsim watch \
		-c "xl-create disk=$T/a.img disk=$T/b.img nowait unset=1:$key" \
		-c "expect-state xvda 2" \
		-c "expect-state xvdb 6 8000" \
		-c "expect-node $be/hotplug-error *" \
		-c "xs-read $be/hotplug-error" ||
		fail "$key missing: $(grep -m1 'failed:' "$T/err" | sed 's/.*failed: //')"
	grep -Eq "hotplug-error = \".*$key" "$T/out" ||
		fail "$key missing: hotplug-error does not name it"
done
pass "a device without params, mode, base or irq is refused"
