#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# docs/xen-notes.md 5, `xl reboot` under the --watch service: xl only asks
# the guest (control/shutdown); Linux resets both virtio devices and shuts
# down with reason reboot; the per-guest process sees that itself on
# @releaseDomain ("has shut down (reboot)"), drains, unmaps, writes state
# 6 and exits 0; then libxl destroys the old domain (nothing left to wait
# for, no zombie) and creates a new one with a new domid, served by a new
# process with the same devids, base and irq; data written before the
# reboot reads back. Pinned against the simulator's xl-reboot, which went
# from the device reset straight to libxl's state 5.
. "$(dirname "$0")/../xl/lib.sh"

mkimage "$T/a.img" 16M
mkimage "$T/b.img" 16M
mkdata "$T/d" 65536
xsim_ok watch \
	-c "xl-create name=vm disk=$T/a.img disk=$T/b.img" \
	-c "write 0 $T/d" -c 'device 1' -c "write 65536 $T/d" \
	-c 'xl-reboot' \
	-c 'expect-daemon-exit 0 1' -c 'expect-dom gone 1' -c 'pages-mapped 0 1' \
	-c 'device 1' -c "verify 65536 $T/d" -c 'device 0' -c "verify 0 $T/d" \
	-c 'xs-read {be}/51712/base' -c 'xs-read {be}/51728/irq' \
	-c 'expect-daemon-alive vm'
out_has '^xl-reboot: dom 1 shut down \(reboot\)$'
out_has '^xl-reboot: dom 1: every backend closed \(state 6\)'
out_has '^xl-reboot: dom 1 is now dom 2$'
out_has '^/local/domain/0/backend/virtio_disk/2/51712/base = "33554432"$'
out_has '^/local/domain/0/backend/virtio_disk/2/51728/irq = "34"$'
err_has 'domain 1 has shut down \(reboot\)' "old process"
err_has 'domain 1: backend process [0-9]+ exited with status 0' "old process"
[ "$(err_count 'domain 2: started backend process')" -eq 1 ] ||
	fail "not exactly one backend process for the new domain"
pass "xl reboot: the guest's own shutdown (reboot) closes the old backend, new domid served, data kept"
