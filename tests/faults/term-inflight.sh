#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# SIGTERM with requests really in flight: writes in the first 512 KiB are
# slowed down by 300 ms, the guest queues up to 128 writes and the daemon
# gets SIGTERM at once. It must exit 0; every write it reported complete
# must be OK and in the image; and it must have waited for every write it
# had started (each delayed write was handed back to it before it exited,
# and the guest saw each one it took complete), also when a second SIGTERM
# follows 50 ms later (only a second SIGINT cuts the drain short). Both
# engine paths.
. "$(dirname "$0")/lib.sh"

for p in $PATHS; do
	for run in "1" "2" "3 twice"; do
		mkimage "$T/disk.img" 32M
		fsim_ok "$(path_rules "$p")delay:write:ms=300:offset=0-512k" \
			--disk "$T/disk.img" -c "term-under-io 128 $run"
		term_drained
		flog_has "^fault delay write $p " "$p: no write was delayed"
		delayed_writes_done "$p"
		path_check "$p"
	done
done
pass "SIGTERM with delayed writes in flight: drained, exit 0, completed writes on disk ($PATHS paths)"
