#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Entries libxl never writes, from an administrator's xenstore-write or
# another tool: under a served guest's directory, a name that is not a
# device id and more devices than a process tracks (32); under the
# supervisor's directory, a name that is not a domid and dom0's own. Each
# is reported once and left alone (no node written in it, no process
# started), and the guest's disk is served on through the guest driver's
# state changes that follow.
. "$(dirname "$0")/lib.sh"

mkimage "$T/a.img" 16M
mkdata "$T/d" 65536
base=/local/domain/0/backend/virtio_disk
# 33 devices that are not ours to serve (state 3): with the served one and
# "foo", three more than 32.
many=
i=1
while [ $i -le 33 ]; do
	many="$many -c 'xs-write {be}/$((60000 + i))/state 3'"
	i=$((i + 1))
done
eval "xsim_ok watch --daemon-arg --log-level --daemon-arg debug \
	-c 'xl-create disk=$T/a.img' \
	-c 'xs-write {be}/foo/state 1' \
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
	-c 'expect-node {be}/60033/state 3 0' \
	-c 'expect-node {be}/60030/state 3 0' \
	-c 'expect-node $base/bar/1/state 1 0' \
	-c 'expect-node $base/0/51712/state 1 0' \
	-c 'xl-destroy' \
	-c 'expect-daemon-exit 0'"
[ "$(err_count "domain 1: ignoring 'foo' in $base/1: not a device id\$")" -eq 1 ] ||
	fail "'foo' not reported exactly once"
over=$(sed -n "s|.*domain 1: more than 32 devices in $base/1, ignoring '\(.*\)'\$|\1|p" \
	"$T/err" | sort -u | wc -l)
[ "$over" -eq 3 ] || fail "$over devices reported over the limit, expected 3"
# Once each, not again at each of the guest's state changes.
[ "$(err_count 'more than 32 devices')" -eq 3 ] ||
	fail "devices over the limit reported $(err_count 'more than 32 devices') times, expected 3"
err_has "debug: ignoring 'bar' in $base\$"
err_has 'debug: ignoring virtio disks for our own domain 0$'
[ "$(err_count 'started backend process')" -eq 1 ] ||
	fail "a backend process was started for a foreign entry"
pass "entries that are not libxl's reported and left alone; the guest served on"
