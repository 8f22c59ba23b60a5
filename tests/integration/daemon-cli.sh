#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# The daemon's command line, run directly: bad arguments and unusable images
# give one line on stderr and exit 2; --help and --version exit 0.
. "$(dirname "$0")/lib.sh"

mkimage "$T/disk.img" 1M
mkdir "$T/dir"
: >"$T/empty.img"

# bad ARGS...: exit $WANT (2), exactly one line on stderr, nothing on
# stdout ($AS: a command to run the daemon under, e.g. setpriv).
AS=
WANT=2
bad() {
	$AS "$DAEMON" "$@" >"$T/o" 2>"$T/e" </dev/null
	rc=$?
	{
		echo "\$ xen-virtio-blk $*"
		cat "$T/o" "$T/e"
		echo "[exit $rc]"
	} >>"$LOG"
	[ $rc -eq $WANT ] || fail "'$*' exited $rc, expected $WANT"
	[ "$(wc -l <"$T/e")" -eq 1 ] ||
		fail "'$*' printed $(wc -l <"$T/e") lines on stderr, expected 1"
	[ ! -s "$T/o" ] || fail "'$*' printed on stdout"
}

bad
bad --watch --domid 1
bad --disk "$T/disk.img"
bad --domid x --disk "$T/disk.img"
bad --domid 1 --disk "$T/disk.img" --frobnicate
bad --domid 1 --disk "$T/disk.img" extra
bad --domid 1 --disk "$T/disk.img,bogus"
bad --domid 1 --disk "$T/disk.img,serial=123456789012345678901"
bad --domid 1 --disk "$T/disk.img" --disk "$T/disk.img,base=0x2000000"
# An argument with a newline in it is still quoted on one line.
nl='
'
bad --domid 1 --disk "$T/disk.img" --log-level "x${nl}y"
bad --domid "1${nl}2" --disk "$T/disk.img"
bad --domid 1 --disk "$T/disk.img" --foreground --runas "no${nl}body"
bad --domid 1 --foreground --disk "$T/missing.img"
bad --domid 1 --foreground --disk "$T/dir"
bad --domid 1 --foreground --disk "$T/empty.img"
# An image another process holds a lock on, or one given twice.
AS="flock -x $T/disk.img"
bad --domid 1 --foreground --disk "$T/disk.img"
bad --domid 1 --foreground --disk "$T/disk.img,ro"
AS="flock -s $T/disk.img"
bad --domid 1 --foreground --disk "$T/disk.img"
AS=
bad --domid 1 --foreground --disk "$T/disk.img" \
	--disk "$T/disk.img,base=0x2000200,irq=34"
grep -q 'already in use' "$T/e" || fail "an image given twice: $(cat "$T/e")"
# A pidfile that cannot be created: said before anything is set up, also
# by a daemon about to detach.
bad --domid 1 --foreground --disk "$T/disk.img" --pidfile "$T/none/x.pid"
bad --domid 1 --disk "$T/disk.img" --pidfile "$T/none/x.pid"
# A relative one that cannot be made absolute (cwd + path too long).
long=$(printf '%4090s' x | tr ' ' p)
bad --domid 1 --foreground --disk "$T/disk.img" --pidfile "$long"
grep -q "^xen-virtio-blk: --pidfile 'p*': cannot make it absolute\$" "$T/e" ||
	fail "a pidfile too long to make absolute: $(cut -c1-80 "$T/e")"
# ... or started from a directory that no longer exists.
printf '#!/bin/sh\nmkdir "%s" && cd "%s" && rmdir "%s" && exec "$@"\n' \
	"$T/gone" "$T/gone" "$T/gone" >"$T/in-gone-dir"
chmod +x "$T/in-gone-dir"
AS="$T/in-gone-dir"
bad --domid 1 --foreground --disk "$T/disk.img" --pidfile p.pid
grep -qx "xen-virtio-blk: --pidfile 'p.pid': cannot make it absolute" "$T/e" ||
	fail "a relative pidfile in a removed directory: $(cat "$T/e")"
AS=
# A pidfile another instance holds before it has written its pid (both
# starting at once): refused as running, exit 1, the file left to it.
AS="flock -x $T/p.pid"
WANT=1
bad --domid 1 --foreground --disk "$T/disk.img" --pidfile "$T/p.pid"
grep -qx "xen-virtio-blk: already running (--pidfile '$T/p.pid' is locked)" "$T/e" ||
	fail "a locked empty pidfile: $(cat "$T/e")"
[ -e "$T/p.pid" ] || fail "a refused start removed the pidfile of the other"
rm -f "$T/p.pid"
# ... but a locked file that holds no pid (an image a running backend
# holds, named by mistake) is no other instance: a bad argument.
AS="flock -x $T/disk.img"
WANT=2
bad --domid 1 --foreground --disk "$T/missing.img" --pidfile "$T/disk.img"
grep -qx "xen-virtio-blk: --pidfile '$T/disk.img': holds something other than a pid; refusing to overwrite it" "$T/e" ||
	fail "a locked image as --pidfile: $(cat "$T/e")"
