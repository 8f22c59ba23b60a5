#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Guest reset and re-initialisation: a raw Status write of 0 clears the
# device (Status, QueueReady), the next command probes again and works;
# re-initialising with other features works too.
. "$(dirname "$0")/lib.sh"

mkimage "$T/disk.img" 4M
mkdata "$T/a" 65536
mkdata "$T/b" 65536

sim_ok --disk "$T/disk.img" -c 'write 0 '"$T/a" -c 'mmio-write 0x70 4 0' \
	-c 'mmio-expect 0x70 4 0' -c 'mmio-write 0x30 4 0' \
	-c 'mmio-expect 0x44 4 0' -c 'mmio-expect 0x60 4 0' \
	-c 'verify 0 '"$T/a" -c 'write 65536 '"$T/b" -c reset \
	-c 'verify 65536 '"$T/b" -c 'features -INDIRECT_DESC,-EVENT_IDX' \
	-c info -c 'random-io 200 31 64 at=1048576' -c 'features all' -c init \
	-c 'verify 0 '"$T/a" -c stats
grep -q '^driver-features: .*INDIRECT_DESC' "$T/out" &&
	fail "INDIRECT_DESC negotiated although the driver refused it"
# Reset while requests are in flight: completed writes are on disk and
# the device writes nothing into guest RAM after the reset.
for seed in 1 2; do
	sim_ok --disk "$T/disk.img" -c 'reset-under-io 96 '"$seed" \
		-c 'random-io 100 3'"$seed"' 64'
	out_has '^reset-under-io: [0-9]+ of [0-9]+ writes completed'
done
pass "reset clears the device, re-initialisation works"
