#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# docs/xen-notes.md 4: on a block device, what a guest's discard does
# depends on the device below dom0. With discard (QEMU discard=unmap in the
# e2e runs) it reaches the image: the host reads zeros there; WRITE_ZEROES
# reads back as zeros in the guest and on the host, and deallocates only
# with its unmap flag (may-unmap is offered). The simulator's images
# are files; here the image is a loop device over a file, which offers
# discard (punching holes in the file). Needs root and a loop device, else
# SKIP. (A device without discard is not set up: switching a loop device's
# discard off through sysfs sticks to it until it is removed.)
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || skip "needs root for loop devices"
command -v losetup >/dev/null 2>&1 || skip "no losetup"
LOOP=
trap '[ -n "$LOOP" ] && losetup -d "$LOOP"; rm -rf "$T"' EXIT
M=1048576
head -c $M /dev/zero >"$T/zero1m"
head -c $((2 * M)) /dev/zero >"$T/zero2m"
head -c 4096 /dev/zero >"$T/zero1m.4k"

mkimage "$T/a.img" 16M
fill_random "$T/a.img"
LOOP=$(losetup -f --show "$T/a.img" 2>/dev/null) ||
	skip "cannot set up a loop device"
[ "$(cat "/sys/block/$(basename "$LOOP")/queue/discard_max_bytes")" -gt 0 ] ||
	skip "$LOOP offers no discard"
# Linux reads sector 0 first (partition scan): a small O_DIRECT request,
# whose EFAULT switches the engine to bounce buffers (a first request of
# more than ~250 pages gets EIO from the block layer instead: xen-notes 1).
sim_ok --disk "$LOOP" -c info -c "read 0 4096 $T/s0" \
	-c "discard $((2 * M)) $((2 * M))" -c status \
	-c "write-zeroes $((4 * M)) $M" -c "verify $((4 * M)) $T/zero1m"
out_has '^driver-features: .* DISCARD'
out_has '^status: OK$'
out_has '^write-zeroes: .*may-unmap 1'
# may-unmap is true: a write-zeroes with the unmap flag deallocates (the
# loop device punches a hole in its file), one without it does not.
kib=$(du -k "$T/a.img" | cut -f1)
sim_ok --disk "$LOOP" -c "write-zeroes $((8 * M)) $((2 * M))" \
	-c "verify $((8 * M)) $T/zero2m"
[ "$(du -k "$T/a.img" | cut -f1)" -ge "$kib" ] ||
	fail "a write-zeroes without unmap deallocated: $kib -> $(du -k "$T/a.img" | cut -f1) KiB"
sim_ok --disk "$LOOP" -c "write-zeroes $((8 * M)) $((2 * M)) unmap" \
	-c "verify $((8 * M)) $T/zero2m"
[ "$(du -k "$T/a.img" | cut -f1)" -le $((kib - 1024)) ] ||
	fail "a write-zeroes with unmap did not deallocate: $kib -> $(du -k "$T/a.img" | cut -f1) KiB"
losetup -d "$LOOP" || fail "cannot detach $LOOP"
LOOP=
host_extract "$T/a.img" $((2 * M)) $((2 * M)) "$T/h"
same "$T/zero2m" "$T/h" "discarded range on the host (device with discard)"
host_extract "$T/a.img" $((4 * M)) $M "$T/h"
same "$T/zero1m" "$T/h" "zeroed range on the host"
host_extract "$T/a.img" $((8 * M)) $((2 * M)) "$T/h"
same "$T/zero2m" "$T/h" "zeroed and unmapped range on the host"

# A device of 4 KiB sectors: a write-zeroes of 512-byte sectors not on its
# blocks (a guest of blk_size 512 could send one) is done by writing zeroes
# through the buffered descriptor; its neighbours keep their data.
fill_random "$T/a.img"
cp "$T/a.img" "$T/a.orig" || fail "cannot copy the image"
LOOP=$(losetup -b 4096 -f --show "$T/a.img" 2>/dev/null) ||
	skip "cannot set up a 4 KiB loop device"
sim_ok --disk "$LOOP" -c "write-zeroes $((M + 512)) 4096" \
	-c "verify $((M + 512)) $T/zero1m.4k" \
	-c "discard $((2 * M + 512)) 8192" -c status \
	-c "discard $((3 * M + 1024)) 512" -c status
[ "$(grep -c '^status: OK$' "$T/out")" -eq 2 ] ||
	fail "a discard off 4 KiB blocks did not complete OK"
losetup -d "$LOOP" || fail "cannot detach $LOOP"
LOOP=
# The one whole block inside the first discard went; the sectors around
# it, and the second discard's, which covers no whole block, stayed.
host_extract "$T/a.img" $((2 * M + 4096)) 4096 "$T/h"
same "$T/zero1m.4k" "$T/h" "the whole block inside a discard off 4 KiB blocks"
host_extract "$T/a.img" $((2 * M)) 4096 "$T/h"
host_extract "$T/a.orig" $((2 * M)) 4096 "$T/w"
same "$T/w" "$T/h" "the partial block before it"
host_extract "$T/a.img" $((2 * M + 8192)) 4096 "$T/h"
host_extract "$T/a.orig" $((2 * M + 8192)) 4096 "$T/w"
same "$T/w" "$T/h" "the partial block after it"
host_extract "$T/a.img" $((3 * M)) 4096 "$T/h"
host_extract "$T/a.orig" $((3 * M)) 4096 "$T/w"
same "$T/w" "$T/h" "the block a discard of one sector left"
host_extract "$T/a.img" $((M + 512)) 4096 "$T/h"
same "$T/zero1m.4k" "$T/h" "512-aligned zeroes on a 4 KiB device"
host_extract "$T/a.img" $M 512 "$T/h"
host_extract "$T/a.orig" $M 512 "$T/w"
same "$T/w" "$T/h" "the sector before them"
host_extract "$T/a.img" $((M + 4608)) 3584 "$T/h"
host_extract "$T/a.orig" $((M + 4608)) 3584 "$T/w"
same "$T/w" "$T/h" "the sectors after them"

pass "block device with discard: the guest's discard reaches the image, write-zeroes reads zeros and unmaps only when asked; off 4 KiB blocks, write-zeroes zeroes exactly and discard takes the whole blocks inside"
