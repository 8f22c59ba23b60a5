#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# SIGUSR1 (statistics) sent to the supervisor over and over while it
# starts a guest's backend process: the new process must not die of it
# (it inherits the signal blocked and reads it once it has set up), and
# the guest's disk comes up and serves.
. "$(dirname "$0")/lib.sh"

mkimage "$T/a.img" 16M
mkdata "$T/d" 4096
set --
i=0
while [ $i -lt 60 ]; do
	set -- "$@" -c "signal-daemon USR1"
	i=$((i + 1))
done
xsim_ok watch -c "xl-create name=a disk=$T/a.img nowait" "$@" \
	-c "expect-node {be}/51712/state 2" -c "xl-unpause" \
	-c "write 0 $T/d" -c "flush"
if grep -q 'killed by signal' "$T/err"; then
	fail "$(grep -m1 'killed by signal' "$T/err")"
fi
pass "60 x SIGUSR1 while a backend starts: it survives and serves"
