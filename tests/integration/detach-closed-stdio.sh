#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Started detached with stdin, stdout and stderr closed (as some starters
# leave them), the daemon fills 0-2 with /dev/null before it opens
# anything: its pipes, pidfile and Xen handles do not land there, so the
# starter returns 0 once the daemon serves, the guest's writes reach the
# image and a second instance is still refused by the pidfile's lock.
. "$(dirname "$0")/lib.sh"

cat >"$T/wrap" <<EOF2
#!/bin/sh
args=""
for a in "\$@"; do
	[ "\$a" = --foreground ] || args="\$args \$a"
done
timeout 20 "$DAEMON" \$args --pidfile "$T/d.pid" <&- >&- 2>&-
echo "\$?" >"$T/rc"
pid=\$(cat "$T/d.pid" 2>/dev/null)
[ -n "\$pid" ] || exit 1
for fd in 0 1 2; do
	echo "\$fd \$(readlink "/proc/\$pid/fd/\$fd")"
done >"$T/stdio"
"$DAEMON" \$args --pidfile "$T/d.pid" >/dev/null 2>&1 </dev/null
echo "\$?" >"$T/rc2"
trap 'kill -TERM \$pid' TERM
while kill -0 "\$pid" 2>/dev/null; do
	sleep 0.1
done
exit 0
EOF2
chmod +x "$T/wrap"
mkimage "$T/disk.img" 16M
sim_ok --daemon "$T/wrap" --disk "$T/disk.img" -c 'random-io 100 7'
out_has '^random-io: .*verified'
[ "$(cat "$T/rc")" = 0 ] ||
	fail "the detaching command exited $(cat "$T/rc") (124: it hung)"
for fd in 0 1 2; do
	grep -qx "$fd /dev/null" "$T/stdio" ||
		fail "fd $fd of the detached daemon is not /dev/null: $(grep "^$fd " "$T/stdio")"
done
[ "$(cat "$T/rc2")" = 1 ] ||
	fail "a second instance exited $(cat "$T/rc2"), expected 1 (the pidfile's lock)"
pass "started with 0-2 closed: serves, /dev/null on 0-2, pidfile still locked"
