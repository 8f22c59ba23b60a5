#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# One device's backend directory disappears (libxl never does that for a
# virtio disk, which cannot be hot-unplugged): the guest's backend process
# closes, the remaining disk gets state 6, the removed one is not
# recreated, and the process exits 0 with nothing left mapped.
. "$(dirname "$0")/lib.sh"

mkimage "$T/a.img" 16M
mkimage "$T/b.img" 16M
mkdata "$T/d" 65536
xsim_ok watch \
	-c "xl-create disk=$T/a.img disk=$T/b.img" \
	-c "write 0 $T/d" \
	-c "device 1" \
	-c "write 0 $T/d" \
	-c "xs-rm {be}/51728" \
	-c "expect-state xvda 6" \
	-c "expect-daemon-exit 0" \
	-c "pages-mapped 0" \
	-c "xs-settle" \
	-c "expect-node {be}/51728 - 0" \
	-c "expect-node {fe}/51728/state 1 0"
err_has 'virtio disk 51728 removed'
pass "one device removed: the other closed (state 6), exit 0"
