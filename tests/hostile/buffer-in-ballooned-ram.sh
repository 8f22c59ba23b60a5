#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Buffers in RAM the guest has ballooned out (given back to Xen, so no
# longer in its p2m): read data, write data and a header there; then the
# same RAM taken back and used again.
# Expected: while it is out, IOERR, nothing read, written or moved to the
# image (used len 0 for a read into it: the used length stops where the
# writing did; a header there: its data buffer in RAM zeroed, used len 513), and no mapping of those frames left behind (the
# balloon-in succeeds: a frame still mapped would keep it charged to the
# guest, Xen's over-allocation); once back, a read into it is served
# (after a second: a guest that pointed at a hole gets no remap of it
# sooner, src/guest_mem.c, as Xen sends no INVALIDATE for added memory).
. "$(dirname "$0")/lib.sh"

setup
keep 32768 4096
c raw-init 'fill data 512 0xaa' 'desc 0 hdr 16 N 1' 'desc 2 st 1 W' \
	'balloon out 4' \
	'hdr in 64' 'desc 1 balloon 512 WN 2' 'kick 0' 'used-expect 0 0 1' \
	'hdr out 64' 'desc 1 balloon+8192 512 N 2' 'kick 0' 'used-expect 0 1 1' \
	'hdr in 64' 'desc 0 balloon+4096 16 N 1' 'desc 1 data 512 WN 2' \
	'kick 0' 'used-expect 0 513 1' 'expect-fill data 512 0' \
	'balloon in' 'sleep 1100' \
	'hdr in 64' 'desc 0 hdr 16 N 1' 'desc 1 balloon 512 WN 2' \
	'kick 0' 'used-expect 0 513 0' raw-good
finish "buffers in ballooned-out RAM: IOERR, no frame left mapped"
