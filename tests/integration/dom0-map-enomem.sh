#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# dom0 short of memory for foreign mappings: on Arm privcmd needs an empty
# page of dom0's for every guest frame it maps and fails the whole map
# with ENOMEM when it finds none. The simulator bounds the daemon's mapped
# guest pages (XVB_SIM_DOM0_MAP_PAGES=800: the rings and three 1 MiB
# buckets, far below the daemon's own 1 GiB cap). The guest reads into six
# different MiB of its RAM, one request at a time (each also uses the
# first MiB, for its header and status).
# Expected: every read OK with the image's data: at the fourth MiB the
# daemon gives back its unpinned mappings and maps again, and says so.
. "$(dirname "$0")/lib.sh"

mkimage "$T/disk.img" 4M
fill_random "$T/disk.img"
set -- -c raw-init -c 'desc 0 hdr 16 N 1' -c 'desc 2 st 1 W'
for i in 1 2 3 4 5 6; do
	set -- "$@" -c "hdr in $((8 * i))" -c "desc 1 ram+0x${i}00000 4096 WN 2" \
		-c 'kick 0' -c 'used-expect 0 4097 0' \
		-c "expect-image ram+0x${i}00000 4096 $((4096 * i))"
done
sim_ok --daemon-env XVB_SIM_DOM0_MAP_PAGES=800 --disk "$T/disk.img" "$@" \
	-c raw-good
err_has 'guest_mem: dom0 is short of memory for mappings; [0-9]+ unmapped' \
	"the budget never bit: no ENOMEM from the map"
pass "dom0 out of mapping memory: unpinned mappings given back, every read served"
