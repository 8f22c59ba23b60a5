#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# The close conditions libxl never writes alone, from an administrator's
# xenstore-write or xenstore-rm (libxl writes online 0 together with state
# 5, which device-removed.sh and destroy.sh cover): "online" set to 0 on a
# served disk, or its "state" node removed. Either closes the guest's
# backend process as a destroy does: every disk of the guest that still
# has a state node gets state 6, none is created where it was removed,
# everything is unmapped, exit 0.
. "$(dirname "$0")/lib.sh"

mkimage "$T/a.img" 16M
mkimage "$T/b.img" 16M
mkdata "$T/d" 65536
xsim_ok watch \
	-c "xl-create disk=$T/a.img disk=$T/b.img" \
	-c "write 0 $T/d" \
	-c "xs-write {be}/51728/online 0" \
	-c "expect-state xvda 6" \
	-c "expect-state xvdb 6" \
	-c "expect-daemon-exit 0" \
	-c "pages-mapped 0"
err_has 'virtio disk 51728: libxl set online 0: finishing in-flight requests'

xsim_ok watch \
	-c "xl-create disk=$T/a.img disk=$T/b.img" \
	-c "write 0 $T/d" \
	-c "xs-rm {be}/51712/state" \
	-c "expect-state xvdb 6" \
	-c "expect-daemon-exit 0" \
	-c "pages-mapped 0" \
	-c "xs-settle" \
	-c "expect-node {be}/51712/state - 0" \
	-c "expect-node {be}/51712/params $T/a.img 0"
err_has 'virtio disk 51712: state node removed: finishing in-flight requests'
pass "online 0 alone, or a state node removed: the guest's disks closed (state 6, none created), exit 0"
