#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Xen keeps an IOREQ server's MMIO ranges in a rangeset, which merges
# adjacent ranges (xen/common/rangeset.c rangeset_add_range), and routes an
# access to a server when all its bytes lie in one range of the set
# (xen/common/ioreq.c ioreq_server_select: rangeset_contains_range). With
# two disks, libxl's windows 0x2000000-0x20001ff and 0x2000200-0x20003ff
# are adjacent and the daemon maps both on its one server: an access
# straddling them reaches the daemon, which must ignore it (reads 0,
# writes change nothing), while an access running past the last window,
# or past a lone window, is not forwarded (Xen injects a data abort:
# ENODEV here). Pinned against the simulator, which used to keep each
# range apart.
. "$(dirname "$0")/lib.sh"

mkimage "$T/a.img" 4M
mkimage "$T/b.img" 4M
mkdata "$T/d" 65536
sim_ok --disk "$T/a.img" --disk "$T/b.img" \
	-c info -c 'device 1' -c info -c 'device 0' \
	-c 'mmio-expect 0x1fe 4 0' -c 'mmio-expect 0x1ff 2 0' \
	-c 'mmio-expect 0x1fc 8 0' -c 'mmio-expect 0x1f8 8 0' \
	-c 'mmio-write 0x1fe 4 0xffffffff' -c 'mmio-write 0x1ff 2 0xffff' \
	-c 'mmio-write 0x1fc 8 0xffffffffffffffff' \
	-c 'device 1' \
	-c 'mmio-expect 0x000 4 0x74726976' -c 'mmio-expect 0x070 4 0xf' \
	-c 'expect ENODEV mmio-read 0x1fe 4' \
	-c 'expect ENODEV mmio-write 0x1fc 8 0' \
	-c "write 0 $T/d" -c "verify 0 $T/d" \
	-c 'device 0' -c 'mmio-expect 0x070 4 0xf' \
	-c "write 0 $T/d" -c "verify 0 $T/d" \
	-c 'stats'
out_has '^hypervisor: .* protocol-errors 0$'
# The six straddling accesses (three reads, three writes), and only they.
[ "$(grep -Ec 'ioreq: (read|write) of [248] bytes at 0x20001f[c-f] outside any device' "$T/err")" -eq 6 ] &&
	grep -q 'requests .* 6 outside any disk)' "$T/err" ||
	fail "the daemon did not report the six straddling accesses it ignored"
host_extract "$T/a.img" 0 65536 "$T/h"
same "$T/d" "$T/h" "disk 0"
host_extract "$T/b.img" 0 65536 "$T/h"
same "$T/d" "$T/h" "disk 1"

# One disk: nothing follows its window.
sim_ok --disk "$T/a.img" -c info \
	-c 'expect ENODEV mmio-read 0x1fe 4' \
	-c 'expect ENODEV mmio-write 0x1ff 2 0xffff' \
	-c 'mmio-expect 0x070 4 0xf' -c "verify 0 $T/d"
pass "adjacent windows merge: a straddling access is answered (0, ignored); past the last window: abort"
