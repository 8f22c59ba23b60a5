#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Bounded resources under a long attack: 100000 notifications for queue 0
# and 30000 for a missing queue, 20000 misaligned writes and 20000
# misaligned reads (each logs a warning), 3000 INVALIDATEs, 3000 random
# chains, 60 reset rounds with writes in flight, 2000 resets, all from two
# vCPUs where it applies.
# Expected: the daemon's RSS grows by at most 16 MiB (32 MiB under ASan,
# whose allocator keeps freed memory in quarantine) and its open fds not
# at all (from /proc/PID/status and /proc/PID/fd, against a mark taken
# after warm-up); its log stays bounded: no message (its numbers set
# aside) more than 11 times (10 + one "suppressed" line) per 5 s window
# of the session, whereas without the rate limiter the attack would log
# over 40000 lines.
. "$(dirname "$0")/lib.sh"

setup vcpus=2
rss_kb=16384
case $BUILD in *asan*) rss_kb=32768 ;; esac
c init "write 0 $T/d" 'random-io 200 1' raw-init 'chain-storm 200 8' \
	'reset-storm 5 3' init 'usage-mark' \
	'flood 100000 notify 0 vcpus=2' 'flood 30000 notify 7 vcpus=2' \
	'flood 20000 write 0x3 1 0xff vcpus=2' \
	'flood 20000 read 0x1 2 vcpus=2' 'flood 3000 invalidate vcpus=2' \
	raw-init 'chain-storm 3000 9' 'reset-storm 60 4' \
	'flood 2000 write 0x70 4 0 vcpus=2' "usage-check $rss_kb 0"
start=$(date +%s)
finish_check() {
	secs=$(($(date +%s) - start + 1))
	limit=$((11 * (secs / 5 + 1)))
	n=$(daemon_log_lines)
	[ "$n" -lt 40000 ] || fail "the daemon logged $n lines: not rate-limited"
	# The most frequent message, numbers replaced by N.
	top=$(grep '^xen-virtio-blk' "$T/err" | sed 's/[0-9][0-9]*/N/g' |
		sort | uniq -c | sort -rn | head -n1)
	count=$(echo "$top" | awk '{print $1}')
	[ "${count:-0}" -le $limit ] ||
		fail "a message logged $count times in $secs s (limit $limit):$(echo "$top" | cut -c8-)"
}
finish "RSS, fds and log lines bounded under a long attack"
