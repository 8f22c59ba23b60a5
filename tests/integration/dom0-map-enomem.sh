#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# dom0 short of memory for foreign mappings: on Arm privcmd needs an empty
# page of dom0's for every guest frame it maps and fails the whole map
# with ENOMEM when it finds none. The simulator bounds the daemon's mapped
# guest pages (XVB_SIM_DOM0_MAP_PAGES, far below the daemon's own 1 GiB
# cap). Expected: the daemon gives back its unpinned mappings and maps
# again (or, with every mapping pinned by requests in flight, the request
# waits in the ring for room), so every request of a random workload over
# more guest RAM than that succeeds and its data verifies; nothing is
# IOERR.
. "$(dirname "$0")/lib.sh"

mkimage "$T/disk.img" 64M
sim_ok --daemon-env XVB_SIM_DOM0_MAP_PAGES=600 --disk "$T/disk.img" \
	-c 'random-io 2000 11 64' -c stats
out_has '^random-io: 2000 requests .*: verified'
err_has 'guest_mem: dom0 is short of memory for mappings; [0-9]+ unmapped' \
	"the budget never bit: no ENOMEM from the map"
grep -q 'errors [1-9]' "$T/err" && fail "requests failed: $(grep -m1 'errors' "$T/err")"
pass "dom0 out of mapping memory: unpinned mappings given back, every request served"