AS=
WANT=2
# A start that fails after taking its pidfile leaves none behind.
bad --domid 1 --foreground --disk "$T/missing.img" --pidfile "$T/p.pid"
[ ! -e "$T/p.pid" ] || fail "a failed start left its pidfile"
bad --domid 1 --disk "$T/missing.img" --pidfile "$T/p.pid"
[ ! -e "$T/p.pid" ] || fail "a failed detached start left its pidfile"
# A stale pidfile (a pid, or empty) is taken over, and removed again.
echo 4194303 >"$T/p.pid"
bad --domid 1 --foreground --disk "$T/missing.img" --pidfile "$T/p.pid"
[ ! -e "$T/p.pid" ] || fail "a failed start left a stale pidfile"
# A --pidfile naming a file that holds anything but a pid (a mistyped
# path: the image itself, a config) or no regular file is refused before
# anything is written to it or removed, on a start that would succeed and
# on one that would fail anyway.
cp "$T/disk.img" "$T/keep.img"
printf 'precious\n' >"$T/notes"
printf '123\n456\n' >"$T/twopids"
for f in "$T/disk.img" "$T/notes" "$T/twopids"; do
	cp "$f" "$T/before"
	for d in "$T/keep.img" "$T/missing.img"; do
		bad --domid 1 --foreground --disk "$d" --pidfile "$f"
		grep -qx "xen-virtio-blk: --pidfile '$f': holds something other than a pid; refusing to overwrite it" "$T/e" ||
			fail "--pidfile $f: $(cat "$T/e")"
		cmp -s "$f" "$T/before" || fail "--pidfile $f: the file changed"
	done
done
bad --domid 1 --foreground --disk "$T/keep.img" --pidfile /dev/null
grep -q "'/dev/null': not a regular file" "$T/e" || fail "--pidfile /dev/null: $(cat "$T/e")"
[ -c /dev/null ] || fail "--pidfile /dev/null: /dev/null is gone"
# In the foreground with --syslog, a refusal still reaches the terminal.
bad --domid 1 --foreground --syslog --disk "$T/keep.img" --pidfile "$T/none/x.pid"
# A quoted path with an escape sequence reaches the terminal without it.
esc=$(printf '\033')
bad --domid 1 --foreground --disk "$T/a${esc}[2J"
! grep -q "$esc" "$T/e" || fail "an escape sequence in --disk reached stderr"
grep -q "a?\[2J" "$T/e" || fail "--disk with an escape: $(cat "$T/e")"
bad --domid 1 --foreground --disk "$T/keep.img" --pidfile "$T/none/a${esc}[2J"
! grep -q "$esc" "$T/e" || fail "an escape sequence in --pidfile reached stderr"
# ... nor a C1 control (here CSI, U+009B in UTF-8), through a start error
# and through the log.
csi=$(printf '\302\233')
bad --domid 1 --foreground --disk "$T/keep.img" --pidfile "$T/none/a${csi}2J"
! grep -q "$csi" "$T/e" || fail "a C1 control in --pidfile reached stderr"
bad --domid 1 --foreground --disk "$T/a${csi}2J"
! grep -q "$csi" "$T/e" || fail "a C1 control in --disk reached stderr"
grep -q "a??2J" "$T/e" || fail "--disk with a C1 control: $(cat "$T/e")"
# No xenstore to connect to (xenstored not running: here the simulator's
# libraries with no hypervisor behind them) is a runtime failure, exit 1,
# also for a service about to detach, which leaves no pidfile behind.
AS="env XEN_SIM_SOCKET=$T/none LD_LIBRARY_PATH=$BUILD/sim-lib"
WANT=1
for args in "--domid 1 --foreground" "--watch --foreground" \
	"--watch --pidfile $T/p.pid"; do
	# shellcheck disable=SC2086 # words on purpose
	bad $args
	grep -Eq '^xen-virtio-blk(\[dom1\])?: error: cannot connect to xenstore: ' "$T/e" ||
		fail "'$args' without xenstore: $(cat "$T/e")"
done
[ ! -e "$T/p.pid" ] || fail "a start without xenstore left its pidfile"
AS=
WANT=2
# An image we may not write (for rw) or not read at all: root may, so as
# root run those as nobody.
chmod 0444 "$T/disk.img"
if [ "$(id -u)" -ne 0 ]; then
	bad --domid 1 --foreground --disk "$T/disk.img"
elif command -v setpriv >/dev/null; then
	chmod 0755 "$T"
	AS="setpriv --reuid=nobody --regid=nogroup --clear-groups"
	bad --domid 1 --foreground --disk "$T/disk.img"
	chmod 0600 "$T/disk.img"
	bad --domid 1 --foreground --disk "$T/disk.img,ro"
	AS=
	chmod 0700 "$T"
else
	echo "NOTE daemon-cli: root without setpriv: unreadable images not tried" >&2
fi

"$DAEMON" --help >"$T/o" 2>"$T/e" || fail "--help did not exit 0"
grep -q -- '--disk' "$T/o" || fail "--help does not mention --disk"
"$DAEMON" --version >"$T/o" 2>"$T/e" || fail "--version did not exit 0"
grep -Eq '[0-9]+\.[0-9]+\.[0-9]+' "$T/o" || fail "--version shows no version"
# Output that cannot be written is not a success.
if [ -w /dev/full ]; then
	for a in --help --version; do
		"$DAEMON" $a >/dev/full 2>/dev/null
		rc=$?
		[ $rc -eq 1 ] || fail "$a into /dev/full exited $rc, not 1"
	done
else
	echo "NOTE daemon-cli: no writable /dev/full: output errors not tried" >&2
fi
pass "bad arguments and images: one line, exit 2; --help/--version exit 0"
