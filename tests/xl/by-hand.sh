#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# A guest's backend process run by hand beside the service, as the
# administrator's guide suggests for troubleshooting (9.2, 10), on a domid
# it cannot serve: one error line and no write to the guest's devices. A
# domain that does not exist or is dying (a zombie whose backend process
# is stopped) is a runtime failure, exit 1; a domain without virtio disks, or one another
# backend process serves or is setting up, is a refused configuration,
# exit 2. The guest the service serves is not disturbed (one-backend.sh:
# also while it is being set up).
. "$(dirname "$0")/lib.sh"

mkimage "$T/a.img" 16M
mkdata "$T/d" 65536
be=/local/domain/0/backend/virtio_disk/1/51712

# by_hand STATUS LINE: the session's run-daemon printed exactly LINE (its
# log lines but the exit status), with "xen-virtio-blk[domN]: " before it.
by_hand() {
	out_has "^run-daemon: exit status $1\$"
	got=$(grep '^run-daemon: ' "$T/out" | grep -v '^run-daemon: exit status')
	[ "$got" = "run-daemon: $2" ] ||
		fail "by hand: '$got', expected '$2'"
}

xsim_ok watch -c "run-daemon 1 --domid 7 --foreground"
by_hand 1 'xen-virtio-blk[dom7]: error: domain 7 does not exist'

xsim_ok watch -c "run-daemon 2 --domid 0 --foreground"
by_hand 2 'xen-virtio-blk[dom0]: error: no virtio disks for domain 0 in /local/domain/0/backend/virtio_disk/0'

# Detached, as the service would start it: the error still reaches the
# terminal, and the status is the one the detached process exits with.
xsim_ok watch -c "run-daemon 2 --domid 0"
by_hand 2 'xen-virtio-blk[dom0]: error: no virtio disks for domain 0 in /local/domain/0/backend/virtio_disk/0'

xsim_ok watch \
	-c "xl-create disk=$T/a.img" \
	-c "write 0 $T/d" \
	-c "expect-state xvda 4" \
	-c "run-daemon 2 --domid 1 --foreground" \
	-c "expect-node $be/hotplug-error - 0" \
	-c "expect-state xvda 4 0" \
	-c "verify 0 $T/d" \
	-c "expect-daemon-alive"
claim_line='^run-daemon: xen-virtio-blk\[dom1\]: error: domain 1 is already served by pid [0-9]+ \(xenstore /local/domain/0/xen-virtio-blk-guests/1\)$'
out_has "$claim_line"
out_has '^run-daemon: exit status 2$'
[ "$(grep -c '^run-daemon: ' "$T/out")" -eq 2 ] ||
	fail "the by-hand run on a served guest said more than expected"

# A zombie: the domain died while its backend process, stopped, still maps
# its pages. Once let go on, the process tears down and the domain goes.
xsim_ok watch \
	-c "xl-create disk=$T/a.img" \
	-c "write 0 $T/d" \
	-c "kill-child STOP" \
	-c "xl-kill" \
	-c "expect-dom dying" \
	-c "run-daemon 1 --domid 1 --foreground" \
	-c "kill-child CONT" \
	-c "expect-daemon-exit 0" \
	-c "expect-dom gone"
by_hand 1 'xen-virtio-blk[dom1]: error: domain 1 is dying'
pass "by hand on no domain, a dying one, one without virtio disks, a served one: one error line, exit 1 or 2"
