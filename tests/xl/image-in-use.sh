#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# One image in two guests' configs (a copied disk line): the second guest's
# disk is refused (state 6, hotplug-error "already in use") while the first
# guest is served and keeps its data; once the first guest is gone, the
# image can be given to another. Two read-only users may share an image.
. "$(dirname "$0")/lib.sh"

mkimage "$T/a.img" 16M
mkdata "$T/d" 16384
be=/local/domain/0/backend/virtio_disk/2/51712
xsim_ok watch \
	-c "xl-create name=a disk=$T/a.img" \
	-c "write 0 $T/d" \
	-c "xl-create name=b disk=$T/a.img nowait" \
	-c "expect-state xvda 6" \
	-c "expect-node $be/hotplug-status error" \
	-c "xs-read $be/hotplug-error" \
	-c "expect-daemon-exit 2" \
	-c "xl-destroy" \
	-c "xl-use a" \
	-c "verify 0 $T/d" \
	-c "xl-destroy" \
	-c "xl-create name=c disk=$T/a.img" \
	-c "verify 0 $T/d" \
	-c "xl-destroy"
grep -Eq "^$be/hotplug-error = \".*already in use" "$T/out" ||
	fail "hotplug-error is $(grep hotplug-error "$T/out"), expected 'already in use'"
err_has "virtio disk 51712 \(xvda\): refused: .*already in use"

xsim_ok watch \
	-c "xl-create name=a disk=target=$T/a.img,vdev=xvda,access=ro" \
	-c "verify 0 $T/d" \
	-c "xl-create name=b disk=target=$T/a.img,vdev=xvda,access=ro" \
	-c "verify 0 $T/d" \
	-c "xl-destroy" -c "xl-use a" -c "xl-destroy"
pass "an image in use by one guest is refused to another, given again once free; read-only users share"
