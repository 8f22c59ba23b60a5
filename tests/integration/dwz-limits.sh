#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# DISCARD and WRITE_ZEROES segments against max_discard_sectors and
# max_write_zeroes_sectors (2^22 sectors each, offered in the config) on a
# disk large enough that the capacity does not decide first (3 GiB, sparse):
# a segment of 2^22 + 1 sectors is IOERR and touches nothing; one of
# exactly 2^22 sectors is served (§5.2.6.2: the device MUST set IOERR for a
# segment past the limit it offers).
. "$(dirname "$0")/lib.sh"

mkimage "$T/disk.img" 3G
mkdata "$T/head" 4096
dd if="$T/head" of="$T/disk.img" conv=notrunc status=none ||
	fail "cannot write the image"
mkdata "$T/mark" 4096
# The mark sits just past the 2 GiB that a 2^22-sector segment covers.
dd if="$T/mark" of="$T/disk.img" bs=4096 seek=524288 conv=notrunc \
	status=none || fail "cannot write the image"
RAW='raw-init features=VERSION_1,INDIRECT_DESC,DISCARD,WRITE_ZEROES'
sim_ok --disk "$T/disk.img" -c info -c "$RAW" \
	-c 'desc 0 hdr 16 N 1' -c 'desc 1 data 16 N 2' -c 'desc 2 st 1 W' \
	-c 'put data 8 0' -c 'put data+8 4 0x400001' -c 'put data+12 4 0' \
	-c 'hdr discard 0' -c 'kick 0' -c 'used-expect 0 1 1' \
	-c 'hdr write-zeroes 0' -c 'kick 0' -c 'used-expect 0 1 1'
out_has '^discard: max-sectors 4194304 '
out_has '^write-zeroes: max-sectors 4194304 '
host_extract "$T/disk.img" 0 4096 "$T/h"
same "$T/head" "$T/h" "the start of the disk after the refused segments"

sim_ok --disk "$T/disk.img" -c "$RAW" \
	-c 'desc 0 hdr 16 N 1' -c 'desc 1 data 16 N 2' -c 'desc 2 st 1 W' \
	-c 'put data 8 0' -c 'put data+8 4 0x400000' -c 'put data+12 4 0' \
	-c 'hdr write-zeroes 0' -c 'kick 0' -c 'used-expect 0 1 0'
host_extract "$T/disk.img" 0 4096 "$T/h"
cmp -s -n 4096 "$T/h" /dev/zero ||
	fail "a 2^22-sector write-zeroes did not zero the start of the disk"
host_extract "$T/disk.img" 2147483648 4096 "$T/h"
same "$T/mark" "$T/h" "the sector just past a 2^22-sector segment"
pass "DISCARD/WRITE_ZEROES: 2^22+1 sectors IOERR and untouched, 2^22 served"
