#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# SIGUSR1 to the supervisor: it lists its backend processes and forwards
# the signal; each one logs its statistics and writes them under each
# disk's statistics/ node, with the counts of what the guest did, and how
# long its register accesses waited for us.
. "$(dirname "$0")/lib.sh"

mkimage "$T/a.img" 16M
mkimage "$T/b.img" 16M
mkdata "$T/d" 4096
xsim_ok watch \
	-c "xl-create name=a disk=$T/a.img" \
	-c "xl-create name=b disk=$T/b.img" \
	-c "xl-use a" \
	-c "write 0 $T/d" \
	-c "write 8192 $T/d" \
	-c "write 16384 $T/d" \
	-c "flush" \
	-c "signal-daemon USR1" \
	-c "expect-node {be}/51712/statistics/wr_req 3" \
	-c "expect-node {be}/51712/statistics/wr_bytes 12288" \
	-c "expect-node {be}/51712/statistics/f_req 1" \
	-c "expect-node {be}/51712/statistics/errors 0" \
	-c "expect-node {be}/51712/statistics/in_flight 0" \
	-c "expect-node {be}/51712/statistics/interrupts *" \
	-c "xl-use b" \
	-c "expect-node {be}/51712/statistics/wr_req 0"
err_has 'stats: 2 backend process\(es\): dom1 \(pid [0-9]+\), dom2 \(pid [0-9]+\)'
err_has '\[dom1\]: stats: disk 0 \(.*a\.img\): .*write 3 req 12288 B, flush 1'
err_has '\[dom2\]: stats: disk 0 '
# The guest's buffers were mapped and stay mapped; the one invalidation
# is the one Xen sends while the guest boots (the ioreq line counts it too).
err_has '\[dom1\]: stats: guest memory: [1-9][0-9]* KiB mapped, [1-9][0-9]* map calls, 0 unmaps, 0 refreshes, 1 invalidations'
# Every trapped access is answered and timed, and every interrupt is
# followed by the driver's InterruptStatus read.
err_has '\[dom1\]: stats: ioreq: ([0-9]+) requests .*, ([1-9][0-9]*) interrupts; \1 answered after [0-9]+\.[0-9] us, \2 interrupts followed by a request after [0-9]+\.[0-9] us'
pass "SIGUSR1: forwarded to both guests' processes, statistics/ nodes written"
