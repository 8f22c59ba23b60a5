#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# A guest with more than 3 GiB of RAM, as Xen on Arm lays it out: 3 GiB in
# bank 0 at 0x40000000, the rest in bank 1 at 0x200000000 (8 GiB), a hole
# between them. A Linux guest then hands the device rings and buffers above
# 4 GiB: 64-bit ring registers and descriptor addresses.
# 1. The Linux-like driver with every ring and buffer in bank 1
#    (--alloc-high): writes read back identical and reach the image, reads
#    return the image's bytes, multi-segment requests, direct and
#    indirect; the daemon mapped bank-1 frames and none of bank 0.
# 2. Hand-made requests on a queue whose rings, headers, tables, data and
#    status bytes lie in bank 1, among them one at the last bytes of each
#    bank; then data buffers in the hole (at its start, straddling into
#    it from bank 0, straddling out of it into bank 1) and straddling or
#    past the end of bank 1: IOERR (1), nothing read or written, and the
#    daemon serves a good request after each.
. "$(dirname "$0")/lib.sh"

RAM_MB=3200 # bank 1: 128 MiB
BANK0_END=$((0x100000000))
BANK1=$((0x200000000))
RAM_END=$((BANK1 + (RAM_MB - 3072) * 1048576))

mkimage "$T/disk.img" 16M
fill_random "$T/disk.img"
cp "$T/disk.img" "$T/before.img"

# --- 1. the Linux-like driver, everything in bank 1
set -- 0:512 4096:4096 9728:65536 1048064:131072 5000192:1048576 \
	7340544:197120
rw_cmds "$@"
host_extract "$T/disk.img" 12582912 1048576 "$T/untouched"
eval sim_ok --ram-mb $RAM_MB --alloc-high --disk "$T/disk.img" -c info \
	-c "'segments 3'" "$RW_ARGS" -c "'verify 12582912 $T/untouched'" \
	-c "'segments 0'" -c "'random-io 300 21 256 at=8388608 region=4'" \
	-c "'indirect off'" -c "'random-io 200 22 64 at=8388608 region=4'" \
	-c stats
for r in desc avail used; do
	a=$(sed -n "s/^queue 0 rings: .*$r \(0x[0-9a-f]*\).*/\1/p" "$T/out")
	[ -n "$a" ] || fail "info printed no $r ring address"
	[ $((a >= BANK1 && a < RAM_END)) -eq 1 ] ||
		fail "$r ring at $a, not in bank 1"
done
out_has '^random-io: 300 requests .*: verified$'
out_has '^random-io: 200 requests .*: verified$'
n=$(sed -n 's/^device 0: .* indirect \([0-9]*\) .*/\1/p' "$T/out")
[ "${n:-0}" -gt 0 ] || fail "no indirect request was made"
out_has '^guest-ram-bank0: 0x40000000, 3072 MiB, 0 frame'
n=$(sed -n 's/^guest-ram-bank1: 0x200000000, 128 MiB, \([0-9]*\) frame.*/\1/p' \
	"$T/out")
[ "${n:-0}" -gt 0 ] || fail "the daemon maps no frame of bank 1"
rw_check "$T/disk.img" "$@"

# --- 2. hand-made requests, the queue in bank 1 (64 MiB in, clear of
# what the driver allocates there)
H=$((BANK1 + 0x4000000))
DESC=$H AVAIL=$((H + 0x4000)) USED=$((H + 0x5000))
HDR=$((H + 0x8000)) ST=$((H + 0x8100)) TBL=$((H + 0x9000))
DATA=$((H + 0x20000))
cp "$T/disk.img" "$T/before.img"

CMDS=
c() {
	for c_arg in "$@"; do
		CMDS="$CMDS -c '$c_arg'"
	done
}
# req TYPE SECTOR OUTCOME...: the header, a fresh status byte, kick head
# 0 (header, descriptor 1, status), then the checks.
req() {
	c "hdr $1 $2 $HDR" "put $ST 1 0xff" 'kick 0'
	shift 2
	c "$@"
}
c 'raw-init stop=features' \
	"queue-setup num=8 desc=$DESC avail=$AVAIL used=$USED" \
	'status-add 4' 'expect-status 0xf' \
	"desc 0 $HDR 16 N 1" "desc 2 $ST 1 W" \
	"fill $DATA 4096 0xaa" "desc 1 $DATA 1024 WN 2"
req in 8 'used-expect 0 1025' "expect-mem $ST 1 0" \
	"expect-image $DATA 1024 4096"
c "fill $DATA 512 0x5a" "desc 1 $DATA 512 N 2"
req out 16 'used-expect 0 1' "expect-mem $ST 1 0" 'expect-disk 8192 512 0x5a'
# Indirect: header, four 512-byte pieces, status, the table in bank 1.
c "idesc $TBL 0 $HDR 16 N 1" "idesc-fill $TBL 1 4 $DATA 512 WN" \
	"idesc $TBL 5 $ST 1 W" "desc 0 $TBL 96 I"
req in 24 'used-expect 0 2049' "expect-mem $ST 1 0" \
	"expect-image $DATA 2048 12288"
c "desc 0 $HDR 16 N 1"
# The last bytes of each bank are RAM.
for at in $((BANK0_END - 512)) $((RAM_END - 512)); do
	c "desc 1 $at 512 WN 2"
	req in 40 'used-expect 0 513' "expect-mem $ST 1 0" \
		"expect-image $at 512 20480"
done
# Not RAM, or not all of it: refused, and the queue goes on.
for at in $BANK0_END $((BANK0_END - 256)) $((BANK1 - 256)) \
	$((RAM_END - 256)) $RAM_END; do
	c "fill $DATA 512 0x33" "desc 1 $at 512 WN 2"
	req in 48 'used-expect 0 0' "expect-mem $ST 1 1"
	c "desc 1 $at 512 N 2"
	req out 48 'used-expect 0 1' "expect-mem $ST 1 1" raw-good
	c "desc 1 $DATA 512 WN 2"
	req in 56 'used-expect 0 513' "expect-mem $ST 1 0" \
		"expect-image $DATA 512 28672"
done
c stats "verify 4096 $T/w.4096"
eval sim_ok --ram-mb $RAM_MB --disk "$T/disk.img" "$CMDS"
n=$(sed -n 's/^guest-ram-bank1: .*, \([0-9]*\) frame.*/\1/p' "$T/out")
[ "${n:-0}" -gt 0 ] || fail "the daemon maps no frame of bank 1 (raw)"
# Only the write of 0x5a at sector 16 changed the image.
dd if=/dev/zero bs=512 count=1 status=none | tr '\0' '\132' |
	dd of="$T/before.img" bs=512 seek=16 conv=notrunc status=none
same "$T/before.img" "$T/disk.img" "the image after the hand-made requests"
pass "rings and buffers in bank 1 served; the hole and past bank 1 refused"
