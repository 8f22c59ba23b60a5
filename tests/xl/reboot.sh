#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# xl reboot: the guest resets its disks, libxl destroys the domain and
# creates a new one with a new domid (never a reused one); under --watch a
# new backend process serves it, the old one has exited 0; what the guest
# wrote before is there after, and the disks work again. Twice; then once
# with a --domid daemon per guest.
. "$(dirname "$0")/lib.sh"

mkimage "$T/a.img" 16M
mkimage "$T/b.img" 16M
mkdata "$T/d1" 65536
mkdata "$T/d2" 65536
xsim_ok watch \
	-c "xl-create name=vm disk=$T/a.img disk=$T/b.img" \
	-c "write 0 $T/d1" \
	-c "xl-reboot" \
	-c "verify 0 $T/d1" \
	-c "device 1" \
	-c "write 65536 $T/d2" \
	-c "expect-daemon-exit 0 1" \
	-c "expect-dom gone 1" \
	-c "pages-mapped 0 1" \
	-c "xl-reboot vm" \
	-c "device 1" \
	-c "verify 65536 $T/d2" \
	-c "device 0" \
	-c "verify 0 $T/d1" \
	-c "expect-daemon-exit 0 2" \
	-c "expect-daemon-alive" \
	-c "xl-list"
out_has '^xl-reboot: dom 1 is now dom 2$'
out_has '^xl-reboot: dom 2 is now dom 3$'
out_has '^vm 3 alive current$'
for d in 1 2 3; do
	[ "$(err_count "domain $d: started backend process")" -eq 1 ] ||
		fail "domain $d: not exactly one backend process started"
done
[ "$(err_count 'started backend process')" -eq 3 ] ||
	fail "more backend processes than domains"
err_has 'domain 1: backend process [0-9]+ exited with status 0'
err_has 'domain 2: backend process [0-9]+ exited with status 0'
host_extract "$T/b.img" 65536 65536 "$T/h"
same "$T/d2" "$T/h" "disk 1 after two reboots"

# --mode domid: the administrator starts one daemon per domid.
xsim_ok domid \
	-c "xl-create name=vm disk=$T/a.img" \
	-c "verify 0 $T/d1" \
	-c "xl-reboot" \
	-c "verify 0 $T/d1" \
	-c "expect-daemon-exit 0 1" \
	-c "expect-daemon-alive vm"
out_has '^xl-reboot: dom 1 is now dom 2$'
[ "$(err_count '^xen-virtio-blk\[dom2\]: ready: domain 2')" -eq 1 ] ||
	fail "domid mode: no daemon for the new domid"
pass "dom 1 -> 2 -> 3, one new backend process each, old ones exit 0, data kept"
