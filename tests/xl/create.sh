#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# xl create with two disks (the second read-only) under --watch: libxl's
# wait for state 2 is met, the daemon publishes its extras next to libxl's
# nodes, the guest probes both disks and does I/O on them; DRIVER_OK sets
# state 4, a device reset sets it back to 2.
. "$(dirname "$0")/lib.sh"

mkimage "$T/a.img" 16M
mkimage "$T/b.img" 8M
mkdata "$T/d" 65536
be=/local/domain/0/backend/virtio_disk/1
fe=/local/domain/1/device/virtio_disk
xsim_ok watch \
	-c "xl-create name=g1 disk=target=$T/a.img,vdev=xvda,access=rw disk=target=$T/b.img,vdev=xvdb,access=ro" \
	-c "expect-node $be/51712/sectors 32768" \
	-c "expect-node $be/51712/sector-size 512" \
	-c "expect-node $be/51712/info 0" \
	-c "expect-node $be/51712/feature-flush-cache 1" \
	-c "expect-node $be/51712/feature-discard *" \
	-c "expect-node $be/51712/feature-write-zeroes *" \
	-c "expect-node $be/51712/virtio-features *" \
	-c "expect-node $be/51712/virtio-queues *" \
	-c "expect-node $be/51712/virtio-queue-size *" \
	-c "expect-node $be/51728/sectors 16384" \
	-c "expect-node $be/51728/info 4" \
	-c "expect-node $be/51728/base 33554944" \
	-c "expect-node $be/51728/irq 34" \
	-c "expect-node $be/51712/frontend $fe/51712" \
	-c "expect-node $be/51712/params $T/a.img" \
	-c "expect-node $be/51728/mode r" \
	-c "expect-node $fe/51712/backend $be/51712" \
	-c "expect-node $fe/51728/virtual-device 51728" \
	-c "expect-node $fe/51712/state 1" \
	-c "write 0 $T/d" \
	-c "verify 0 $T/d" \
	-c "expect-state xvda 4" \
	-c "device 1" \
	-c "info" \
	-c "expect EPERM write 0 $T/d" \
	-c "expect IOERR request 1 0 4096 out" \
	-c "expect-state xvdb 4" \
	-c "reset" \
	-c "expect-state xvdb 2" \
	-c "device 0" \
	-c "reset" \
	-c "expect-state xvda 2" \
	-c "verify 0 $T/d" \
	-c "expect-state xvda 4"
out_has '^xl-create: dom 1 \(g1\): 2 disk\(s\) in state 2 after'
out_has '^read-only: yes'
host_extract "$T/a.img" 0 65536 "$T/h"
same "$T/d" "$T/h" "image after the guest's write"
t=$(out_line '^xl-create:' | sed 's/.* after //')
pass "2 disks (rw + ro) in state 2 after $t, extras published, I/O, states 4 and 2"
