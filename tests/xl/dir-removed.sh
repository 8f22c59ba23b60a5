#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# The guest's whole backend directory disappears under the daemon (an
# administrator's xenstore-rm, a toolstack's cleanup): the backend process
# tears down, unmaps everything and exits 0, and does not recreate the
# directory it no longer has (no state node written into thin air).
. "$(dirname "$0")/lib.sh"

mkimage "$T/a.img" 16M
mkimage "$T/b.img" 16M
mkdata "$T/d" 65536
for mode in watch domid; do
	xsim_ok "$mode" \
		-c "xl-create disk=$T/a.img disk=$T/b.img" \
		-c "write 0 $T/d" \
		-c "xs-rm {be}" \
		-c "expect-daemon-exit 0" \
		-c "pages-mapped 0" \
		-c "xs-settle" \
		-c "expect-node {be} - 0" \
		-c "dom-info"
	err_has '/local/domain/0/backend/virtio_disk/1 removed' "$mode"
	out_has '^dom 1: alive servers 1/1 live 0 '
done
pass "backend directory removed: teardown, exit 0, nothing recreated"
