#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# The systemd unit as `make install` writes it parses without a complaint
# from systemd-analyze (an unknown or misspelt setting is only a warning
# to systemd, which then ignores it: KillMode and Restart included).
. "$(dirname "$0")/lib.sh"

UNIT="$(dirname "$0")/../../scripts/systemd/xen-virtio-blk.service"
command -v systemd-analyze >/dev/null || skip "no systemd-analyze"
sed "s|/usr/sbin/xen-virtio-blk|$(cd "$(dirname "$DAEMON")" && pwd)/$(basename "$DAEMON")|" \
	"$UNIT" >"$T/xen-virtio-blk.service" || fail "cannot copy the unit"
systemd-analyze verify --man=no "$T/xen-virtio-blk.service" >"$T/o" 2>&1 ||
	fail "systemd-analyze verify failed: $(head -n1 "$T/o")"
[ ! -s "$T/o" ] || fail "systemd-analyze: $(head -n1 "$T/o")"
# Outside dom0 (a domU with xenfs) the unit is skipped, not failed: the
# control_d check is a condition, and no step before the daemon's start
# can fail there.
grep -q '^ExecCondition=/bin/grep -q control_d /proc/xen/capabilities$' \
	"$UNIT" || fail "the dom0 check is not an ExecCondition"
! grep -q '^ExecStart.*control_d' "$UNIT" ||
	fail "the dom0 check is also a step: $(grep -m1 '^ExecStart.*control_d' "$UNIT")"
pass "the systemd unit parses cleanly; outside dom0 it is skipped"
