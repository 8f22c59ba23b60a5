#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# io_submit says EAGAIN (the kernel short of memory for the moment) while a
# write of ours is in flight (its completion held back 300 ms): the second
# write goes in again once the engine hears from the kernel, not on the
# retry timer, which is for EAGAIN with nothing in flight (and says so in
# the log). Expected: both writes OK and in the image, no retry logged, and
# the device serves on.
. "$(dirname "$0")/lib.sh"

case " $PATHS " in
*" aio "*) ;;
*) skip "no O_DIRECT here: the libaio path cannot be tested" ;;
esac
mkimage "$T/disk.img" 1M
fsim_ok "delay:write:ms=300:offset=32768-36864;eagain:write:offset=65536-69632:count=1" \
	--disk "$T/disk.img" -c raw-init \
	-c 'fill data 4096 0xa5' -c 'hdr out 64' -c 'desc 0 hdr 16 N 1' \
	-c 'desc 1 data 4096 N 2' -c 'desc 2 st 1 W' -c 'kick 0' \
	-c 'fill data2 4096 0x5a' -c 'hdr out 128 hdr2' -c 'put st2 1 0xff' \
	-c 'desc 3 hdr2 16 N 4' -c 'desc 4 data2 4096 N 5' \
	-c 'desc 5 st2 1 W' -c 'kick 3' \
	-c 'used-expect * 1' -c 'used-expect * 1' \
	-c 'expect-mem st 1 0' -c 'expect-mem st2 1 0' \
	-c 'expect-disk 32768 4096 0xa5' -c 'expect-disk 65536 4096 0x5a' \
	-c raw-good
flog_has "^fault delay write aio off=32768 " "the first write was not held back"
flog_has "^fault eagain write aio off=65536 " "io_submit never refused the second write"
if grep -q 'io_submit: .*retrying' "$T/err"; then
	fail "the write was retried on the timer, with a write in flight"
fi
err_has "exiting with status 0"
pass "EAGAIN from io_submit with a write in flight: submitted again after the kernel's next word"
