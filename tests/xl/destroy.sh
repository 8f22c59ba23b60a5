#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# xl destroy of a guest with I/O done on both disks: libxl's state 5 is
# answered with state 6 well within its 10 s (the time is printed), the
# guest's backend process exits 0 having unmapped every page itself (none
# left to its death), Xen's servers are gone and so is the domain (no
# zombie); libxl's directories are removed and nobody recreates them.
. "$(dirname "$0")/lib.sh"

mkimage "$T/a.img" 16M
mkimage "$T/b.img" 16M
mkdata "$T/d" 262144
times=""
for mode in watch domid; do
	xsim_ok "$mode" \
		-c "xl-create disk=$T/a.img disk=$T/b.img" \
		-c "write 0 $T/d" \
		-c "device 1" \
		-c "write 0 $T/d" \
		-c "dom-info" \
		-c "xl-destroy" \
		-c "expect-daemon-exit 0" \
		-c "pages-mapped 0" \
		-c "expect-dom gone" \
		-c "dom-info" \
		-c "xs-settle" \
		-c "expect-node /local/domain/0/backend/virtio_disk/1 - 0" \
		-c "expect-node /local/domain/1/device - 0"
	out_has '^dom 1: alive servers 1/0 live 1 .* mapped-now [1-9]'
	out_has '^xl-destroy: dom 1: every backend closed \(state 6\) after'
	out_has '^dom 1: gone servers 1/1 live 0 .* mapped-now 0 released-at-exit 0 '
	err_has 'libxl set state 5' "$mode: the reason"
	t=$(out_line '^xl-destroy:' | sed 's/.* after \([0-9.]* s\).*/\1/')
	times="$times, $mode $t"
done
pass "state 6 after:${times#,}; exit 0, nothing left mapped, servers and domain gone"
