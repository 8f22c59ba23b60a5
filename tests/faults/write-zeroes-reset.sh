#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# A WRITE_ZEROES the storage cannot do by itself (fallocate refused: the
# daemon writes the zeroes, 1 MiB at a time, each write slowed down by
# 20 ms) of 16 segments of the whole 64 MiB disk, all the same range:
# 1 GiB of writing for one 272-byte request, which a hostile guest can
# repeat for every entry of its ring. The guest resets the device at once.
# Expected: the reset is answered without waiting for all that (the
# zeroing stops between two writes; the reset answers once it has), the
# request's status byte is left alone, the device serves again.
. "$(dirname "$0")/lib.sh"

mkimage "$T/disk.img" 64M
wz_cmds 131072
eval fsim_ok "'eopnotsupp:fallocate:offset=0-64m;delay:write:ms=20'" \
	--disk "$T/disk.img" "$WZ_ARGS" -c "'sleep 100'" -c raw-reset \
	-c "'expect-mem st 1 0xff'" -c raw-init -c raw-good
flog_has '^fault delay write sync ' "no zeroes were written"
! grep -q 'I/O error' "$T/err" ||
	fail "the abandoned zeroing was logged as a disk error"
n=$(grep -c '^fault delay write ' "$FLOG")
# One segment alone is 64 writes; the whole request 1024.
[ "$n" -lt 64 ] || fail "$n writes of zeroes after the guest's reset"
pass "WRITE_ZEROES of 1 GiB abandoned at a reset after $n writes"
