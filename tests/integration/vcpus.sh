#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Four vCPUs issue MMIO and requests at once, many requests in flight.
. "$(dirname "$0")/lib.sh"

mkimage "$T/disk.img" 32M
sim_ok --vcpus 4 --disk "$T/disk.img" -c 'random-io 2000 21 128' -c stats
out_has '^random-io: .* on 4 vCPUs'
n=$(sed -n 's/.*up to \([0-9]*\) in flight.*/\1/p' "$T/out")
[ "${n:-0}" -gt 4 ] || fail "only ${n:-0} requests were ever in flight"
sim_ok --vcpus 4 --disk "$T/disk.img" -c 'features -EVENT_IDX' \
	-c 'random-io 800 22 64'
pass "4 vCPUs, up to $n requests in flight, data verified"
