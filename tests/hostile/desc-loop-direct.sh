#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Descriptor loops in the ring (virtio 1.2 §2.7.5.2: chains never loop):
# status -> data -> status ..., and a descriptor chained to itself.
# Expected: each chain is consumed and given back with used len 0 (the
# daemon's answer to a chain it cannot trust: no status byte, no data
# written), and the same queue keeps serving.
. "$(dirname "$0")/lib.sh"

setup
c raw-init 'hdr in 64' 'fill data 512 0xaa' \
	'desc 0 hdr 16 N 1' 'desc 1 data 512 WN 2' 'desc 2 st 1 WN 1' \
	'kick 0' 'used-expect 0 0 -' 'expect-fill data 512 0xaa' \
	'desc 3 hdr 16 N 3' 'kick 3' 'used-expect 3 0 -' raw-good
finish "looping chains: used len 0, nothing written, queue still serves"
