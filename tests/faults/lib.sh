# SPDX-License-Identifier: GPL-2.0-only
# Helpers for tests/faults/*.sh, sourced first thing:
#   . "$(dirname "$0")/lib.sh"
# Same conventions as tests/integration (whose lib.sh this extends): the
# build directory as $1, one line on stdout (PASS/FAIL/SKIP name...), exit
# 0 or 1. Faults come from $BUILD/libfault.so (tests/fault/libfault.c),
# preloaded into the daemon only, never into sim-guest.

. "$(dirname "$0")/../integration/lib.sh"

LIBFAULT="$BUILD/libfault.so"
[ -f "$LIBFAULT" ] || fail "$LIBFAULT is not built (make all)"
FLOG="$T/fault.log"

# The ASan daemon needs its runtime first in the preload list.
PRELOAD="$LIBFAULT"
asan_rt=$(ldd "$DAEMON" 2>/dev/null | awk '/libasan/ { print $3 }')
if [ -n "$asan_rt" ]; then
	PRELOAD="$asan_rt $LIBFAULT"
fi

# fsim RULES ARGS...: sim with the daemon under libfault (XVB_FAULT=RULES,
# may be empty); the fault log of the session is $FLOG (also in $LOG).
fsim() {
	fsim_rules=$1
	shift
	rm -f "$FLOG"
	echo "# XVB_FAULT=$fsim_rules" >>"$LOG"
	sim --daemon-env "LD_PRELOAD=$PRELOAD" \
		--daemon-env "XVB_FAULT=$fsim_rules" \
		--daemon-env "XVB_FAULT_LOG=$FLOG" "$@"
	fsim_rc=$?
	[ -f "$FLOG" ] && sed 's/^/  fault.log: /' "$FLOG" | tail -n 40 >>"$LOG"
	return $fsim_rc
}

# fsim_ok RULES ARGS...: the session must succeed.
fsim_ok() {
	fsim "$@" || fail "sim-guest failed: $(grep -m1 'failed\|sim-guest:' "$T/err" || tail -n1 "$T/err")"
}

# flog_has REGEX [WHAT]: the last session's fault log has a matching line.
flog_has() {
	grep -Eq "$1" "$FLOG" 2>/dev/null ||
		fail "${2:-fault log}: no line matching '$1'"
}

# flog_lacks REGEX WHAT: no line of the fault log matches (which exists).
flog_lacks() {
	[ -f "$FLOG" ] || fail "$2: no fault log"
	if grep -Eq "$1" "$FLOG"; then
		fail "$2: $(grep -Em1 "$1" "$FLOG")"
	fi
}

# delayed_writes_done WHAT: every write the last session's rules delayed
# was handed back to the daemon (a write-done line at the same offset), so
# it waited for each before it exited.
delayed_writes_done() {
	dwd_n=$(grep -c "^fault delay write " "$FLOG")
	[ "$dwd_n" -gt 0 ] || fail "$1: no write was delayed"
	dwd_done=$(awk '/^fault delay write/ { d[$5] = 1 }
		/^write-done/ && ($3 in d) { n++; delete d[$3] }
		END { print n + 0 }' "$FLOG")
	[ "$dwd_done" -eq "$dwd_n" ] ||
		fail "$1: exited with $((dwd_n - dwd_done)) of $dwd_n delayed writes unfinished"
}

# wz_cmds NSECT: in $WZ_ARGS (for eval), the raw-queue commands that make
# one WRITE_ZEROES available and notify it: 16 segments of NSECT sectors,
# all from sector 0 (the most work one request can ask for).
wz_cmds() {
	WZ_ARGS="-c 'raw-init features=VERSION_1,WRITE_ZEROES' -c 'fill data 256 0'"
	for wz_i in $(seq 0 15); do
		WZ_ARGS="$WZ_ARGS -c 'put data+$((16 * wz_i + 8)) 4 $1'"
	done
	WZ_ARGS="$WZ_ARGS -c 'hdr write-zeroes 0' -c 'desc 0 hdr 16 N 1'"
	WZ_ARGS="$WZ_ARGS -c 'desc 1 data 256 N 2' -c 'desc 2 st 1 W' -c 'kick 0'"
}

# The two engine paths: reads and writes through libaio on an O_DIRECT
# image, or on the worker threads when the file system refuses O_DIRECT
# (simulated by refusing open(O_DIRECT)). PATHS lists both; path_rules
# PATH gives the rule prefix and path_check PATH checks, after a session
# that wrote something, that the writes really took that path.
PATHS="aio sync"
if ! direct_io_here; then
	# Only the worker path exists on this file system; say so.
	PATHS="sync"
	echo "NOTE $TEST_NAME: no O_DIRECT in ${TMPDIR:-/tmp}: libaio path not tested" >&2
fi
path_rules() {
	if [ "$1" = sync ]; then
		echo "nodirect:open;"
	fi
}
path_check() {
	flog_has "^write-done $1 " "$1 path not taken"
	if [ "$1" = aio ]; then
		other=sync
	else
		other=aio
	fi
	flog_lacks "^write-done $other " "writes went through the $other path"
}

