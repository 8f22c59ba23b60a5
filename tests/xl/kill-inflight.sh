#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# The guest's domain dies abruptly (no libxl step at all) with reads and
# writes really in flight (requests in the first 256 KiB held back 300 ms
# by libfault): the backend process notices through @releaseDomain alone,
# lets the requests finish, unmaps everything itself (the zombie then
# goes), writes state 6 and exits 0. Both engine paths, both modes.
. "$(dirname "$0")/../faults/lib.sh"

for p in $PATHS; do
	for mode in watch domid; do
		mkimage "$T/a.img" 16M
		fsim_ok "$(path_rules "$p")delay:rw:ms=300:offset=0-256k" \
			--mode "$mode" \
			-c "xl-create disk=$T/a.img" \
			-c "info" \
			-c "xl-kill io=24 seed=3" \
			-c "expect-daemon-exit 0" \
			-c "pages-mapped 0" \
			-c "expect-dom gone" \
			-c "expect-state xvda 6"
		out_has '^xl-kill: dom 1 killed with [1-9][0-9]* of [0-9]+ requests in flight'
		flog_has "^fault delay write $p " "$p/$mode: no write was delayed"
		delayed_writes_done "$p/$mode"
		grep -q 'domain 1 is dying\|domain 1 is gone' "$T/err" ||
			fail "$p/$mode: the death was not noticed as such"
	done
done
pass "death with I/O in flight: drained, unmapped, state 6, exit 0 ($PATHS paths, watch and domid)"
