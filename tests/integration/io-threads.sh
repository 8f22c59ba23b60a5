#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# --io-threads: each request queue is served on a thread of its own
# (named xvb-dDISK-qQUEUE), which does the queue's work; what a 2-vCPU guest
# wrote on two queues is on the image; the daemon's per-queue statistics
# equal the guest's; SIGTERM and a reset with writes in flight on both
# queues drain them (the threads end, the daemon exits 0).
. "$(dirname "$0")/lib.sh"

# daemon_of PID: the xen-virtio-blk process that sim-guest PID started
# (from /proc: a bare system has no pgrep).
daemon_of() {
	for p in /proc/[0-9]*; do
		[ "$(cat "$p/comm" 2>/dev/null)" = xen-virtio-blk ] || continue
		ppid=$(sed 's/^.*) //' "$p/stat" 2>/dev/null | cut -d' ' -f2)
		[ "$ppid" = "$1" ] && echo "${p#/proc/}" && return 0
	done
	return 1
}

mkimage "$T/disk.img" 16M
TH="--daemon-arg --queues=2 --daemon-arg --io-threads"

sim_ok --vcpus 2 $TH --disk "$T/disk.img" -c info \
	-c 'random-io 3000 5 128 region=8' -c "read 0 8388608 $T/guest" -c stats \
	-c 'signal-daemon USR1'
out_has '^queues: 2$'
out_has '^random-io: 3000 requests .* on 2 vCPUs.*: verified'
g0=$(sed -n 's/^device 0 queue 0: completed \([0-9]*\)$/\1/p' "$T/out")
g1=$(sed -n 's/^device 0 queue 1: completed \([0-9]*\)$/\1/p' "$T/out")
[ "${g0:-0}" -gt 500 ] && [ "${g1:-0}" -gt 500 ] ||
	fail "queues completed '${g0:-0}' and '${g1:-0}' requests"
grep -q "stats: disk 0: requests completed per queue: $g0 $g1\$" "$T/err" ||
	fail "no per-queue statistics '$g0 $g1' in the daemon's log"
host_extract "$T/disk.img" 0 8388608 "$T/host"
same "$T/guest" "$T/host" "the image against the guest's reads"

# The threads exist while the guest runs, and they, not the loop thread,
# do the I/O: each has used CPU time (utime + stime, /proc/PID/task/TID/stat).
"$SIM" --vcpus 2 $TH --disk "$T/disk.img" \
	-c 'bench rw=randwrite bs=4k qd=16 seconds=3 ramp=0' >"$T/bench.out" 2>&1 &
simpid=$!
daemon=
for _ in $(seq 50); do
	daemon=$(daemon_of "$simpid") && break
	sleep 0.1
done
[ -n "$daemon" ] || fail "no daemon under sim-guest $simpid"
# thread_ticks Q: the CPU ticks of thread xvb-d0-qQ so far, nothing if
# there is no such thread (yet).
thread_ticks() {
	for t in /proc/"$daemon"/task/*; do
		[ "$(cat "$t/comm" 2>/dev/null)" = "xvb-d0-q$1" ] || continue
		sed 's/^.*) //' "$t/stat" 2>/dev/null | awk '{print $12 + $13}'
		return
	done
}
# The threads start with the guest's driver, which a loaded machine may
# take a while to bring up: look until both have worked or the session
# ends.
seen0= seen1=
for _ in $(seq 100); do
	for q in 0 1; do
		ticks=$(thread_ticks $q)
		[ "${ticks:-0}" -gt 0 ] && eval "seen$q=$ticks"
	done
	[ -n "$seen0" ] && [ -n "$seen1" ] && break
	kill -0 "$simpid" 2>/dev/null || break
	sleep 0.1
done
for q in 0 1; do
	eval "ticks=\$seen$q"
	[ -n "$ticks" ] ||
		fail "no thread xvb-d0-q$q with CPU time in daemon $daemon"
done
wait "$simpid" || { cat "$T/bench.out" >>"$LOG"; fail "bench session failed"; }
grep -q '^bench .* iops=' "$T/bench.out" || fail "no bench line"
# Without the option there is no such thread.
"$SIM" --vcpus 2 --daemon-arg --queues=2 --disk "$T/disk.img" \
	-c 'bench rw=randread bs=4k qd=4 seconds=2 ramp=0' >"$T/bench.out" 2>&1 &
simpid=$!
sleep 1
daemon=$(daemon_of "$simpid") || fail "no daemon"
grep -qs '^xvb-' /proc/"$daemon"/task/*/comm &&
	fail "an I/O thread without --io-threads"
wait "$simpid" || fail "bench session without --io-threads failed"

# Requests in flight on both queues at SIGTERM and at a reset: drained,
# and at SIGTERM every request taken is published before the daemon exits
# (its exit statistics count per queue what the guest saw completed).
for seed in 1 2; do
	sim_ok --vcpus 2 $TH --disk "$T/disk.img" \
		-c 'term-under-io 128 '"$seed" -c stats
	term_drained
	exit_stats_match_guest
	sim_ok --vcpus 2 $TH --disk "$T/disk.img" \
		-c 'reset-under-io 128 '"$seed" -c 'random-io 300 9 64' -c stats
	out_has '^random-io: 300 requests .*: verified'
	out_has '^device 0 queue 1: completed [1-9]'
done
pass "2 queues on 2 I/O threads: data verified on the image, the threads do the work; SIGTERM and reset drain both"
