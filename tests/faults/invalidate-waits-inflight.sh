#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Xen's INVALIDATE while a read is in flight (held back 400 ms at the
# disk): the vCPU that caused it waits until the daemon has dropped its
# mappings (xen-ioreq-facts.md §2.4), those the read pins included, or
# the guest's given-back frames stay charged to it. So the answer waits
# for the read, and once it comes nothing but the rings is mapped.
# Expected: the read's 1 MiB of mappings before, only the rings' after
# the INVALIDATE is answered; the read then completes OK with the image's
# data.
. "$(dirname "$0")/lib.sh"

mkimage "$T/a.img" 4M
fill_random "$T/a.img"
fsim_ok "delay:read:ms=400" --disk "$T/a.img" \
	-c raw-init -c stats \
	-c 'hdr in 64' -c 'desc 0 hdr 16 N 1' -c 'desc 1 data 4096 WN 2' \
	-c 'desc 2 st 1 W' -c 'kick 0' -c 'sleep 50' -c stats \
	-c invalidate -c stats \
	-c 'used-expect 0 4097 0' -c 'expect-image data 4096 32768'
mapped=$(sed -n 's/^hypervisor: .* mapped-now \([0-9]*\) .*/\1/p' "$T/out")
set -- $mapped
[ $# -eq 3 ] || fail "expected 3 hypervisor stats lines, got: $mapped"
rings=$1 inflight=$2 after=$3
[ "$inflight" -gt "$rings" ] ||
	fail "the read in flight maps nothing beyond the rings ($inflight pages)"
[ "$after" -eq "$rings" ] ||
	fail "INVALIDATE answered with $after pages mapped, not only the rings' $rings: the read's mappings outlived it"
grep -q '^fault delay read' "$FLOG" || fail "the read was not held back"
pass "INVALIDATE with a read in flight: answered once its mappings are gone, the read served"
