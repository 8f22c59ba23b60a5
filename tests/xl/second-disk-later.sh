#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# libxl adds a guest's disks one after the other (the second one's nodes
# came ~0.4 s after the first on the real test bed, e2e-testbed.md Part 2
# Q4): the backend process starts for the first disk and must pick up the
# second one, written 300 ms later, within libxl's 10 s.
. "$(dirname "$0")/lib.sh"

mkimage "$T/a.img" 16M
mkimage "$T/b.img" 16M
mkdata "$T/d" 8192
for mode in watch domid; do
	xsim_ok "$mode" \
		-c "xl-create disk=$T/a.img disk=$T/b.img stagger=300" \
		-c "expect-state xvdb 2" \
		-c "device 1" \
		-c "write 4096 $T/d" \
		-c "verify 4096 $T/d" \
		-c "device 0" \
		-c "expect FAIL verify 4096 $T/d" \
		-c "write 65536 $T/d" \
		-c "verify 65536 $T/d"
	# After the second disk's 0.3 s, well within libxl's 10 s.
	out_has '^xl-create: dom 1 \(guest1\): 2 disk\(s\) in state 2 after (0\.[3-9]|[1-9]\.)'
	err_has 'ready: domain 1, 1 virtio disk\(s\)' "$mode: the first disk alone at start"
	err_has 'virtio disk 51728 \(xvdb\): .*state 2' "$mode: the second disk"
	host_extract "$T/b.img" 4096 8192 "$T/h"
	same "$T/d" "$T/h" "$mode: disk 1 after the guest's write"
	# The first disk still serves, and got nothing of disk 1's write.
	host_extract "$T/a.img" 65536 8192 "$T/h"
	same "$T/d" "$T/h" "$mode: disk 0 after the guest's write"
	host_extract "$T/a.img" 4096 8192 "$T/h"
	cmp -s "$T/d" "$T/h" && fail "$mode: disk 1's write landed in disk 0"
done
pass "a disk written 300 ms after the first is served (watch and domid modes)"
