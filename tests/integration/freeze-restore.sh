#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# A guest's suspend and resume as Linux 6.1 does them to a virtio disk
# (virtblk_freeze: a reset and del_vqs; virtblk_restore: the features of the
# probe written again without reading the device's, new rings, DRIVER_OK,
# and the capacity not read again), e.g. `echo freeze >/sys/power/state`:
# the data written before is there after, both queues of a multiqueue
# device serve again, and an image grown while the guest slept is announced
# by a config-change interrupt once the device runs again, the only way
# the resumed driver learns the new capacity.
. "$(dirname "$0")/lib.sh"

M=1048576
mkimage "$T/disk.img" 16M
mkdata "$T/d" 65536
mkdata "$T/e" 65536
sim_ok --vcpus 2 --daemon-arg --queues=2 --disk "$T/disk.img" \
	-c "write 0 $T/d" -c freeze -c restore -c "verify 0 $T/d" \
	-c 'random-io 300 5 64' -c freeze -c restore -c 'random-io 300 6 64' \
	-c stats
[ "$(grep -c '^random-io: 300 requests .*: verified' "$T/out")" -eq 2 ] ||
	fail "random I/O after a resume was not verified"
out_has '^device 0 queue 1: completed [1-9]'

# With one queue and with two: the resume of a multiqueue device reads
# num_queues from the config space, which tells nothing of the capacity.
for q in 1 2; do
	mkimage "$T/disk.img" 16M
	sim_ok --vcpus 2 --daemon-arg --queues=$q --disk "$T/disk.img" -c info \
		-c freeze -c "host-truncate $T/disk.img $((32 * M))" \
		-c 'signal-daemon HUP' -c 'sleep 500' -c restore \
		-c "write $((16 * M)) $T/e" -c "verify $((16 * M)) $T/e" -c info
	err_has 'resized from 32768 to 65536 sectors'
	[ "$(grep -c '^capacity: ' "$T/out")" -eq 2 ] || fail "not two info outputs"
	grep '^capacity: ' "$T/out" | tail -n1 | grep -q '^capacity: 65536 sectors' ||
		fail "$q queue(s): the resumed driver was not told of the new capacity: $(grep '^capacity: ' "$T/out" | tail -n1)"
	host_extract "$T/disk.img" $((16 * M)) 65536 "$T/h"
	same "$T/e" "$T/h" "a write past the old end after the resume"
done
pass "suspend and resume: data kept, both queues serve, a resize meanwhile announced"
