#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Malformed chains from a hostile guest: each one gets the answer
# docs/security.md gives its class (a chain the device cannot walk, or
# whose status byte it cannot find, is given back with len 0 and nothing
# written; a bad buffer gets IOERR; a jumping ring DEVICE_NEEDS_RESET),
# the daemon stays up, and the device works afterwards (re-initialised if
# it asked for a reset).
. "$(dirname "$0")/lib.sh"

mkimage "$T/disk.img" 2M
mkdata "$T/d" 8192
# KIND=ANSWER: NOSTATUS is "len 0, status byte untouched"; a 4 KiB read
# answered IOERR after its header was read counts its 4096 data bytes
# and the status byte.
expect="loop=NOSTATUS:0 oob=IOERR:0 wrap=IOERR:0 huge=IOERR:0
nested=NOSTATUS:0 indirect-next=NOSTATUS:0 indirect-size=NOSTATUS:0
indirect-empty=NOSTATUS:0 bad-next=NOSTATUS:0 no-status=NOSTATUS:0
write-before-read=NOSTATUS:0 short-header=IOERR:4097 avail-jump=reset"
args="-c 'write 0 $T/d'"
for e in $expect; do
	args="$args -c 'bad-chain ${e%%=*}' -c 'verify 0 $T/d'"
done
# random-io stays in the second MiB: which of its requests are writes
# depends on timing, and the first 8 KiB must still hold d below.
# shellcheck disable=SC2086 # $args is split by eval on purpose
eval sim_ok --disk "$T/disk.img" $args \
	-c "'random-io 100 61 64 at=1048576 region=1'"
for e in $expect; do
	k=${e%%=*} want=${e#*=}
	case $want in
	reset) line="bad-chain $k: device needs reset" ;;
	*) line="bad-chain $k: status ${want%:*} used-len ${want#*:}" ;;
	esac
	grep -qx "$line" "$T/out" ||
		fail "$k: $(grep "^bad-chain $k:" "$T/out" || echo 'no answer'), expected '$line'"
done
# Registers: writes to read-only ones and unknown offsets are ignored.
sim_ok --disk "$T/disk.img" -c info -c 'mmio-write 0x000 4 0' \
	-c 'mmio-expect 0x000 4 0x74726976' -c 'mmio-write 0x100 4 0' \
	-c 'mmio-expect 0x100 4 4096' -c 'mmio-write 0x1f0 4 0xdeadbeef' \
	-c 'mmio-expect 0x1f0 4 0' -c 'mmio-write 0x70 1 0xff' \
	-c 'mmio-expect 0x70 4 0xf' -c 'verify 0 '"$T/d"
pass "malformed chains answered, daemon alive, device usable"
