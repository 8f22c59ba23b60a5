#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# One supervisor per host (docs/admin-guide.md 4): a second --watch,
# started by hand without the service's pidfile while the service runs,
# exits 1 with one line naming the first (it holds
# /local/domain/0/xen-virtio-blk in xenstore); the guest created then gets
# exactly one backend process and its disk works. A claim left by a
# supervisor that was killed names a process that is gone: the next one
# takes it over, and removes it when it stops.
. "$(dirname "$0")/lib.sh"

mkimage "$T/a.img" 16M
mkdata "$T/d" 65536
xsim_ok watch \
	-c 'watch-again 1' \
	-c "xl-create name=vm disk=$T/a.img" -c "write 0 $T/d" -c "verify 0 $T/d" \
	-c 'xs-read /local/domain/0/xen-virtio-blk' \
	-c 'xs-write /local/domain/0/xen-virtio-blk 2147483647 12345' \
	-c 'watch-again runs 800' \
	-c 'xs-read /local/domain/0/xen-virtio-blk'
pid=$(sed -n 's/^\/local\/domain\/0\/xen-virtio-blk = "\([0-9]*\) [0-9]*"$/\1/p' "$T/out" | head -n1)
[ -n "$pid" ] || fail "no claim in xenstore while the supervisor ran"
out_has "^watch-again: xen-virtio-blk: error: already running \\(pid $pid holds xenstore /local/domain/0/xen-virtio-blk\\)\$"
first=$(sed -n '/^watch-again: exit status/q;/^watch-again: /p' "$T/out")
[ "$(echo "$first" | wc -l)" -eq 1 ] ||
	fail "the refused supervisor said more than one line: $first"
out_has '^watch-again: exit status 1$'
[ "$(err_count 'domain 1: started backend process')" -eq 1 ] ||
	fail "not exactly one backend process for the guest"
out_has '^watch-again: .*/local/domain/0/xen-virtio-blk named pid 2147483647, which is gone: taken over$'
out_has '^watch-again: exit status 0 after SIGTERM$'
out_has '^/local/domain/0/xen-virtio-blk: absent$'
pass "a second supervisor is refused while one runs; a dead one's claim is taken over"
