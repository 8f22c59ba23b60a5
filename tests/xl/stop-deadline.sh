#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Stopping the service while a guest's backend process cannot drain (here
# stopped, as under a debugger or stuck in the kernel): the supervisor
# waits its 20 s, a second SIGTERM meanwhile only says what it waits for;
# then SIGKILL, the disks the process left open are closed (state 6 with
# the reason in hotplug-error, so that libxl's destroy does not wait its
# 10 s), and the supervisor exits 0. Takes about 20 s.
. "$(dirname "$0")/lib.sh"

mkimage "$T/a.img" 16M
mkdata "$T/d" 65536
be=/local/domain/0/backend/virtio_disk/1/51712
xsim_ok watch --timeout-ms 30000 \
	-c "xl-create disk=$T/a.img" \
	-c "write 0 $T/d" \
	-c "kill-child STOP" \
	-c "signal-daemon TERM" \
	-c "sleep 500" \
	-c "signal-daemon TERM" \
	-c "expect-daemon-exit KILL" \
	-c "expect-exit 0" \
	-c "expect-state xvda 6" \
	-c "expect-node $be/hotplug-status error" \
	-c "xs-read $be/hotplug-error"
err_has 'SIGTERM: stopping 1 backend process\(es\)$'
err_has 'still waiting for 1 backend process\(es\)$'
err_has 'warning: 1 backend process\(es\) still running after 20 s: SIGKILL$'
err_has 'domain 1: backend process [0-9]+ killed by signal 9 \(Killed\)$'
err_has 'domain 1: 1 virtio disk\(s\) it left open closed \(state 6\)$'
out_has "^$be/hotplug-error = \"backend process [0-9]+ killed by signal 9\"\$"
pass "a backend process that does not drain: SIGKILL after 20 s, its disks closed, exit 0"
