#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# io_submit says EAGAIN (the kernel short of memory for the moment) with
# nothing of ours in flight, so no completion will come to retry after.
# Expected: the engine retries on a timer and the write lands, the guest
# never seeing an error; where the kernel keeps refusing, the write fails
# (IOERR) after about a second instead of hanging, reads go on, and
# SIGTERM still exits 0.
. "$(dirname "$0")/lib.sh"

case " $PATHS " in
*" aio "*) ;;
*) skip "no O_DIRECT here: the libaio path cannot be tested" ;;
esac
mkdata "$T/a" 65536
mkimage "$T/disk.img" 8M
fsim_ok "eagain:write:count=3" --disk "$T/disk.img" \
	-c "write 0 $T/a" -c "verify 0 $T/a"
[ "$(grep -c '^fault eagain write aio' "$FLOG")" -eq 3 ] ||
	fail "want 3 refused submissions, the fault log has $(grep -c '^fault eagain' "$FLOG")"
err_has "io_submit: Resource temporarily unavailable; retrying"
host_extract "$T/disk.img" 0 65536 "$T/h"
same "$T/a" "$T/h" "the write retried after EAGAIN"

fsim_ok "eagain:write:offset=1m-2m" --disk "$T/disk.img" \
	-c "expect IOERR write 1048576 $T/a" -c "verify 0 $T/a" \
	-c "write 65536 $T/a" -c "verify 65536 $T/a"
n=$(grep -c '^fault eagain write aio' "$FLOG")
[ "$n" -ge 10 ] || fail "the refused write was retried only $n times"
err_has "exiting with status 0"
pass "EAGAIN from io_submit with nothing in flight: retried, and an IOERR after a second of refusals"
