#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# A hypervisor built without CONFIG_IOREQ_SERVER (Debian's stock arm64 Xen
# 4.17): the guest's backend process cannot start, so it refuses every
# disk of the guest with the reason and the fix (administrator's guide
# 9.1) in hotplug-error, hotplug-status error, state 6, and exits 1 (a
# runtime failure, not a bad configuration). The destroy that follows
# finds every disk Closed and returns at once.
. "$(dirname "$0")/lib.sh"

mkimage "$T/a.img" 16M
mkimage "$T/b.img" 16M
be=/local/domain/0/backend/virtio_disk/1
why='cannot get the vCPU count of domain 1: Function not implemented: the hypervisor was built without IOREQ server support \(on Arm rebuild Xen with CONFIG_EXPERT=y CONFIG_IOREQ_SERVER=y; Debian.s stock arm64 Xen 4.17 lacks it\)'
xsim_ok watch --no-ioreq-server \
	-c "xl-create disk=$T/a.img disk=$T/b.img nowait" \
	-c "expect-state xvda 6" \
	-c "expect-state xvdb 6" \
	-c "expect-node $be/51712/hotplug-status error" \
	-c "expect-node $be/51728/hotplug-status error" \
	-c "xs-read $be/51712/hotplug-error" \
	-c "xs-read $be/51728/hotplug-error" \
	-c "expect-daemon-exit 1" \
	-c "xl-destroy"
for devid in 51712 51728; do
	grep -Eq "^$be/$devid/hotplug-error = \"$why\"\$" "$T/out" ||
		fail "disk $devid: $(grep "$devid/hotplug-error" "$T/out")"
done
err_has "virtio disk 51712 \(xvda\): refused: $why\$"
err_has "virtio disk 51728 \(xvdb\): refused: $why\$"
err_has 'backend process [0-9]+ exited with status 1$'
out_has '^xl-destroy: dom 1: every backend closed \(state 6\) after 0\.0'
pass "no IOREQ server support: every disk refused with the fix in hotplug-error, exit 1"
