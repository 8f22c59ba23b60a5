#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# flock() on the image fails with something else than "held by another"
# (tests/faults/no-flock.sh has ENOLCK): where the file system has no locks
# (EINVAL, EOPNOTSUPP: some FUSE) the image is served unlocked with a
# warning; where the lock itself fails (EIO: a lock server gone), the
# daemon refuses the image with one error rather than serve it unlocked,
# and leaves it untouched.
. "$(dirname "$0")/lib.sh"

mkdata "$T/d" 65536
for f in einval:Invalid eopnotsupp:'Operation not supported'; do
	mkimage "$T/disk.img" 16M
	fsim_ok "${f%%:*}:flock" --disk "$T/disk.img" \
		-c "write 0 $T/d" -c "verify 0 $T/d"
	flog_has "^fault ${f%%:*} flock" "${f%%:*}: flock was never refused"
	err_has "warning: $T/disk.img: cannot lock it \\(${f#*:}[a-z ]*\\); nothing keeps" \
		"${f%%:*}: no warning"
	host_extract "$T/disk.img" 0 65536 "$T/h"
	same "$T/d" "$T/h" "${f%%:*}: a write to the unlocked image"
done

mkdata "$T/disk.img" 1048576
cp "$T/disk.img" "$T/orig.img"
if fsim "eio:flock" --disk "$T/disk.img" -c "write 0 $T/d"; then
	fail "EIO from flock: the image was served unlocked"
fi
flog_has "^fault eio flock" "EIO: flock was never refused"
[ "$(grep -c "error: cannot lock $T/disk.img: Input/output error" "$T/err")" -eq 1 ] ||
	fail "EIO: want one 'cannot lock' error"
err_has "was never served: the daemon exited, exit 2"
same "$T/orig.img" "$T/disk.img" "EIO: the refused image changed"
pass "flock: no locks on the file system (EINVAL, EOPNOTSUPP) served with a warning, EIO refused"
