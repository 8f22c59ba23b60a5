#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# --syslog: a process in the foreground logs to syslog instead of stderr,
# its errors too, and a supervisor passes it on to the backend processes
# it starts. Here a supervisor run by hand finds the directory of a guest
# whose domain is gone and starts a backend process for it, which fails:
# without --syslog both say so on stderr; with it, nothing reaches stderr,
# and the exit statuses are the same. (Whether the lines reach syslog is
# not checked: the test machine need not have a /dev/log.)
. "$(dirname "$0")/lib.sh"

mkimage "$T/a.img" 16M
gone=/local/domain/0/backend/virtio_disk/7/51712
# --mode domid: a served guest (dom1) and no supervisor yet.
xsim_ok domid \
	-c "xl-create disk=$T/a.img" \
	-c "run-daemon 2 --domid 0 --foreground --syslog" \
	-c "xs-write $gone/state 1" \
	-c "run-daemon runs --watch --foreground" \
	-c "run-daemon runs --watch --foreground --syslog"
out_has '^run-daemon: exit status 2$'
[ "$(grep -c '^run-daemon: exit status 0 after SIGTERM$' "$T/out")" -eq 2 ] ||
	fail "the supervisors did not both run until SIGTERM"
# Without --syslog: the supervisor's and its backend process's lines.
out_has '^run-daemon: xen-virtio-blk: domain 7: started backend process [0-9]+$'
out_has '^run-daemon: xen-virtio-blk\[dom7\]: error: domain 7 does not exist$'
out_has '^run-daemon: xen-virtio-blk: warning: domain 7: backend process [0-9]+ exited with status 1$'
# With it: nothing but the exit statuses.
n=$(grep '^run-daemon: ' "$T/out" | grep -vc '^run-daemon: exit status')
without=$(sed -n '/^run-daemon: exit status 2$/,/^run-daemon: exit status 0 after SIGTERM$/p' \
	"$T/out" | grep -vc '^run-daemon: exit status')
[ "$n" -eq "$without" ] ||
	fail "with --syslog, $((n - without)) line(s) still on stderr: $(grep '^run-daemon: ' "$T/out" | grep -v 'exit status' | tail -n 1)"
pass "--syslog: nothing on stderr, passed on to backend processes, same exit statuses"
