#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# A guest with two disks, the second one's xenstore values malformed or
# unusable (each case: the value xl-create writes instead of libxl's):
# that device is refused (state 6, hotplug-status error, hotplug-error
# naming the problem) while the first one is served and works, and the
# destroy that follows is quick. Cases whose refusal is decided when the
# disk is set up (image, overlaps) and those decided on the values alone.
. "$(dirname "$0")/lib.sh"

mkimage "$T/a.img" 16M
mkimage "$T/b.img" 16M
mkdata "$T/d" 16384
be=/local/domain/0/backend/virtio_disk/1/51728
n=0
# CASE|EXPECTED hotplug-error (extended regex)
while IFS='|' read -r case why; do
	[ -n "$case" ] || continue
	xsim_ok watch \
		-c "xl-create disk=$T/a.img disk=$T/b.img nowait $case" \
		-c "expect-state xvdb 6" \
		-c "expect-state xvda 2" \
		-c "expect-node $be/hotplug-status error" \
		-c "xs-read $be/hotplug-error" \
		-c "xl-unpause" \
		-c "write 0 $T/d" \
		-c "verify 0 $T/d" \
		-c "xl-destroy" \
		-c "expect-daemon-exit 0"
	grep -Eq "^$be/hotplug-error = \".*$why" "$T/out" ||
		fail "$case: hotplug-error is $(grep hotplug-error "$T/out"), expected /$why/"
	err_has "virtio disk 51728 \(xvdb\): refused: .*$why" "$case"
	n=$((n + 1))
done <<EOF2
set=1:base=abc|base 'abc'
set=1:base=33554433|not 0x200-aligned
set=1:base=18446744073709551615|base
set=1:irq=abc|irq 'abc'
set=1:irq=16|irq '16' is not an SPI
set=1:irq=1020|irq '1020' is not an SPI
set=1:mode=rw|mode 'rw'
set=1:state=abc|state 'abc'
set=1:online=2|online '2'
set=1:specification=xen|specification 'xen'
set=1:transport=pci|transport 'pci'
set=1:params=|params .*empty
set=1:params=relative/b.img|not an absolute path
set=1:params=$T/nonexistent.img|No such file
set=1:grant_usage=1|grant_usage=1
set=1:base=33554432|overlaps
set=1:irq=33|irq 33 is already used
set=1:params=$T/a.img|already in use
set=1:frontend-id=7|frontend-id '7'
EOF2
# A target that does not exist: the create fails before the domain exists
# (libxl's stat), and the session goes on with the guest it had.
xsim_ok watch -c "xl-create name=a disk=$T/a.img" \
	-c "expect ERROR xl-create name=b disk=$T/none.img" \
	-c "xl-use a" -c "write 0 $T/d" -c "verify 0 $T/d"
pass "$n malformed or unusable device configurations refused, the other disk served"
