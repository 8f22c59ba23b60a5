#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# The --watch supervisor cannot fork a guest's backend process (EAGAIN, as
# at the process limit): it starts none (no retry loop), closes the guest's
# disk at once with the reason in hotplug-error and state 6, so that libxl
# has a reason and the guest's destroy does not wait 10 s for state 6, and
# lives on: the next guest is served.
. "$(dirname "$0")/lib.sh"

mkimage "$T/a.img" 16M
mkimage "$T/b.img" 16M
mkdata "$T/d" 65536
fsim_ok "eagain:fork:count=1" --mode watch \
	-c "xl-create name=a disk=$T/a.img nowait" \
	-c "expect-state xvda 6 3000" \
	-c "xs-read {be}/51712/hotplug-error" \
	-c "xl-destroy a" \
	-c "xl-create name=b disk=$T/b.img" \
	-c "write 1048576 $T/d" -c "verify 1048576 $T/d" -c "xl-destroy b"
grep -q '^fault eagain fork' "$FLOG" || fail "no fork was refused"
err_has 'domain 1: cannot start a backend: fork: Resource temporarily unavailable; 1 virtio disk\(s\) closed \(state 6\)'
out_has 'hotplug-error = "no backend process: fork: Resource temporarily unavailable"'
grep -q 'xl-destroy: .*after 0\.[0-9]* s' "$T/out" ||
	fail "destroy waited: $(grep -m1 'xl-destroy' "$T/out")"
[ "$(grep -Ec 'domain 1: started backend process' "$T/err")" -eq 0 ] ||
	fail "a backend process was started for guest a after all"
err_has 'domain 2: started backend process'
host_extract "$T/b.img" 1048576 65536 "$T/h"
same "$T/d" "$T/h" "guest b's write"
pass "fork refused: the guest's disk closed with the reason, the next guest served"
