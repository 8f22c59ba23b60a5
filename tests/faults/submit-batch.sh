#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# --submit-batch N, seen from outside: libfault logs every io_submit call
# of the daemon with its number of iocbs. At 4 KiB random reads of QD32
# from 2 vCPUs, without a limit some calls carry more than 3 iocbs (else
# this test would prove nothing); with --submit-batch 3 none carries more
# than 3, and some carry exactly 3.
. "$(dirname "$0")/lib.sh"

mkimage "$T/disk.img" 64M
B='bench rw=randread bs=4k qd=32 seconds=1 ramp=100'
max_nr() {
	sed -n 's/^submit nr=\([0-9]*\)$/\1/p' "$FLOG" | sort -n | tail -n1
}
fsim_ok '' --vcpus 2 --disk "$T/disk.img" -c "$B"
m=$(max_nr)
[ "${m:-0}" -gt 3 ] || fail "without a limit the largest io_submit had ${m:-no} iocbs"
fsim_ok '' --vcpus 2 --daemon-arg --submit-batch=3 --disk "$T/disk.img" \
	-c "$B"
m3=$(max_nr)
[ "${m3:-0}" -eq 3 ] ||
	fail "with --submit-batch 3 the largest io_submit had ${m3:-no} iocbs"
pass "io_submit carries up to $m iocbs, at most 3 with --submit-batch 3"
