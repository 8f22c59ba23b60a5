#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# The SysV init script's exit statuses, as LSB wants them: a daemon that
# fails to start makes start and restart fail (status 1), one that starts
# gives start 0 and status 0; reload with no daemon running is 7. Run on a copy whose daemon is a shell stub,
# since no Xen is here to start the real one (so stop, which matches the
# daemon's executable, is not exercised: the stub's process is a sleep).
. "$(dirname "$0")/lib.sh"

SCRIPT="$(dirname "$0")/../../scripts/init.d/xen-virtio-blk"
[ -r /lib/lsb/init-functions ] || skip "no /lib/lsb/init-functions"
command -v start-stop-daemon >/dev/null || skip "no start-stop-daemon"

# stub EXIT: a "daemon" that fails with EXIT, or (EXIT = run) detaches,
# writes the pidfile it is given and sleeps.
stub() {
	cat >"$T/daemon" <<EOF2
#!/bin/sh
[ "$1" = run ] || exit $1
pidfile=
while [ \$# -gt 0 ]; do
	[ "\$1" = --pidfile ] && pidfile=\$2
	shift
done
sleep 60 &
echo \$! >"\$pidfile"
exit 0
EOF2
	chmod +x "$T/daemon"
}
sed -e "s|^DAEMON=.*|DAEMON=$T/daemon|" \
	-e "s|^PIDFILE=.*|PIDFILE=$T/pid|" \
	-e "s|/etc/default/\$NAME|$T/no-default|g" \
	-e 's|grep -qs control_d /proc/xen/capabilities|true|' \
	-e 's|mkdir -p /run/xen|:|' \
	"$SCRIPT" >"$T/init"

# init ACTION: run the copy, its output in the log; prints its status.
init() {
	sh "$T/init" "$1" >>"$LOG" 2>&1
	echo $?
}

stub 2
[ "$(init start)" = 1 ] || fail "start with a daemon exiting 2 did not fail"
[ "$(init restart)" = 1 ] || fail "restart with a daemon exiting 2 did not fail"
[ "$(init status)" = 3 ] || fail "status of a daemon that never started is not 3"
[ "$(init reload)" = 7 ] || fail "reload of a daemon that is not running is not 7"
stub run
[ "$(init start)" = 0 ] || fail "start of a working daemon did not return 0"
[ "$(init status)" = 0 ] || fail "status of a running daemon is not 0"
kill "$(cat "$T/pid")" 2>/dev/null
# A stop that finds nothing to stop leaves the pidfile: an empty one is
# that of a daemon still setting up, which writes its pid once ready.
: >"$T/pid"
[ "$(init stop)" = 0 ] || fail "stop with nothing running did not return 0"
[ -e "$T/pid" ] || fail "stop removed the pidfile of a daemon setting up"
pass "start/restart fail when the daemon does, start/status succeed with it; reload of none is 7; stop of none keeps the pidfile"
