#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# The close conditions libxl never writes alone, from an administrator's
# xenstore-write or xenstore-rm (libxl writes online 0 together with state
# 5, which device-removed.sh and destroy.sh cover): "online" set to 0 on a
# served disk, or its "state" node removed. Either closes the guest's
# backend process as a destroy does: every disk of the guest that still
# has a state node gets state 6, none is created where it was removed,
# everything is unmapped, exit 0.
. "$(dirname "$0")/lib.sh"

mkimage "$T/a.img" 16M
mkimage "$T/b.img" 16M
mkdata "$T/d" 65536

# close_by CMD REASON CHECK...: a guest with two disks in use, then CMD:
# its backend process logs REASON, exits 0 with nothing mapped, and the
# CHECKs (sim-guest commands) hold then.
close_by() {
	cb_cmd=$1
	cb_why=$2
	shift 2
	for cb_check in "$@"; do
		set -- "$@" -c "$cb_check"
		shift
	done
	xsim_ok watch -c "xl-create disk=$T/a.img disk=$T/b.img" \
		-c "write 0 $T/d" -c "device 1" -c "write 0 $T/d" \
		-c "$cb_cmd" -c "expect-daemon-exit 0" -c "pages-mapped 0" "$@"
	err_has "$cb_why: finishing in-flight requests" "$cb_cmd"
}

close_by "xs-write {be}/51728/online 0" \
	'virtio disk 51728: libxl set online 0' \
	"expect-state xvda 6 0" "expect-state xvdb 6 0"
close_by "xs-rm {be}/51712/state" \
	'virtio disk 51712: state node removed' \
	"expect-state xvdb 6 0" "expect-node {be}/51712/state - 0" \
	"expect-node {be}/51712/params $T/a.img 0"
pass "online 0 alone, or a state node removed: the guest's disks closed (state 6, none created), exit 0"
