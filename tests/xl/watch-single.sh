#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# One supervisor per host (docs/admin-guide.md 6 and 9.2): a second --watch,
# started by hand without the service's pidfile while the service runs,
# exits 1 with one line naming the first, which holds
# /local/domain/0/xen-virtio-blk in xenstore; the guest created then is
# served. A claim counts while the process it names runs with the start
# time it gives (here this shell's): the same pid with another start time
# is a process that is gone and its pid reused, and the claim is taken
# over, then removed when its new holder stops.
. "$(dirname "$0")/lib.sh"

C=/local/domain/0/xen-virtio-blk
me=$$
start=$(cut -d' ' -f22 /proc/$me/stat)
mkimage "$T/a.img" 16M
mkdata "$T/d" 65536
xsim_ok watch \
	-c 'watch-again 1' \
	-c "xl-create name=vm disk=$T/a.img" -c "write 0 $T/d" -c "verify 0 $T/d" \
	-c "xs-read $C" \
	-c "xs-write $C $me $start" -c 'watch-again 1' \
	-c "xs-write $C $me 1" -c 'watch-again runs 800' \
	-c "xs-read $C"
pid=$(sed -n "s|^$C = \"\\([0-9]*\\) [0-9]*\"\$|\\1|p" "$T/out" | head -n1)
[ -n "$pid" ] || fail "no claim in xenstore while the supervisor ran"
refused() {
	grep -c "^watch-again: xen-virtio-blk: error: already running (pid $1 holds xenstore $C)\$" "$T/out"
}
[ "$(refused "$pid")" -eq 1 ] || fail "the second supervisor was not refused naming pid $pid"
first=$(sed -n '/^watch-again: exit status/q;/^watch-again: /p' "$T/out")
[ "$(echo "$first" | wc -l)" -eq 1 ] ||
	fail "the refused supervisor said more than one line: $first"
[ "$(refused "$me")" -eq 1 ] || fail "a claim naming a live process ($me) was not honoured"
[ "$(grep -c '^watch-again: exit status 1$' "$T/out")" -eq 2 ] ||
	fail "not two refusals with exit status 1"
out_has "^watch-again: xen-virtio-blk: $C named pid $me, which is gone: taken over\$"
out_has '^watch-again: exit status 0 after SIGTERM$'
out_has "^$C: absent\$"
pass "a second supervisor is refused while one runs; a claim whose process is gone is taken over"
