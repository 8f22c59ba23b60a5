#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Entries libxl never writes, from an administrator's xenstore-write or
# another tool: under a served guest's directory, names that are not
# device ids (a word, a number with a leading zero, a name too long to
# keep) and more devices than a process tracks (32); under the
# supervisor's directory, a name that is not a domid and dom0's own. Each
# is reported once and left alone (no node written in it, no process
# started), and the guest's disk is served on through the guest driver's
# state changes that follow. Names that are not device ids take none of
# the 32 places.
. "$(dirname "$0")/lib.sh"

mkimage "$T/a.img" 16M
mkdata "$T/d" 65536
base=/local/domain/0/backend/virtio_disk
# 33 devices that are not ours to serve (state 3): with the served one, two
# more than 32.
long=$(printf 'x%.0s' $(seq 100))
many=
i=1
while [ $i -le 33 ]; do
	many="$many -c 'xs-write {be}/$((60000 + i))/state 3'"
	i=$((i + 1))
done
eval "xsim_ok watch --daemon-arg --log-level --daemon-arg debug \
	-c 'xl-create disk=$T/a.img' \
	-c 'xs-write {be}/foo/state 1' \
	-c 'xs-write {be}/051712/state 1' \
	-c 'xs-write {be}/$long/state 1' \
	$many \
	-c 'write 0 $T/d' \
	-c 'expect-state xvda 4' \
	-c 'reset' \
	-c 'expect-state xvda 2' \
	-c 'verify 0 $T/d' \
	-c 'expect-state xvda 4' \
	-c 'xs-write $base/bar/1/state 1' \
	-c 'xs-write $base/0/51712/state 1' \
	-c 'xs-settle' \
	-c 'expect-node {be}/foo/state 1 0' \
	-c 'expect-node {be}/051712/state 1 0' \
	-c 'expect-node {be}/$long/state 1 0' \
	-c 'expect-node {be}/60033/state 3 0' \
	-c 'expect-node {be}/60030/state 3 0' \
	-c 'expect-node $base/bar/1/state 1 0' \
	-c 'expect-node $base/0/51712/state 1 0' \
	-c 'xl-destroy' \
	-c 'expect-daemon-exit 0'"
for name in foo 051712 "$(printf 'x%.0s' $(seq 40))"; do
	[ "$(err_count "domain 1: ignoring '$name' in $base/1: not a device id\$")" -eq 1 ] ||
		fail "'$name' not reported exactly once"
done
over=$(sed -n "s|.*domain 1: more than 32 devices in $base/1, ignoring '\(.*\)'\$|\1|p" \
	"$T/err" | sort -u | wc -l)
[ "$over" -eq 2 ] || fail "$over devices reported over the limit, expected 2"
# Once each, not again at each of the guest's state changes.
[ "$(err_count 'more than 32 devices')" -eq 2 ] ||
	fail "devices over the limit reported $(err_count 'more than 32 devices') times, expected 2"
err_has "debug: ignoring 'bar' in $base\$"
err_has 'debug: ignoring virtio disks for our own domain 0$'
[ "$(err_count 'started backend process')" -eq 1 ] ||
	fail "a backend process was started for a foreign entry"
pass "entries that are not libxl's reported and left alone; the guest served on"
