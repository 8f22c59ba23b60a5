#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# The used length of a request counts every device-writable byte of its
# chain, and the device writes each of them before the status (virtio 1.2
# §2.7.8.1-2: the driver looks no further than len, and the status byte
# is the last writable one): a good read its data; GET_ID into a 64-byte
# buffer the 20-byte ID, then zeros; a write or flush given writable room
# besides the status, zeros there; a read refused (past the end) zeros in
# its buffer, also when spread over 200 buffers, but not over 256, more
# than a read may have (seg_max 254), which must not become our work: the
# used length then stops before them (0), as the device may count no byte
# it did not write (§2.7.8.1). The mainstream case stays as it was: a
# write's only writable byte is its status (len 1).
. "$(dirname "$0")/lib.sh"

mkimage "$T/disk.img" 4M
fill_random "$T/disk.img"
sim_ok --disk "$T/disk.img,serial=ABCDEFGHIJKLMNOPQRST" -c raw-init \
	-c 'fill data 4096 0xaa' -c 'desc 0 hdr 16 N 1' -c 'desc 2 st 1 W' \
	-c 'hdr in 8' -c 'desc 1 data 512 WN 2' -c 'kick 0' \
	-c 'used-expect 0 513 0' -c 'expect-image data 512 4096' \
	-c 'fill data 4096 0xaa' -c 'hdr get-id 0' -c 'desc 1 data 64 WN 2' \
	-c 'kick 0' -c 'used-expect 0 65 0' \
	-c 'expect-mem data 4 0x44434241' -c 'expect-fill data+20 44 0' \
	-c 'expect-fill data+64 64 0xaa' \
	-c 'fill data 4096 0xaa' -c 'hdr out 8' -c 'desc 1 data 512 N 3' \
	-c 'desc 3 data+1024 512 WN 2' -c 'kick 0' -c 'used-expect 0 513 0' \
	-c 'expect-fill data 512 0xaa' -c 'expect-fill data+1024 512 0' \
	-c 'expect-image data 512 4096' \
	-c 'fill data 4096 0xaa' -c 'hdr flush 0' -c 'desc 0 hdr 16 N 3' \
	-c 'desc 3 data 100 WN 2' -c 'kick 0' -c 'used-expect 0 101 0' \
	-c 'expect-fill data 100 0' -c 'expect-fill data+100 100 0xaa' \
	-c 'fill data 4096 0xaa' -c 'hdr in 8192' -c 'desc 0 hdr 16 N 1' \
	-c 'desc 1 data 1024 WN 2' -c 'kick 0' -c 'used-expect 0 1025 1' \
	-c 'expect-fill data 1024 0' -c 'expect-fill data+1024 1024 0xaa' \
	-c 'hdr out 16' -c 'desc 1 data 512 N 2' -c 'kick 0' \
	-c 'used-expect 0 1 0' \
	-c 'fill data 131072 0xaa' -c 'hdr in 8192' \
	-c 'idesc table 0 hdr 16 N 1' -c 'idesc-fill table 1 200 data 512 WN' \
	-c 'idesc table 201 st 1 W' -c 'desc 0 table 3232 I' -c 'kick 0' \
	-c 'used-expect 0 102401 1' -c 'expect-fill data 102400 0' \
	-c 'fill data 131072 0xaa' -c 'idesc-fill table 1 256 data 512 WN' \
	-c 'idesc table 257 st 1 W' -c 'desc 0 table 4128 I' -c 'kick 0' \
	-c 'used-expect 0 0 1' -c 'expect-fill data 131072 0xaa' \
	-c raw-good
pass "used len: every writable byte, zeros where nothing was read"
