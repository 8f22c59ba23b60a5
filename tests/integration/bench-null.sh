#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# The null backend (--disk null:SIZE) and the bench command (issue 6):
# null:1M has 2048 sectors; every request type completes OK without an
# image; a bad size is refused at start with exit 2; the bench line is
# complete, on the null backend and on a file, with reads, writes and
# several vCPUs; and once the buffers' buckets are mapped, no request maps
# guest memory again. Nothing here depends on how fast anything runs.
. "$(dirname "$0")/lib.sh"

mkdata "$T/data" 8192

sim_ok --disk null:1M -c info -c "write 0 $T/data" -c flush \
	-c "read 4096 8192 $T/back" -c 'discard 0 4096' \
	-c 'write-zeroes 8192 4096' -c get-id \
	-c 'expect IOERR read 1048576 512 '"$T/x"
out_has '^capacity: 2048 sectors \(1048576 bytes\)$'
out_has 'DISCARD'
out_has 'WRITE_ZEROES'

for bad in null: null:0 null:1000 null:1X null:1Gb null:99999999999999999999; do
	"$DAEMON" --domid 1 --foreground --disk "$bad" >"$T/o" 2>&1
	rc=$?
	[ $rc -eq 2 ] || fail "--disk $bad: exit $rc, expected 2"
	grep -q 'null backend needs a size' "$T/o" ||
		fail "--disk $bad: no reason given"
done

# Every key scripts/bench reads, with a number.
keys='iops mbps lat_p50_us lat_p99_us daemon_cpu_us_per_req
daemon_reqs_per_cpu_s notifies_per_req interrupts_per_req ioreqs_per_req
maps_per_req guest_cpu_us_per_req'
check_line() {
	grep -q "^bench $1 rw=$2 " "$T/out" || fail "no bench line for $1 $2"
	for k in $keys; do
		grep "^bench $1 " "$T/out" | grep -Eq " $k=[0-9]+(\.[0-9]+)?( |\$)" ||
			fail "$1: no $k in the bench line"
	done
	grep "^bench $1 " "$T/out" | grep -q ' maps_per_req=0.0000' ||
		fail "$1: guest memory mapped again during the window"
}

sim_ok --vcpus 2 --disk null:64M \
	-c 'bench label=r rw=randread bs=4k qd=8 seconds=1 ramp=200' \
	-c 'bench label=w rw=write bs=64k qd=4 seconds=1 ramp=200'
check_line r randread
check_line w write
grep -q '^bench r .* threads=2 ' "$T/out" || fail "qd=8 did not use both vCPUs"

mkimage "$T/disk.img" 16M
sim_ok --vcpus 2 --disk "$T/disk.img" \
	-c 'bench label=f rw=randwrite bs=4k qd=4 seconds=1 ramp=200 size=8m'
check_line f randwrite
for a in rw=sideways bs=1000 qd=0 seconds=0; do
	sim --disk null:1M -c "bench $a" && fail "bench $a was accepted"
	grep -q "failed: USAGE.*bench: " "$T/err" || fail "bench $a: no reason"
done
pass "null backend serves every request type; bench reports every figure"
