#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# A guest's backend process exits on its own (here: it refuses the one
# disk it could serve, and leaves alone the other, found already in state
# 5, which it takes for someone else's) while a disk still waits for a
# backend to close it. Only its process could have written that state 6,
# so the supervisor does it once the process is gone (hotplug-error naming
# the exit), and libxl's destroy does not wait its 10 s for it.
. "$(dirname "$0")/lib.sh"

mkimage "$T/a.img" 16M
mkimage "$T/b.img" 16M
be=/local/domain/0/backend/virtio_disk/1
xsim_ok watch \
	-c "xl-create disk=$T/a.img disk=$T/b.img nowait set=0:state=5 set=1:params=$T/none.img" \
	-c "expect-state xvdb 6 3000" \
	-c "expect-state xvda 6 3000" \
	-c "expect-daemon-exit 2" \
	-c "xs-read $be/51712/hotplug-error" \
	-c "xl-destroy"
err_has 'domain 1: backend process [0-9]+ exited with status 2'
err_has 'domain 1: 1 virtio disk\(s\) left waiting for a backend closed \(state 6\)'
out_has 'hotplug-error = "backend process [0-9]+ exited with status 2"'
grep -q 'xl-destroy: .*after 0\.[0-9]* s' "$T/out" ||
	fail "destroy waited: $(grep -m1 'xl-destroy' "$T/out")"
pass "a disk left in state 5 by a backend process that exited is closed with a reason"
