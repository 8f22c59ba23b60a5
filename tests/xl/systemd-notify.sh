#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Under systemd (Type=notify, docs/admin-guide.md): the daemon in the
# foreground says READY=1 once, on $NOTIFY_SOCKET, from its own pid, once
# it is set up (its pidfile, written after the set-up, already names it
# then); the supervisor's per-guest processes, which it starts later, do
# not speak for it. Also for --disk, with an abstract socket name; a
# NOTIFY_SOCKET that names no socket costs a warning, not the start.
. "$(dirname "$0")/lib.sh"

LISTEN="$BUILD/notify-listen"
[ -x "$LISTEN" ] || fail "$LISTEN is not built"
mkimage "$T/a.img" 16M
mkdata "$T/d" 65536

# listen SOCKET: systemd's end, in the background, until stop_listening;
# each message with what $T/p.pid held when it came.
listen() {
	rm -f "$T/p.pid"
	"$LISTEN" "$1" 120 "$T/p.pid" >"$T/heard" 2>>"$LOG" &
	lpid=$!
	i=0
	until grep -q '^ready$' "$T/heard"; do
		i=$((i + 1))
		[ $i -lt 100 ] || fail "notify-listen did not start"
		sleep 0.05
	done
}
stop_listening() {
	kill "$lpid" 2>/dev/null
	wait "$lpid" 2>/dev/null
	sed '1d' "$T/heard" >"$T/msgs"
	cat "$T/msgs" >>"$LOG"
}

listen "$T/notify"
xsim_ok watch --daemon-env "NOTIFY_SOCKET=$T/notify" \
	--daemon-arg --pidfile="$T/p.pid" \
	-c "xl-create name=vm disk=$T/a.img" -c "write 0 $T/d" -c "verify 0 $T/d"
stop_listening
[ "$(wc -l <"$T/msgs")" -eq 1 ] ||
	fail "the supervisor and its backend said $(wc -l <"$T/msgs") things, not READY=1 once"
# READY=1 from the pid its pidfile names, so after the pidfile was written.
grep -Eq '^pid=([0-9]+) READY=1 file=\1$' "$T/msgs" || fail "heard: $(cat "$T/msgs")"
child=$(sed -n 's/.*started backend process \([0-9]*\)$/\1/p' "$T/err" | head -n1)
[ -n "$child" ] || fail "no backend process was started"
! grep -q "^pid=$child " "$T/msgs" || fail "the backend process spoke for the supervisor"

listen "@xvb-notify-$$"
sim_ok --daemon-env "NOTIFY_SOCKET=@xvb-notify-$$" --disk "$T/a.img" \
	--daemon-arg --pidfile="$T/p.pid" -c "verify 0 $T/d"
stop_listening
[ "$(wc -l <"$T/msgs")" -eq 1 ] && grep -Eq '^pid=([0-9]+) READY=1 file=\1$' "$T/msgs" ||
	fail "--disk, abstract socket: heard $(cat "$T/msgs")"

sim_ok --daemon-env NOTIFY_SOCKET=relative/path --disk "$T/a.img" \
	-c "verify 0 $T/d"
grep -q "warning: NOTIFY_SOCKET 'relative/path': not an absolute path or @name" "$T/err" ||
	fail "a bad NOTIFY_SOCKET was not reported"
pass "READY=1 once, from the daemon itself; its backend processes keep quiet"
