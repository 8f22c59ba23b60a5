#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# The domain dies (xl destroy) with reads and writes really in flight
# (requests in the first 256 KiB slowed down by 300 ms). Run with --disk,
# the daemon is then stopped with SIGTERM, as by whoever started it: it must
# finish what is in flight, release every mapping of the dead domain (the
# simulated Xen then lets the zombie go) and exit 0, and guest RAM must not
# change once its mappings are gone. Both engine paths.
# (Noticing the death by itself is the xenstore mode's job: @releaseDomain.)
. "$(dirname "$0")/lib.sh"

for p in $PATHS; do
	for seed in 1 2; do
		mkimage "$T/disk.img" 32M
		fsim_ok "$(path_rules "$p")delay:rw:ms=300:offset=0-256k" \
			--ram-mb 64 --disk "$T/disk.img" \
			-c "domain-death-under-io 64 $seed term"
		out_has '^domain-death-under-io: [0-9]+ requests queued; .*exited 0'
		flog_has "^fault delay write $p " "$p: no write was delayed"
		flog_has "^fault delay read $p " "$p: no read was delayed"
		delayed_writes_done "$p"
		path_check "$p"
	done
done
pass "domain death with I/O in flight: drained, unmapped, exit 0, nothing written after ($PATHS paths)"
