#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# The guest's first disk is refused (its image does not exist) and libxl
# adds the second one only after the backend process, with nothing left to
# serve, has exited. No process is started again for the domid, so the
# second disk must not wait in state 1 for one: the supervisor closes it
# (hotplug-error, state 6), and the guest's destroy finishes at once
# instead of waiting libxl's 10 s for a state 6 nobody writes.
. "$(dirname "$0")/lib.sh"

mkimage "$T/a.img" 16M
mkimage "$T/b.img" 16M
be=/local/domain/0/backend/virtio_disk/1
xsim_ok watch \
	-c "xl-create disk=$T/a.img disk=$T/b.img stagger=600 nowait set=0:params=$T/none.img" \
	-c "expect-state xvda 6 3000" \
	-c "expect-daemon-exit 2" \
	-c "expect-state xvdb 6 3000" \
	-c "xs-read $be/51728/hotplug-error" \
	-c "xl-destroy"
err_has 'domain 1: backend process [0-9]+ exited with status 2'
err_has 'domain 1: 1 virtio disk\(s\) left waiting for a backend closed \(state 6\)'
out_has "hotplug-error = \"no backend process: it has exited \\(see the log\\)\""
grep -q 'xl-destroy: .*after 0\.[0-9]* s' "$T/out" ||
	fail "destroy waited: $(grep -m1 'xl-destroy' "$T/out")"
[ "$(err_count 'domain 1: started backend process')" -eq 1 ] ||
	fail "a second backend process was started for the guest"
pass "a disk added after the guest's process exited is closed with a reason, the destroy at once"
