# SPDX-License-Identifier: GPL-2.0-only
# Helpers for tests/hostile/*.sh, sourced first thing:
#   . "$(dirname "$0")/lib.sh"
# On top of tests/integration/lib.sh (pass, fail, sim, mkimage, ...).
#
# A scenario is one sim-guest session against two disks: disk 0 (4 MiB of
# random bytes, attacked) and disk 1 (1 MiB, a bystander). The script adds
# its commands with `c 'CMD' ...` (one sim-guest command per argument, no
# single quotes inside) and ends with `finish "what held"`, which appends
# the common postconditions and runs the session:
#   - the daemon is alive after every command (sim-guest checks), so no
#     access fell outside guest RAM: the simulator maps every other frame
#     PROT_NONE and a stray access kills the daemon (ASan covers its own
#     memory when the suite runs on build-asan);
#   - disk 1 still serves: a write, read back and compared;
#   - disk 0 is reset and re-initialised by the Linux-like driver and
#     serves a write and its read-back (a read on a read-only disk);
#   - at the end the daemon exits 0 on SIGTERM and the hypervisor saw no
#     ioreq protocol error (sim-guest checks both);
#   - on the host: both images kept their size, hold what was written,
#     and the bytes the scenario declared untouchable (`keep OFFSET LEN`)
#     are unchanged; no sanitizer report in the daemon's output.
. "$(dirname "$0")/../integration/lib.sh"

CMDS=
SIM_OPTS=
KEEP=
DISK0_RO=

# Feature sets for raw-init features= (names as sim-guest prints them).
# shellcheck disable=SC2034 # used by the scenarios
FEAT_MIN=VERSION_1
# shellcheck disable=SC2034 # used by the scenarios
FEAT_DEF=VERSION_1,INDIRECT_DESC

# The device's Status after a notification that broke a ring: read at once
# (the daemon serves a notification before answering it), or, with the
# queues on I/O threads (XVB_TEST_DAEMON_ARGS), which react after the
# answer, allowing the session's timeout.
# shellcheck disable=SC2034 # used by the scenarios
case " ${XVB_TEST_DAEMON_ARGS:-} " in
*" --io-threads "*) NOTIFIED_STATUS=wait-status ;;
*) NOTIFIED_STATUS=expect-status ;;
esac

# c CMD...: append sim-guest commands to the session.
c() {
	for c_arg in "$@"; do
		CMDS="$CMDS -c '$c_arg'"
	done
}

# setup [ro] [vcpus=N]: the two images and the data the postconditions use.
# shellcheck disable=SC2120 # most scenarios want no option
setup() {
	for s_arg in "$@"; do
		case $s_arg in
		ro) DISK0_RO=,ro ;;
		vcpus=*) SIM_OPTS="$SIM_OPTS --vcpus ${s_arg#vcpus=}" ;;
		*) fail "setup: unknown option $s_arg" ;;
		esac
	done
	mkimage "$T/a.img" 4M
	fill_random "$T/a.img"
	mkimage "$T/b.img" 1M
	fill_random "$T/b.img"
	cp "$T/a.img" "$T/a.orig" || fail "cannot copy the image"
	mkdata "$T/d" 8192
	host_extract "$T/a.img" 0 8192 "$T/a.head"
}

# keep OFFSET LEN: these bytes of disk 0 must be unchanged at the end (a
# refused write must never reach the image).
keep() {
	KEEP="$KEEP $1:$2"
}

# finish WHAT: postconditions, run the session, check the host side, pass.
finish() {
	c 'device 1' "write 0 $T/d" "verify 0 $T/d"
	if [ -n "$DISK0_RO" ]; then
		c 'device 0' init "verify 0 $T/a.head"
	else
		c 'device 0' init "write 4096 $T/d" "verify 4096 $T/d"
	fi
	# shellcheck disable=SC2086 # $SIM_OPTS and $CMDS are split on purpose
	eval sim_ok $SIM_OPTS --disk "$T/a.img$DISK0_RO" --disk "$T/b.img" \
		"$CMDS"
	check_host
	# A scenario may define finish_check for checks of its own.
	if command -v finish_check >/dev/null 2>&1; then
		finish_check
	fi
	pass "$1"
}

# check_host: what the postconditions promise, seen from the host.
check_host() {
	if grep -Eq 'Sanitizer|runtime error' "$T/err"; then
		fail "sanitizer report: $(grep -Em1 'Sanitizer|runtime error' "$T/err")"
	fi
	[ "$(stat -c %s "$T/a.img")" = 4194304 ] ||
		fail "disk 0 changed size: $(stat -c %s "$T/a.img")"
	[ "$(stat -c %s "$T/b.img")" = 1048576 ] ||
		fail "disk 1 changed size: $(stat -c %s "$T/b.img")"
	host_extract "$T/b.img" 0 8192 "$T/b.got"
	same "$T/d" "$T/b.got" "disk 1 on the host"
	if [ -z "$DISK0_RO" ]; then
		host_extract "$T/a.img" 4096 8192 "$T/a.got"
		same "$T/d" "$T/a.got" "disk 0 on the host"
	else
		same "$T/a.orig" "$T/a.img" "the read-only disk on the host"
	fi
	for k in $KEEP; do
		host_extract "$T/a.orig" "${k%:*}" "${k#*:}" "$T/k.want"
		host_extract "$T/a.img" "${k%:*}" "${k#*:}" "$T/k.got"
		same "$T/k.want" "$T/k.got" \
			"disk 0 bytes [${k%:*}, +${k#*:}) (must be untouched)"
	done
}

# daemon_log_lines: lines the daemon logged in the last session.
daemon_log_lines() {
	grep -c '^xen-virtio-blk' "$T/err"
}

# queue_refused QUEUE-SETUP-ARGS...: a fresh handshake up to FEATURES_OK,
# then queue 0 set up with those arguments. QueueReady=1 must be refused
# with DEVICE_NEEDS_RESET (Status 0x4b) and a configuration interrupt
# (virtio 1.2 §2.1.2), QueueReady must read 0, and a later DRIVER_OK must
# not bring the device to life.
queue_refused() {
	c 'raw-init stop=features' "queue-setup $*" 'expect-status 0x4b' \
		'expect-irq 2' 'mmio-expect 0x44 4 0' 'status-add 4' \
		'expect-status 0x4f' 'notify 0' 'expect-status 0x4f'
}

# probe: make a self-looping chain available at head 0 without notifying.
# A device that looks at the queue answers it (used len 0) while serving
# the notification; `used-none` reads a register first, which the daemon
# answers only after that work, so `used-none` right after a notification
# shows that the device did not look.
probe() {
	c 'desc 0 hdr 16 N 0' 'avail 0'
}
