#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# An image on a file system without locks (flock fails with ENOLCK, as on
# NFSv3 without lockd) is served unlocked, with one warning, rather than
# refused: images on such storage worked before images were locked.
. "$(dirname "$0")/lib.sh"

mkimage "$T/disk.img" 16M
mkdata "$T/d" 65536
fsim_ok "enolck:flock" --disk "$T/disk.img" \
	-c "write 0 $T/d" -c "verify 0 $T/d"
flog_has "^fault enolck flock" "flock was never refused"
err_has 'cannot lock it \(No locks available\); nothing keeps another'
host_extract "$T/disk.img" 0 65536 "$T/h"
same "$T/d" "$T/h" "a write to the unlocked image"
pass "no locks on the image's file system: served unlocked, with a warning"
