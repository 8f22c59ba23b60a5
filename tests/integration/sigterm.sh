#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# SIGTERM with requests in flight: the daemon exits 0 and every write it
# reported complete is in the image. SIGTERM when idle and SIGINT too.
. "$(dirname "$0")/lib.sh"

mkimage "$T/disk.img" 32M
for seed in 1 2 3; do
	sim_ok --disk "$T/disk.img" -c 'term-under-io 128 '"$seed"
	term_drained
done
mkdata "$T/d" 4096
sim_ok --disk "$T/disk.img" -c 'write 0 '"$T/d" -c 'signal-daemon TERM' \
	-c 'expect-exit 0'
sim_ok --disk "$T/disk.img" -c info -c 'signal-daemon INT' -c 'expect-exit 0'
host_extract "$T/disk.img" 0 4096 "$T/h"
same "$T/d" "$T/h" "write before SIGTERM"
pass "SIGTERM with I/O in flight: exit 0, completed writes on disk"
