#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Faults that make the libaio engine change course still never lose data or
# report a failure as success: EFAULT on zero-copy O_DIRECT (as on Xen
# foreign mappings) switches to bounce buffers and retries, and errors on
# the bounce path are IOERR; a FLUSH (fdatasync on a worker thread) that
# fails is IOERR, and so is every later FLUSH though it syncs
# (tests/faults/flush-error-sticky.sh).
. "$(dirname "$0")/lib.sh"

case " $PATHS " in
*" aio "*) ;;
*) skip "no O_DIRECT here: the libaio path cannot be tested" ;;
esac
M=1048576
mkdata "$T/a" 65536
mkimage "$T/disk.img" 8M
fsim_ok "efault:rw:via=aio:count=1;eio:fdsync:via=sync:count=1;eio:write:offset=2m-3m" \
	--disk "$T/disk.img" \
	-c "write 0 $T/a" -c "verify 0 $T/a" \
	-c "expect IOERR flush" -c "expect IOERR flush" \
	-c "expect IOERR write $((2 * M)) $T/a" \
	-c "write $M $T/a" -c "verify $M $T/a" -c "expect IOERR flush"
err_has "using bounce buffers"
flog_has "^fault efault write aio " "no EFAULT"
flog_has "^fault eio write aio " "no EIO on the bounce path"
flog_has "^fault eio fdsync sync " "no EIO from fdatasync"
flog_has "^fdsync-done sync res=0" "no successful fdatasync"
for off in 0 $M; do
	host_extract "$T/disk.img" $off 65536 "$T/h"
	same "$T/a" "$T/h" "write at $off"
done
# Not a byte of it: the image there was never written.
host_extract "$T/disk.img" $((2 * M)) 65536 "$T/h"
head -c 65536 /dev/zero >"$T/z"
cmp -s "$T/z" "$T/h" || fail "a write reported as failed is (partly) in the image"
pass "EFAULT -> bounce buffers; its errors and fdatasync's are IOERR"
