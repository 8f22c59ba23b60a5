#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Least privilege: once set up, the daemon's Xen handles act on its own
# guest only. An LD_PRELOAD probe (tests/fault/libprobe.c) waits for the
# three *_restrict() calls, then uses those very handles on another domain:
# every attempt must be refused (EPERM, or EACCES for event channels, as
# Linux's privcmd and evtchn drivers answer), while the same attempts on
# fresh, unrestricted handles reach the hypervisor and fail otherwise.
. "$(dirname "$0")/lib.sh"

PROBE="$BUILD/libprobe.so"
[ -f "$PROBE" ] || fail "$PROBE is not built"
preload="$PROBE"
asan_rt=$(ldd "$DAEMON" 2>/dev/null | awk '/libasan/ { print $3 }')
[ -n "$asan_rt" ] && preload="$asan_rt $PROBE"

mkimage "$T/disk.img" 16M
sim_ok --daemon-env "LD_PRELOAD=$preload" \
	--daemon-env "XVB_PROBE_LOG=$T/probe.log" \
	--disk "$T/disk.img" -c 'random-io 100 3'
cat "$T/probe.log" >>"$LOG" 2>/dev/null
[ -s "$T/probe.log" ] || fail "the daemon never restricted its handles"

for what in "dmod set_irq_level" "fmem map" "evtchn bind_interdomain"; do
	line=$(grep "^restricted $what " "$T/probe.log") ||
		fail "no restricted attempt for $what"
	case "$line" in
	*"rc=-1 errno=EPERM" | *"rc=-1 errno=EACCES") ;;
	*) fail "restricted handle not refused: $line" ;;
	esac
	fresh=$(grep "^fresh $what " "$T/probe.log") ||
		fail "no fresh attempt for $what"
	case "$fresh" in
	*"errno=EPERM" | *"errno=EACCES")
		fail "a fresh handle was refused too, the probe shows nothing: $fresh" ;;
	esac
done
pass "restricted handles refuse another domain (dmod, fmem, evtchn)"
