#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# A guest that brings its driver up and resets the device 100 times in a
# row: the backend state follows it (4 Connected, 2 InitWait), ends right
# and the disk still serves, but neither xenstore nor the daemon's log
# keeps pace with the guest's whim: the state node is written at most once
# per 100 ms (each write is a dom0 transaction that wakes every watcher of
# the backend tree), and the log takes at most 10 of each line per 5 s
# (then one "suppressed" line), as for any message a guest can cause.
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
t0=$(date +%s%N)
xsim_ok domid -c "xl-create name=a disk=$T/a.img" \
	-c "xs-writes {be}/51712/state" "$@" -c init \
	-c "expect-node {be}/51712/state 4" -c reset \
	-c "expect-node {be}/51712/state 2" \
	-c "xs-writes {be}/51712/state" -c "write 0 $T/d"
ms=$((($(date +%s%N) - t0) / 1000000))
before=$(sed -n 's/^xs-writes: .* written \([0-9]*\) times$/\1/p' "$T/out" | head -1)
after=$(sed -n 's/^xs-writes: .* written \([0-9]*\) times$/\1/p' "$T/out" | tail -1)
writes=$((after - before))
# One a 100 ms the session lasted, from 2 ends (4, then 2).
wlimit=$((ms / 100 + 2))
[ "$writes" -ge 2 ] && [ "$writes" -le "$wlimit" ] ||
	fail "the state node written $writes times for 202 changes in $ms ms, expected 2 to $wlimit"
# 10 a line per 5 s the session lasted (a slow build's may take longer).
limit=$((10 * (($(date +%s) - start) / 5 + 1)))
ready=$(grep -c 'guest driver ready: state 4' "$T/err")
reset=$(grep -c 'guest reset the device: state 2' "$T/err")
[ "$ready" -ge 1 ] && [ "$ready" -le "$limit" ] ||
	fail "$ready 'driver ready' lines for 102 bring-ups, expected 1 to $limit"
[ "$reset" -ge 1 ] && [ "$reset" -le "$limit" ] ||
	fail "$reset 'reset the device' lines for 101 resets, expected 1 to $limit"
pass "100 bring-up/reset cycles: state follows, written $writes times in $ms ms, $ready + $reset log lines"
