#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# --submit-batch N (at most N requests per io_submit): with one and with
# three, many requests in flight from 2 vCPUs are all served and read back
# identical, and what the guest read equals the image on the host (the
# calls themselves: tests/faults/submit-batch.sh).
. "$(dirname "$0")/lib.sh"

mkimage "$T/disk.img" 16M
for n in 1 3; do
	sim_ok --vcpus 2 --daemon-arg --submit-batch=$n --disk "$T/disk.img" \
		-c 'random-io 1500 4 128 region=8' -c "read 0 8388608 $T/guest"
	out_has '^random-io: 1500 requests .*verified'
	host_extract "$T/disk.img" 0 8388608 "$T/host"
	same "$T/guest" "$T/host" "the image against the guest's reads (--submit-batch $n)"
done

pass "--submit-batch 1 and 3: data verified, image equals the guest's reads"
