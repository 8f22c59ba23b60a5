#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Least privilege: with --runas the daemon sets up as root, then serves the
# guest as an unprivileged user (and cannot become root again); its pidfile
# does not outlive it with a stale pid; a user that does not exist is a
# configuration error (one line, exit 2).
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || skip "needs root to drop it"
mkimage "$T/disk.img" 16M
sim_ok --daemon-arg --runas --daemon-arg nobody --disk "$T/disk.img" \
	-c 'random-io 200 7' -c 'expect-daemon-user nobody' \
	-c 'random-io 50 8'
grep -q 'running as nobody' "$T/err" ||
	fail "the daemon did not report dropping root"

# The pidfile is written as root in root's directory: once the daemon is
# nobody it cannot unlink it at exit, and must not leave its pid there for
# a later `kill $(cat pidfile)` to hit whatever process gets that pid.
mkdir -m 0755 "$T/run"
sim_ok --daemon-arg --runas --daemon-arg nobody \
	--daemon-arg --pidfile --daemon-arg "$T/run/x.pid" \
	--disk "$T/disk.img" -c 'random-io 20 7'
# It was written (the file exists), and emptied rather than left naming
# a dead process.
[ -e "$T/run/x.pid" ] || fail "no pidfile was written"
if [ -s "$T/run/x.pid" ]; then
	fail "pidfile left behind with pid $(cat "$T/run/x.pid")"
fi

"$DAEMON" --domid 1 --disk "$T/disk.img" --runas no-such-user-xvb \
	--foreground >"$T/o" 2>"$T/e"
rc=$?
[ "$rc" -eq 2 ] || fail "--runas with an unknown user: exit $rc, want 2"
[ "$(wc -l <"$T/e")" -eq 1 ] || fail "--runas with an unknown user: not one line"
grep -q "no-such-user-xvb" "$T/e" || fail "the error does not name the user"
# Detached, the refusal goes through the log (to the terminal too): still
# one line, its control characters made harmless.
"$DAEMON" --domid 1 --disk "$T/disk.img" --runas "$(printf 'x\033[2Jy')" \
	>"$T/o" 2>"$T/e"
rc=$?
[ "$rc" -eq 2 ] || fail "--runas with an escape, detached: exit $rc, want 2"
[ "$(wc -l <"$T/e")" -eq 1 ] ||
	fail "--runas with an escape, detached: not one line"
if grep -q "$(printf '\033')" "$T/e"; then
	fail "--runas with an escape, detached: the escape reached the terminal"
fi
# As a supervisor starts each backend process (--foreground --syslog, its
# stderr on /dev/null): the refusal must reach syslog, or the process
# exits 2 with no reason anywhere.
preload="$BUILD/libsyslog.so"
asan_rt=$(ldd "$DAEMON" 2>/dev/null | awk '/libasan/ { print $3 }')
[ -n "$asan_rt" ] && preload="$asan_rt $preload"
LD_PRELOAD="$preload" XVB_SYSLOG_FILE="$T/syslog" "$DAEMON" --domid 1 \
	--disk "$T/disk.img" --runas no-such-user-xvb --foreground --syslog \
	>"$T/o" 2>"$T/e"
rc=$?
[ "$rc" -eq 2 ] || fail "--runas with an unknown user, --syslog: exit $rc, want 2"
[ "$(wc -l <"$T/e")" -eq 1 ] ||
	fail "--runas with an unknown user, --syslog: not one line on stderr"
grep -q "error: .*no-such-user-xvb" "$T/syslog" 2>/dev/null ||
	fail "--runas with an unknown user, --syslog: nothing in syslog"
pass "serves as nobody after set-up, no stale pidfile; an unknown user is refused"
