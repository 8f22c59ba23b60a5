#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# --queues N (VIRTIO_BLK_F_MQ): a 2-vCPU guest uses both queues, one per
# vCPU as Linux maps them, and what its writes left on the image is what
# it reads back; a 1-vCPU guest and a driver without MQ use one queue; the
# default offers no MQ; SIGTERM and a reset drain requests on both
# queues.
. "$(dirname "$0")/lib.sh"

mkimage "$T/disk.img" 16M
sim_ok --vcpus 2 --daemon-arg --queues=2 --disk "$T/disk.img" -c info \
	-c 'random-io 3000 5 128 region=8' -c "read 0 8388608 $T/guest" -c stats \
	-c 'signal-daemon USR1' -c info
out_has '^driver-features: .* MQ '
out_has '^num-queues: 2$'
out_has '^queues: 2$'
out_has '^random-io: 3000 requests .* on 2 vCPUs.*: verified'
for q in 0 1; do
	n=$(sed -n "s/^device 0 queue $q: completed \([0-9]*\)$/\1/p" "$T/out")
	[ "${n:-0}" -gt 500 ] || fail "queue $q completed only ${n:-0} requests"
done
# The daemon's statistics count per queue what the guest saw completed.
g0=$(sed -n 's/^device 0 queue 0: completed \([0-9]*\)$/\1/p' "$T/out")
g1=$(sed -n 's/^device 0 queue 1: completed \([0-9]*\)$/\1/p' "$T/out")
grep -q "stats: disk 0: requests completed per queue: $g0 $g1\$" "$T/err" ||
	fail "no per-queue statistics '$g0 $g1' in the daemon's log"
host_extract "$T/disk.img" 0 8388608 "$T/host"
same "$T/guest" "$T/host" "the image against the guest's reads"

# Linux uses min(num_queues, nr_cpu_ids) queues; the rest stay unused,
# also with a grace after each drain (their timers must stay idle).
sim_ok --vcpus 1 --daemon-arg --queues=4 --disk "$T/disk.img" -c info \
	-c 'random-io 500 6 64'
out_has '^num-queues: 4$'
out_has '^queues: 1$'
sim_ok --vcpus 2 --daemon-arg --queues=8 --daemon-arg --idle-grace-us=300 \
	--disk "$T/disk.img" -c info -c 'random-io 1500 8 64' -c stats
out_has '^num-queues: 8$'
out_has '^queues: 2$'
out_has '^random-io: 1500 requests .*: verified'
out_has '^device 0 queue 1: completed [1-9]'
sim_ok --vcpus 2 --daemon-arg --queues=2 --disk "$T/disk.img" \
	-c 'features -MQ' -c info -c 'random-io 1000 7 64' -c stats
out_has '^queues: 1$'
grep -q '^device 0 queue 1:' "$T/out" && fail "queue 1 used without MQ"
sim_ok --vcpus 2 --disk "$T/disk.img" -c info
grep -Eq '^device-features: .* MQ ' "$T/out" && fail "MQ offered by default"
out_has '^queues: 1$'

# Requests in flight on both queues at SIGTERM and at a reset. At SIGTERM
# every request the daemon took is published before it exits: its
# statistics at exit count per queue what the guest saw completed.
for seed in 1 2; do
	sim_ok --vcpus 2 --daemon-arg --queues=2 --disk "$T/disk.img" \
		-c 'term-under-io 128 '"$seed" -c stats
	term_drained
	out_has '^device 0 queue 1: completed [1-9]'
	exit_stats_match_guest
	# The reset may come before a queue took anything (the writes are
	# queued, then the reset at once); the device serves both after it.
	sim_ok --vcpus 2 --daemon-arg --queues=2 --disk "$T/disk.img" \
		-c 'reset-under-io 128 '"$seed" -c 'random-io 300 9 64' -c stats
	out_has '^random-io: 300 requests .*: verified'
	out_has '^device 0 queue 1: completed [1-9]'
done
pass "2 queues used by 2 vCPUs, data verified on the image; 1 queue without MQ or with 1 vCPU; SIGTERM and reset drain both"
