# SPDX-License-Identifier: GPL-2.0-only
# Helpers for tests/xl/*.sh, sourced first thing:
#   . "$(dirname "$0")/lib.sh"
# Same conventions as tests/integration (whose lib.sh this extends): the
# build directory as $1, one line on stdout (PASS/FAIL name...), exit 0 or
# 1. The daemon runs in its xenstore modes; guests come from sim-guest's
# model of libxl 4.17 (xl-create, xl-destroy... in tests/sim/cmd_xl.c).

. "$(dirname "$0")/../integration/lib.sh"

# xsim MODE ARGS...: a session with the daemon in --mode MODE (watch: the
# supervisor, domid: one --domid N process per guest).
xsim() {
	xsim_mode=$1
	shift
	sim --mode "$xsim_mode" "$@"
}

# xsim_ok MODE ARGS...: the session must succeed.
xsim_ok() {
	xsim "$@" || fail "sim-guest failed: $(grep -m1 'failed\|sim-guest:' "$T/err" || tail -n1 "$T/err")"
}

# err_count REGEX: how many lines of the last session's log match.
err_count() {
	grep -Ec "$1" "$T/err"
}

# out_value REGEX: the first stdout line matching, for messages.
out_line() {
	grep -Em1 "$1" "$T/out"
}
