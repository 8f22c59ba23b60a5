#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# One backend process per guest (admin-guide 6): the one that serves it
# holds /local/domain/0/xen-virtio-blk-guests/<domid> from before it reads
# the guest's devices until it has closed them. Two would both find the
# devices in state 1; the one that lost the image to the other would close
# the device the other serves (state 6 over 2), and the guest would lose
# its disk.
. "$(dirname "$0")/lib.sh"

mkimage "$T/a.img" 16M
mkdata "$T/d" 65536
be=/local/domain/0/backend/virtio_disk/1/51712
node=/local/domain/0/xen-virtio-blk-guests/1
taken='already served by pid [0-9]+ \(xenstore /local/domain/0/xen-virtio-blk-guests/1\)$'

# setting_up MODE ARGS...: a session in MODE where the guest's first
# backend process waits in state 1 for its image, held from outside for
# 2 s, while ARGS run; then the first gets the image and serves, the guest
# runs, and its data reads back.
setting_up() {
	mode=$1
	shift
	flock -x "$T/a.img" sleep 2 &
	holder=$!
	sleep 0.3
	xsim_ok "$mode" -c "xl-create disk=$T/a.img nowait" \
		-c "expect-node $be/state 1" -c "expect-node $node *" \
		"$@" \
		-c "expect-state xvda 2 10000" -c "xl-unpause" \
		-c "write 0 $T/d" -c "verify 0 $T/d" \
		-c "expect-state xvda 4 5000" \
		-c "expect-node $be/hotplug-error -" -c "expect-daemon-alive"
	wait "$holder"
}

# 1. A second process run by hand while the service's sets up: refused at
# once (exit 2, one line), and the guest is the first one's.
setting_up watch -c "run-daemon 2 --domid 1 --foreground"
out_has "^run-daemon: xen-virtio-blk\\[dom1\\]: error: domain 1 is $taken"
[ "$(grep -c '^run-daemon: ' "$T/out")" -eq 2 ] ||
	fail "the second process said more than one line"

# 2. A supervisor started while a process it did not start sets up (one run
# by hand, or left by a supervisor killed before it): its own process for
# the guest is refused, and it closes nothing of the guest's.
setting_up domid -c "run-daemon runs --watch --foreground"
out_has "^run-daemon: xen-virtio-blk\\[dom1\\]: error: domain 1 is $taken"
out_has '^run-daemon: xen-virtio-blk: warning: domain 1: backend process [0-9]+ exited with status 2'
! grep -q 'closed (state 6)' "$T/out" ||
	fail "the supervisor closed a device: $(grep -m1 'closed (state 6)' "$T/out")"

# 3. A backend process killed: the supervisor removes the node it left,
# as one that exits removes its own.
xsim_ok watch -c "xl-create disk=$T/a.img" -c "expect-node $node *" \
	-c "kill-child KILL" -c "expect-daemon-exit KILL" \
	-c "expect-node $node - 3000" \
	-c "xl-create name=b disk=$T/a.img" \
	-c "expect-node /local/domain/0/xen-virtio-blk-guests/2 *" \
	-c "xl-destroy b" \
	-c "expect-node /local/domain/0/xen-virtio-blk-guests/2 - 3000"

# 4. Without a supervisor, a killed process's node stays; the next
# process for the guest takes it over (here to find the device served
# before, in state 2, and leave it).
xsim_ok domid -c "xl-create disk=$T/a.img" -c "expect-node $node *" \
	-c "kill-child KILL" -c "expect-daemon-exit KILL" \
	-c "expect-node $node *" \
	-c "run-daemon 2 --domid 1 --foreground"
out_has '^run-daemon: xen-virtio-blk\[dom1\]: /local/domain/0/xen-virtio-blk-guests/1 named pid [0-9]+, which is gone: taken over$'
out_has '^run-daemon: xen-virtio-blk\[dom1\]: error: domain 1: none of its virtio disks can be served$'
pass "one backend process per guest: a second one, by hand or a supervisor's, leaves the first alone; a killed one's claim is removed or taken over"
