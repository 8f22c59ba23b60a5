#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# io_submit refuses one iocb of a batch for good (EINVAL: an iocb the
# kernel cannot start): the iocbs before it are in, and the engine must
# fail that request alone and still submit the ones after it. Three reads
# in one notification, the middle one refused: it is IOERR, the others OK
# with the image's data, and the device serves on.
. "$(dirname "$0")/lib.sh"

case " $PATHS " in
*" aio "*) ;;
*) skip "no O_DIRECT here: the libaio path cannot be tested" ;;
esac
mkdata "$T/disk.img" 1048576
fsim_ok "einval:read:at=submit:offset=65536-69632" \
	--disk "$T/disk.img" -c 'raw-init num=16' \
	-c 'hdr in 64' -c 'desc 0 hdr 16 N 1' -c 'desc 1 data 4096 WN 2' \
	-c 'desc 2 st 1 W' \
	-c 'hdr in 128 hdr2' -c 'put st2 1 0xff' -c 'desc 3 hdr2 16 N 4' \
	-c 'desc 4 data2 4096 WN 5' -c 'desc 5 st2 1 W' \
	-c 'hdr in 192 hdr+64' -c 'put st+16 1 0xff' -c 'desc 6 hdr+64 16 N 7' \
	-c 'desc 7 data+65536 4096 WN 8' -c 'desc 8 st+16 1 W' \
	-c 'kick 0 3 6' \
	-c 'used-expect * 4097' -c 'used-expect * 4097' \
	-c 'used-expect * 4097' \
	-c 'expect-mem st 1 0' -c 'expect-mem st2 1 1' -c 'expect-mem st+16 1 0' \
	-c 'expect-image data 4096 32768' \
	-c 'expect-image data+65536 4096 98304' -c raw-good
flog_has "^fault einval read aio off=65536 " "io_submit never refused the read"
flog_has "^submit nr=1\$" "the read before the refused one did not go in alone"
[ "$(grep -c 'I/O error at byte' "$T/err")" -eq 1 ] ||
	fail "want one I/O error logged"
err_has "I/O error at byte 65536 \\(\\+4096\\): Invalid argument"
err_has "exiting with status 0"
pass "io_submit refuses one read of three: that one IOERR, the others OK"
