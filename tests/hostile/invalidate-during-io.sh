#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# IOREQ_TYPE_INVALIDATE during I/O (Xen sends it when the guest's p2m
# changes; the daemon drops its mapping cache, keeping buckets pinned by
# in-flight requests until they complete): after every request of a
# random read/write load from two vCPUs, 1000 from two vCPUs over 32
# writes in flight, 200 while a 256 KiB raw read is in flight.
# Expected: every request completes OK with the right data (checked
# against a model and the image on the host).
. "$(dirname "$0")/lib.sh"

setup vcpus=2
c 'random-io 300 3 64 invalidate=1' \
	'flood 1000 invalidate vcpus=2 io=32' \
	raw-init 'hdr in 64' 'desc 0 hdr 16 N 1' 'desc 1 data 262144 WN 2' \
	'desc 2 st 1 W' 'kick 0' 'flood 200 invalidate' \
	'used-expect 0 262145 0' 'expect-image data 262144 32768' raw-good
finish "INVALIDATE during I/O: every request OK"
