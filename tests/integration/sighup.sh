#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# SIGHUP (a closed terminal, or a reload by habit) is logged and ignored:
# the daemon keeps serving and still drains and exits 0 on SIGTERM. Its
# default action would end the process with requests in flight.
. "$(dirname "$0")/lib.sh"

mkimage "$T/disk.img" 16M
mkdata "$T/d" 65536
sim_ok --disk "$T/disk.img" -c info -c 'signal-daemon HUP' \
	-c 'random-io 200 3' -c 'signal-daemon HUP' \
	-c "write 0 $T/d" -c "verify 0 $T/d" \
	-c 'signal-daemon TERM' -c 'expect-exit 0'
out_has '^random-io: .*verified'
err_has 'SIGHUP ignored: nothing to reload'
host_extract "$T/disk.img" 0 65536 "$T/h"
same "$T/d" "$T/h" "write after SIGHUP"
pass "SIGHUP: logged and ignored; serving and SIGTERM go on as before"
