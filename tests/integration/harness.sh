#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# sim-guest itself can fail: a daemon that dies, an outcome that differs
# from the expectation, malformed offsets, and a daemon killed mid-session
# all give exit 1. --help documents every command, of every table.
. "$(dirname "$0")/lib.sh"

mkimage "$T/disk.img" 1M
must_fail() {
	sim "$@" && fail "sim-guest $* succeeded"
	[ $? -eq 1 ] || fail "sim-guest $* did not exit 1"
}
must_fail --daemon /bin/false --timeout-ms 5000 --disk "$T/disk.img" -c info
must_fail --disk "$T/disk.img" -c 'expect IOERR read 0 512 '"$T/x"
must_fail --disk "$T/disk.img" -c 'read 1 512 '"$T/x"
must_fail --disk "$T/disk.img" -c 'read 0 511 '"$T/x"
must_fail --disk "$T/disk.img" -c 'read 0x 512 '"$T/x"
must_fail --disk "$T/disk.img" -c 'read -512 512 '"$T/x"
must_fail --disk "$T/disk.img" -c 'read 99999999999999999999 512 '"$T/x"
must_fail --disk "$T/disk.img" -c 'read 0xfffffffffffffe00 0x400 '"$T/x"
must_fail --disk "$T/disk.img" -c 'mmio-read 0 3'
must_fail --disk "$T/disk.img" -c 'no-such-command'
must_fail --disk "$T/disk.img" -c 'signal-daemon KILL' -c 'expect-exit 0'
must_fail --disk "$T/disk.img" -c 'signal-daemon KILL' -c info
must_fail --disk "$T/disk.img" -c 'signal-daemon STOP' --timeout-ms 2000 \
	-c info
sim_ok --disk "$T/disk.img" -c 'signal-daemon KILL' -c 'expect-exit KILL'
sim_ok --help
for c in info write read flush discard write-zeroes get-id mmio-read \
	mmio-write mem-write mem-read wait-irq device random-io invalidate \
	signal-daemon expect-exit status expect raw-init sweep-read bench \
	xl-create xl-destroy host-rm domain-death-under-io xen-destroy \
	expect-domain ioreq-trace; do
	grep -q "^  $c" "$T/out" || fail "--help does not document '$c'"
done
pass "failures are detected, --help is complete"
