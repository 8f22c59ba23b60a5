#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# An image resized under a running guest (a file extended or cut, as a
# logical volume would be): the daemon serves the new capacity, bumps
# ConfigGeneration and raises a configuration change interrupt (§5.2.4:
# Linux re-reads the capacity). SIGHUP looks at once; otherwise within
# about 2 s. Past the old end a write is IOERR before and lands after; past
# a shrunken end it is IOERR again. SIGHUP changes nothing else: serving
# and the SIGTERM drain go on.
. "$(dirname "$0")/lib.sh"

M=1048576
mkimage "$T/disk.img" 16M
mkdata "$T/d" 65536
sim_ok --disk "$T/disk.img" -c info \
	-c 'expect IOERR request 1 32768 4096 out' -c 'mmio-expect 0xfc 4 0' \
	-c "host-truncate $T/disk.img $((32 * M))" -c 'signal-daemon HUP' \
	-c 'expect-irq 2' -c 'mmio-expect 0xfc 4 1' \
	-c 'mmio-expect 0x100 4 65536' \
	-c "write $((16 * M)) $T/d" -c "verify $((16 * M)) $T/d" \
	-c 'random-io 200 3' \
	-c "host-truncate $T/disk.img $((16 * M))" \
	-c 'expect-irq 2' -c 'mmio-expect 0xfc 4 2' \
	-c 'mmio-expect 0x100 4 32768' \
	-c 'expect IOERR request 1 32768 4096 out' \
	-c "write 0 $T/d" -c "verify 0 $T/d" \
	-c 'signal-daemon TERM' -c 'expect-exit 0'
out_has '^random-io: .*verified'
err_has 'SIGHUP: looking at the images. sizes'
err_has 'resized from 32768 to 65536 sectors'
err_has 'resized from 65536 to 32768 sectors'
host_extract "$T/disk.img" 0 65536 "$T/h"
same "$T/d" "$T/h" "a write after the image shrank"
pass "resized image: new capacity served, ConfigGeneration bumped, config interrupt (SIGHUP and periodic)"
