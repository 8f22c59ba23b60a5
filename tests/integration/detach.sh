#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Without --foreground the daemon detaches as a service should: the command
# returns 0 once the daemon serves, the daemon keeps none of its starter's
# files open (here fd 7), writes its pidfile, serves the guest, and on
# SIGTERM drains, exits and removes the pidfile. A clean start prints
# nothing; a second instance with the same pidfile is refused in one line
# (exit 1) while the first runs. Then the same with stdin, stdout and
# stderr closed by the starter: the daemon fills 0-2 with /dev/null before
# it opens anything, so its pipes, pidfile and Xen handles do not land
# there (the start would hang, the handles become /dev/null). sim-guest
# starts a small wrapper as "the daemon"; the wrapper starts the real one
# detached, and passes SIGTERM on.
. "$(dirname "$0")/lib.sh"

# mkwrap REDIRECTIONS [PIDFILE]: the wrapper, starting the daemon in $T
# with them and --pidfile PIDFILE (default $T/d.pid, the same file).
mkwrap() {
	cat >"$T/wrap" <<EOF2
#!/bin/sh
args=""
for a in "\$@"; do
	[ "\$a" = --foreground ] || args="\$args \$a"
done
cd "$T" || exit 1
timeout 20 "$DAEMON" \$args --pidfile "${2:-$T/d.pid}" $1
echo "\$?" >"$T/rc"
pid=\$(cat "$T/d.pid" 2>/dev/null)
[ -n "\$pid" ] || exit 1
ls -l "/proc/\$pid/fd" >"$T/fds" 2>&1
# A second instance with the same pidfile is refused before it sets up.
"$DAEMON" \$args --pidfile "${2:-$T/d.pid}" >"$T/out2" 2>"$T/derr2" </dev/null
echo "\$?" >"$T/rc2"
echo "\$pid" >"$T/pid1"
for fd in 0 1 2; do
	echo "\$fd \$(readlink "/proc/\$pid/fd/\$fd")"
done >"$T/stdio"
trap 'kill -TERM \$pid' TERM
while kill -0 "\$pid" 2>/dev/null; do
	sleep 0.1
done
exit 0
EOF2
	chmod +x "$T/wrap"
}

# detached_ok: the checks common to both starts.
detached_ok() {
	out_has '^random-io: .*verified'
	[ "$(cat "$T/rc")" = 0 ] ||
		fail "the detaching command exited $(cat "$T/rc") (124: it hung)"
	[ "$(cat "$T/rc2")" = 1 ] ||
		fail "a second instance exited $(cat "$T/rc2"), expected 1"
	[ "$(wc -l <"$T/derr2")" -eq 1 ] && [ ! -s "$T/out2" ] ||
		fail "a second instance said more than one line: $(cat "$T/out2" "$T/derr2")"
	grep -q "already running (pid $(cat "$T/pid1") " "$T/derr2" ||
		fail "a second instance did not name the first: $(cat "$T/derr2")"
	for fd in 0 1 2; do
		grep -qx "$fd /dev/null" "$T/stdio" ||
			fail "fd $fd of the detached daemon is not /dev/null: $(grep "^$fd " "$T/stdio")"
	done
	[ -e "$T/d.pid" ] && fail "pidfile left behind after exit"
}

mkimage "$T/disk.img" 16M
mkwrap "7>\"$T/starter-file\" <\"$T/starter-file\" 2>\"$T/derr\""
sim_ok --daemon "$T/wrap" --disk "$T/disk.img" -c 'random-io 100 7'
detached_ok
# Info lines go to syslog only: the starter's terminal hears of problems.
[ ! -s "$T/derr" ] || fail "a clean detached start printed: $(head -n1 "$T/derr")"
[ -s "$T/fds" ] || fail "no fd list of the detached daemon"
if grep -q ' 7 -> .*starter-file' "$T/fds"; then
	fail "the detached daemon kept its starter's fd 7 open"
fi

mkwrap "<&- >&- 2>&-"
sim_ok --daemon "$T/wrap" --disk "$T/disk.img" -c 'random-io 100 8'
detached_ok

# A relative pidfile is the one in the starter's directory, also for its
# removal after the daemon has moved to /.
mkwrap "2>\"$T/derr\"" d.pid
sim_ok --daemon "$T/wrap" --disk "$T/disk.img" -c 'random-io 100 9'
detached_ok
pass "detached: exit 0 once serving, quiet, no inherited fds, pidfile written, held against a second instance and removed; the same with 0-2 closed, and with a relative pidfile"
