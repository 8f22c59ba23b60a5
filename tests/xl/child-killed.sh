#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# A guest's backend process killed outright (SIGKILL: no teardown of its
# own): the supervisor closes the devices it left open (hotplug-error,
# state 6), so that the guest's destroy does not wait libxl's 10 s for
# state 6; it does not start another process for the guest.
. "$(dirname "$0")/lib.sh"

mkimage "$T/a.img" 16M
xsim_ok watch \
	-c "xl-create name=a disk=$T/a.img" \
	-c "info" -c "expect-node {be}/51712/state 4" \
	-c "kill-child KILL a" \
	-c "expect-daemon-exit KILL a" \
	-c "expect-node {be}/51712/state 6 4000" \
	-c "expect-node {be}/51712/hotplug-error *" \
	-c "xl-destroy a"
err_has 'domain 1: 1 virtio disk\(s\) it left open closed \(state 6\)'
# libxl would wait 10 s for state 6 that never came.
grep -q 'xl-destroy: .*after [0-4]\.[0-9]* s' "$T/out" ||
	fail "destroy waited: $(grep -m1 'xl-destroy' "$T/out")"
[ "$(err_count 'domain 1: started backend process')" -eq 1 ] ||
	fail "the supervisor restarted guest a's process"
pass "killed backend: its device closed by the supervisor, destroy at once"
