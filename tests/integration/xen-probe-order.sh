#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# docs/xen-notes.md 6 (not visible in the daemon's log): what a stock
# Linux 6.1 domU sends first, as a throwaway backend on real Xen recorded
# it (e2e-testbed.md, run 3): one IOREQ_TYPE_INVALIDATE during boot before
# any MMIO, then virtio_mmio's probe, all 4-byte accesses: MagicValue,
# Version, DeviceID, VendorID; Status reset, ACKNOWLEDGE, DRIVER; both
# DeviceFeatures words (high first); both DriverFeatures words; Status
# FEATURES_OK and its read-back; then queue 0: QueueSel, QueueReady,
# QueueNumMax, QueueNum, the ring addresses. That device offered only
# VERSION_1, so the guest here accepts only VERSION_1 too (features
# 0x100000000): the sequence must then be the recorded one, access for
# access, with the same values written.
. "$(dirname "$0")/lib.sh"

mkimage "$T/a.img" 4M
sim_ok --disk "$T/a.img" -c 'features 0x100000000' -c info \
	-c 'ioreq-trace 31'
# "ioreq I: vcpu V mmio read|write d0+0xOFF SIZE VALUE" -> "read 0xOFF
# SIZE" or "write 0xOFF SIZE VALUE"; the invalidate as is.
sed -n 's/^ioreq [0-9]*: vcpu [0-9]* //p' "$T/out" |
	sed -e 's/^mmio read d0+\(0x[0-9a-f]*\) \([0-9]\) .*/read \1 \2/' \
		-e 's/^mmio write d0+/write /' >"$T/got"
qnum=$(sed -n 's/^ioreq 23: vcpu 0 mmio read d0+0x034 4 //p' "$T/out")
[ -n "$qnum" ] || fail "ioreq 23 is not the QueueNumMax read"
cat >"$T/want" <<EOT
invalidate
read 0x000 4
read 0x004 4
read 0x008 4
read 0x00c 4
write 0x070 4 0x0
read 0x070 4
write 0x070 4 0x1
read 0x070 4
write 0x070 4 0x3
write 0x014 4 0x1
read 0x010 4
write 0x014 4 0x0
read 0x010 4
write 0x024 4 0x1
write 0x020 4 0x1
write 0x024 4 0x0
write 0x020 4 0x0
read 0x070 4
write 0x070 4 0xb
read 0x070 4
write 0x030 4 0x0
read 0x044 4
read 0x034 4
write 0x038 4 $qnum
EOT
head -n 25 "$T/got" >"$T/got25"
if ! cmp -s "$T/want" "$T/got25"; then
	diff "$T/want" "$T/got25" >&2
	fail "the first ioreqs differ from Linux 6.1's on Xen (diff above)"
fi
# Then the descriptor, driver and device ring addresses, low word first.
sed -n '26,31p' "$T/got" | cut -d' ' -f2 | tr '\n' ' ' >"$T/rings"
[ "$(cat "$T/rings")" = "0x080 0x084 0x090 0x094 0x0a0 0x0a4 " ] ||
	fail "ring addresses written as $(cat "$T/rings")"
[ "$(grep -c '^invalidate' "$T/got")" -eq 1 ] ||
	fail "not exactly one INVALIDATE before the probe"
pass "INVALIDATE, then the probe's first 30 accesses as Linux 6.1 sends them on Xen"
