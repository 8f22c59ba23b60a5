# SPDX-License-Identifier: GPL-2.0-only
# Helpers for tests/integration/*.sh, sourced first thing:
#   . "$(dirname "$0")/lib.sh"
# Each test takes the build directory as $1 (build, build-asan), prints one
# line (PASS name / FAIL name: why) on stdout, the failing session's output
# on stderr, and exits 0 (pass) or 1 (fail).

set -u

TEST_NAME=$(basename "$0" .sh)
if [ $# -lt 1 ] || [ ! -d "$1" ]; then
	echo "FAIL $TEST_NAME: usage: $0 BUILD_DIR"
	exit 1
fi
BUILD=$(cd "$1" && pwd)
SIM="$BUILD/sim-guest"
DAEMON="$BUILD/xen-virtio-blk"
for f in "$SIM" "$DAEMON"; do
	if [ ! -x "$f" ]; then
		echo "FAIL $TEST_NAME: $f is not built"
		exit 1
	fi
done

T=$(mktemp -d "${TMPDIR:-/tmp}/xvb-$TEST_NAME.XXXXXX")
trap 'rm -rf "$T"' EXIT
LOG="$T/session.log"
: >"$LOG"

pass() {
	echo "PASS $TEST_NAME${1:+: $1}"
	exit 0
}

# skip WHY: the test cannot run here: one line, exit 77, which run-tests
# reports and counts as a skip, never as a pass.
skip() {
	echo "SKIP $TEST_NAME: $*"
	exit 77
}

# fail WHY: one line on stdout, the log of the sessions so far on stderr.
fail() {
	echo "FAIL $TEST_NAME: $*"
	if [ -s "$LOG" ]; then
		tail -n 60 "$LOG" >&2
	fi
	exit 1
}

# sim ARGS...: run sim-guest; its output is appended to $LOG and also left
# in $T/out (stdout only) for the caller to inspect. Returns its status.
# XVB_TEST_DAEMON_ARGS (words) go to every daemon: tests/run-tests runs the
# suites once more with --io-threads that way.
sim() {
	for a in ${XVB_TEST_DAEMON_ARGS:-}; do
		set -- --daemon-arg "$a" "$@"
	done
	echo "\$ sim-guest $*" >>"$LOG"
	"$SIM" "$@" >"$T/out" 2>"$T/err"
	sim_rc=$?
	cat "$T/out" "$T/err" >>"$LOG"
	echo "[exit $sim_rc]" >>"$LOG"
	return $sim_rc
}

# sim_ok ARGS...: the session must succeed.
sim_ok() {
	sim "$@" || fail "sim-guest failed: $(grep -m1 'failed\|sim-guest:' "$T/err" || tail -n1 "$T/err")"
}

# out_has REGEX: the last session's stdout has a matching line.
out_has() {
	grep -Eq "$1" "$T/out" || fail "no line matching '$1' in the output"
}

# err_has REGEX [WHAT]: the daemon's log (and sim-guest's stderr) of the
# last session has a matching line.
err_has() {
	grep -Eq "$1" "$T/err" || fail "${2:-log}: no line matching '$1'"
}

# direct_io_here: whether an image in $T takes O_DIRECT as it does under
# Xen. tmpfs (Linux >= 6.6) takes it but copies through the page cache, so
# O_DIRECT into the simulator's guest RAM works there, where Xen's foreign
# mappings give EFAULT (docs/xen-notes.md 1): the daemon's libaio path on
# tmpfs is not the one it takes on Xen, so tmpfs counts as no O_DIRECT.
direct_io_here() {
	[ "$(stat -f -c %T "$T")" != tmpfs ] &&
		dd if=/dev/zero of="$T/.direct" bs=4096 count=1 oflag=direct \
			status=none 2>/dev/null
	d_rc=$?
	rm -f "$T/.direct"
	return $d_rc
}

# mkimage PATH SIZE: a sparse image of SIZE bytes (any suffix truncate takes).
mkimage() {
	rm -f "$1"
	truncate -s "$2" "$1" || fail "cannot create $1"
}

# mkdata PATH BYTES: random data (never all zero).
mkdata() {
	head -c "$2" /dev/urandom >"$1" || fail "cannot create $1"
}

# fill_random PATH: overwrite a whole image with random bytes, size kept.
fill_random() {
	fill_size=$(stat -c %s "$1") || fail "cannot stat $1"
	head -c "$fill_size" /dev/urandom >"$T/.fill" || fail "cannot fill $1"
	mv "$T/.fill" "$1" || fail "cannot fill $1"
}

# host_extract IMAGE OFFSET LENGTH OUT: bytes of the image read on the host.
host_extract() {
	dd if="$1" of="$4" bs=512 skip=$(($2 / 512)) count=$(($3 / 512)) \
		status=none || fail "dd from $1 failed"
}

# same A B WHAT: the two files are identical.
same() {
	cmp -s "$1" "$2" || fail "$3: $(cmp "$1" "$2" 2>&1 | head -n1)"
}

# rw_cmds OFF:LEN...: random data in $T/w.OFF for each pair, and in
# $RW_ARGS the sim-guest arguments (for eval) that write it at OFF and read
# it back into $T/r.OFF.
rw_cmds() {
	RW_ARGS=
	for rw_p in "$@"; do
		rw_off=${rw_p%%:*}
		rw_len=${rw_p##*:}
		mkdata "$T/w.$rw_off" "$rw_len"
		RW_ARGS="$RW_ARGS -c 'write $rw_off $T/w.$rw_off'"
		RW_ARGS="$RW_ARGS -c 'read $rw_off $rw_len $T/r.$rw_off'"
	done
}

# rw_check IMAGE OFF:LEN...: after a session with rw_cmds' arguments, each
# write read back identical and is in the image on the host.
rw_check() {
	rw_img=$1
	shift
	for rw_p in "$@"; do
		rw_off=${rw_p%%:*}
		rw_len=${rw_p##*:}
		same "$T/w.$rw_off" "$T/r.$rw_off" "read-back at $rw_off"
		host_extract "$rw_img" "$rw_off" "$rw_len" "$T/h.$rw_off"
		same "$T/w.$rw_off" "$T/h.$rw_off" "image on the host at $rw_off"
	done
}

# le N BYTES: N as BYTES little-endian bytes on stdout (binary).
le() {
	le_v=$1
	le_i=0
	while [ $le_i -lt "$2" ]; do
		# shellcheck disable=SC2059 # an octal escape built on purpose
		printf "\\$(printf '%03o' $((le_v & 255)))"
		le_v=$((le_v >> 8))
		le_i=$((le_i + 1))
	done
}

# desc ADDR LEN FLAGS NEXT: one 16-byte split-ring descriptor.
desc() {
	le "$1" 8
	le "$2" 4
	le "$3" 2
	le "$4" 2
}

# guest_queue_counts: "A B", the requests the guest saw completed on
# device 0's queues 0 and 1 (its stats command, in $T/out; a queue the
# guest never used has no line: 0).
guest_queue_counts() {
	gq0=$(sed -n 's/^device 0 queue 0: completed \([0-9]*\)$/\1/p' "$T/out")
	gq1=$(sed -n 's/^device 0 queue 1: completed \([0-9]*\)$/\1/p' "$T/out")
	echo "${gq0:-0} ${gq1:-0}"
}

# term_drained: after term-under-io, the guest saw every write the daemon
# took complete (its exit statistics for disk 0): SIGTERM drained them all
# before the exit, and something was in flight to drain.
term_drained() {
	out_has '^term-under-io: [0-9]+ of [0-9]+ writes completed'
	tn=$(sed -n 's/^term-under-io: \([0-9]*\) of .*/\1/p' "$T/out")
	to=$(sed -n 's/^term-under-io: .*; \([0-9]*\) outstanding at SIGTERM$/\1/p' "$T/out")
	[ "${to:-0}" -gt 0 ] || fail "no write was in flight at SIGTERM"
	tk=$(sed -n 's/.*stats: disk 0 (.*): read [0-9]* req [0-9]* B, write \([0-9]*\) req.*/\1/p' \
		"$T/err" | tail -n1)
	[ "$tn" -gt 0 ] || fail "no write completed"
	[ "$tn" = "$tk" ] ||
		fail "after SIGTERM the guest saw $tn writes completed; the daemon took ${tk:-?}"
}

# exit_stats_match_guest: the daemon's per-queue statistics logged at exit
# (disk 0) count what the guest saw completed on each queue.
exit_stats_match_guest() {
	g=$(guest_queue_counts)
	d=$(sed -n 's/.*stats: disk 0: requests completed per queue: //p' \
		"$T/err" | tail -n1)
	[ "$d" = "$g" ] ||
		fail "at exit the daemon counts '$d' per queue, the guest saw '$g'"
}
