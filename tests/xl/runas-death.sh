#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# --runas gives up the libxenctrl handle with root: no Xen restriction
# covers it, and an open privcmd descriptor issues any hypercall whoever
# holds it (expect-daemon-user checks that none is left). The backend
# process must still notice its guest's death: the domain dies with no
# toolstack step, and xenstore alone (the domain no longer introduced after
# @releaseDomain) tells it. It then unmaps everything, writes state 6 and
# exits 0. Both modes.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || skip "needs root to drop it"
mkimage "$T/a.img" 16M
mkdata "$T/d" 65536
for mode in watch domid; do
	xsim_ok "$mode" --daemon-arg --runas --daemon-arg nobody \
		-c "xl-create disk=$T/a.img" \
		-c "write 0 $T/d" \
		-c "verify 0 $T/d" \
		-c "expect-daemon-user nobody" \
		-c "xl-kill" \
		-c "expect-daemon-exit 0" \
		-c "pages-mapped 0" \
		-c "expect-dom gone" \
		-c "expect-state xvda 6"
	out_has '^pid [0-9]+ holds no libxenctrl handle$'
	err_has '\[dom1\]: running as nobody' "$mode: root not dropped"
	err_has 'domain 1 is gone \(xenstore\)' "$mode: the death was not noticed as such"
done
pass "--runas: no libxenctrl handle kept, and a death with no toolstack step still noticed (watch and domid)"
