#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Buffers at guest addresses that are not RAM: just past its end, below it
# (0x1000), at the device's own MMIO window, 1 MiB past the end.
# Expected: a data buffer there: IOERR, used len 0 (the status is written,
# but the used length stops where the device's writing did, §2.7.8.1, and
# the buffer before it is not RAM); GET_ID's buffer there: the same, and
# logged once; a write's data there: IOERR, used len 1, and the image
# untouched; a header there: IOERR, used len 513 (the status is still
# writable) and the data buffer zeroed; a status byte there: used len 0,
# and a write carrying one is not executed (the image keeps its bytes: the
# driver could never learn the outcome; its data is refilled first, since
# a read with an unwritable status would otherwise have left the sector's
# own bytes there). No access outside RAM (the daemon would die on the
# PROT_NONE frames).
. "$(dirname "$0")/lib.sh"

finish_check() {
	[ "$(grep -c 'warning: virtio-blk: GET_ID buffer not in RAM' "$T/err")" -eq 1 ] ||
		fail "want one 'GET_ID buffer not in RAM' warning"
}

setup
keep 32768 4096
c raw-init 'fill data 512 0xaa' 'desc 0 hdr 16 N 1' 'desc 2 st 1 W'
for addr in ramend 0x1000 0x2000000 ramend+0x100000; do
	c 'hdr in 64' "desc 1 $addr 512 WN 2" 'kick 0' 'used-expect 0 0 1' \
		'hdr out 64' "desc 1 $addr 512 N 2" 'kick 0' 'used-expect 0 1 1'
done
c 'hdr get-id 0' 'desc 1 ramend 20 WN 2' 'kick 0' 'used-expect 0 0 1'
c 'hdr in 64' 'desc 0 ramend 16 N 1' 'desc 1 data 512 WN 2' \
	'kick 0' 'used-expect 0 513 1' 'expect-fill data 512 0' \
	'hdr in 64' 'desc 0 hdr 16 N 1' 'desc 2 ramend 1 W' \
	'kick 0' 'used-expect 0 0 -' 'fill data 512 0x55' \
	'hdr out 64' 'desc 0 hdr 16 N 1' 'desc 1 data 512 N 2' \
	'desc 2 ramend 1 W' 'kick 0' 'used-expect 0 0 -' raw-good
finish "buffers outside RAM: IOERR, or used len 0 for the status"
