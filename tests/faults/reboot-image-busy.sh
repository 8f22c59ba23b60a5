#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# A guest dies with I/O in flight (held back 1.5 s at the disk) and its
# next domain is created at once with the same image, as on_crash=restart
# or "xl destroy; xl create" do: the old backend still holds the image's
# lock while it drains, so the new backend waits for it (within libxl's
# 10 s) instead of refusing the disk, then serves it.
. "$(dirname "$0")/lib.sh"

mkimage "$T/k.img" 16M
mkdata "$T/d" 65536
fsim_ok "delay:rw:ms=1500:offset=0-256k" --mode watch \
	-c "xl-create name=a disk=$T/k.img" -c "xl-kill io=24" \
	-c "xl-create name=b disk=$T/k.img" \
	-c "write 1048576 $T/d" -c "verify 1048576 $T/d" -c xl-destroy
out_has '^xl-kill: dom 1 killed with [1-9][0-9]* of 24 requests in flight'
out_has '^xl-create: dom 2 \(b\): 1 disk\(s\) in state 2'
err_has '\[dom2\]: .*k.img: in use, waiting up to 7 s for it'
host_extract "$T/k.img" 1048576 65536 "$T/h"
same "$T/d" "$T/h" "the new domain's write"
pass "image still held by a dead guest's draining backend: the next domain waits and is served"
