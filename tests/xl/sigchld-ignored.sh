#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# The supervisor started with SIGCHLD ignored (an ignored signal survives
# exec, and the kernel then reaps children without telling the parent):
# it restores the default, so a backend process killed outright is still
# noticed (its device closed, state 6) and SIGTERM still ends the
# supervisor once its children are gone.
. "$(dirname "$0")/lib.sh"

cat >"$T/wrap" <<EOF2
#!/bin/sh
exec perl -e '\$SIG{CHLD} = "IGNORE"; exec @ARGV or die "exec: \$!"' "$DAEMON" "\$@"
EOF2
chmod +x "$T/wrap"
mkimage "$T/a.img" 16M
xsim_ok watch --daemon "$T/wrap" \
	-c "xl-create name=a disk=$T/a.img" \
	-c "info" -c "expect-node {be}/51712/state 4" \
	-c "kill-child KILL a" \
	-c "expect-daemon-exit KILL a" \
	-c "expect-node {be}/51712/state 6" \
	-c "xl-destroy a"
err_has 'domain 1: 1 virtio disk\(s\) it left open closed \(state 6\)'
pass "SIGCHLD ignored by the starter: a killed backend is still reaped and its device closed"
