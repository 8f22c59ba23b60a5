#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# `make install` with its directories moved (a distribution's layout):
# the init script and the systemd unit start the daemon where it went and
# read the settings file where it went; a settings file already there (the
# administrator's) is kept on the next install.
. "$(dirname "$0")/lib.sh"

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
command -v make >/dev/null || skip "no make"
inst() {
	# -o: the daemon as built, never remade here.
	make -s -C "$ROOT" -o "$DAEMON" install BUILD="$BUILD" \
		DESTDIR="$T/root" SBINDIR=/opt/xvb/sbin \
		DEFAULTDIR=/etc/sysconfig INITDIR=/etc/rc.d/init.d \
		SYSTEMDUNITDIR=/usr/lib/systemd/system >>"$LOG" 2>&1 ||
		fail "make install failed: $(tail -n1 "$LOG")"
}
inst
INIT="$T/root/etc/rc.d/init.d/xen-virtio-blk"
UNIT="$T/root/usr/lib/systemd/system/xen-virtio-blk.service"
SETTINGS="$T/root/etc/sysconfig/xen-virtio-blk"
for f in "$INIT" "$UNIT" "$SETTINGS" "$T/root/opt/xvb/sbin/xen-virtio-blk"; do
	[ -f "$f" ] || fail "not installed: ${f#"$T/root"}"
done
cmp -s "$DAEMON" "$T/root/opt/xvb/sbin/xen-virtio-blk" ||
	fail "the installed daemon is not the one built"
! grep -n '/etc/default\|/usr/sbin/xen-virtio-blk' "$INIT" "$UNIT" >"$T/left" ||
	fail "a default path left: $(head -n1 "$T/left")"
grep -q '^DAEMON=/opt/xvb/sbin/xen-virtio-blk$' "$INIT" ||
	fail "the init script does not start the installed daemon"
grep -q '\. /etc/sysconfig/\$NAME' "$INIT" ||
	fail "the init script does not read /etc/sysconfig"
grep -q '^ExecStart=/opt/xvb/sbin/xen-virtio-blk ' "$UNIT" ||
	fail "the unit does not start the installed daemon"
grep -q '^EnvironmentFile=-/etc/sysconfig/xen-virtio-blk$' "$UNIT" ||
	fail "the unit does not read /etc/sysconfig"
# The administrator's settings survive a reinstall.
echo 'XEN_VIRTIO_BLK_OPTS="--log-level debug"' >"$SETTINGS"
inst
grep -q 'debug' "$SETTINGS" || fail "a reinstall replaced the settings"
pass "installed paths reach the init script and the unit; settings kept"
