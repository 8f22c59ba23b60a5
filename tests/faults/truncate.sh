#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# The image is truncated on the host while the daemon serves it (to 4 MiB
# + 1000 bytes of its 8 MiB). Reads beyond the new end, or straddling it,
# are short transfers: IOERR. Reads within still work and return the old
# data. A write beyond the new end is not lost: the file grows back and the
# data reads back, through the device and on the host. The daemon lives on.
# Both engine paths.
. "$(dirname "$0")/lib.sh"

M=1048576
END=$((4 * M + 1000))
mkdata "$T/a" 65536
for p in $PATHS; do
	mkimage "$T/disk.img" 8M
	fill_random "$T/disk.img"
	host_extract "$T/disk.img" 0 $M "$T/low"
	host_extract "$T/disk.img" $((4 * M - 65536)) 65536 "$T/edge"
	host_extract "$T/disk.img" $((4 * M)) 512 "$T/last"
	fsim_ok "$(path_rules "$p")" --disk "$T/disk.img" \
		-c "verify 0 $T/low" \
		-c "host-truncate $T/disk.img $END" \
		-c "expect IOERR read $((6 * M)) 4096 $T/x" \
		-c "expect IOERR read $((4 * M - 32768)) 65536 $T/x" \
		-c "expect IOERR read $((4 * M + 512)) 512 $T/x" \
		-c "verify 0 $T/low" \
		-c "verify $((4 * M - 65536)) $T/edge" \
		-c "verify $((4 * M)) $T/last" \
		-c "write $((6 * M)) $T/a" -c flush \
		-c "verify $((6 * M)) $T/a" -c "verify 0 $T/low" -c info
	path_check "$p"
	grep -Eq '^capacity: 16384 sectors' "$T/out" ||
		fail "$p: the guest's capacity changed"
	host_extract "$T/disk.img" $((6 * M)) 65536 "$T/h"
	same "$T/a" "$T/h" "$p: write beyond the truncated end"
done
pass "reads past a truncated end are IOERR, within work, writes past it are kept ($PATHS paths)"
