#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# A guest that brings its driver up and resets the device 100 times in a
# row: the backend state follows it (4 Connected, 2 InitWait), ends right
# and the disk still serves, but the daemon's log does not grow with the
# guest's whim: at most 10 of each line per 5 s (then one "suppressed"
# line), as for any message a guest can cause.
. "$(dirname "$0")/lib.sh"

mkimage "$T/a.img" 16M
mkdata "$T/d" 4096
set --
i=0
while [ $i -lt 100 ]; do
	set -- "$@" -c init -c reset
	i=$((i + 1))
done
start=$(date +%s)
xsim_ok domid -c "xl-create name=a disk=$T/a.img" "$@" -c init \
	-c "expect-node {be}/51712/state 4" -c reset \
	-c "expect-node {be}/51712/state 2" -c "write 0 $T/d"
# 10 a line per 5 s the session lasted (a slow build's may take longer).
limit=$((10 * (($(date +%s) - start) / 5 + 1)))
ready=$(grep -c 'guest driver ready: state 4' "$T/err")
reset=$(grep -c 'guest reset the device: state 2' "$T/err")
[ "$ready" -ge 1 ] && [ "$ready" -le "$limit" ] ||
	fail "$ready 'driver ready' lines for 102 bring-ups, expected 1 to $limit"
[ "$reset" -ge 1 ] && [ "$reset" -le "$limit" ] ||
	fail "$reset 'reset the device' lines for 101 resets, expected 1 to $limit"
pass "100 bring-up/reset cycles: state follows, $ready + $reset log lines"
