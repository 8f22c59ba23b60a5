#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# open(O_DIRECT) succeeds but statx says the file cannot do direct I/O (as
# Linux 6.1+ says of ext4 files with data=journal, where O_DIRECT quietly
# goes through the page cache): the image is opened again without
# O_DIRECT and served by the worker threads. Expected: writes and reads
# OK with the data in the image, none of them through libaio.
. "$(dirname "$0")/lib.sh"

case " $PATHS " in
*" aio "*) ;;
*) skip "no O_DIRECT here: nothing to fall back from" ;;
esac
mkdata "$T/a" 65536
mkimage "$T/disk.img" 8M
fsim_ok "nodirect:statx" --disk "$T/disk.img" \
	-c "write 0 $T/a" -c "write 1000448 $T/a" -c "verify 0 $T/a" \
	-c "verify 1000448 $T/a" -c flush
flog_has "^fault nodirect statx " "statx was never asked about the image"
flog_has "^open buffered $T/disk.img\$" "the image was not opened again buffered"
path_check sync
for off in 0 1000448; do
	host_extract "$T/disk.img" $off 65536 "$T/h"
	same "$T/a" "$T/h" "the write at $off"
done
err_has "exiting with status 0"
pass "statx says no direct I/O: the image served buffered by the workers"
