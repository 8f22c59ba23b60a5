#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# A guest reset with requests really in flight: writes in the first 512 KiB
# are slowed down by 300 ms (libfault delay), the guest queues up to 96
# writes and resets the device 50 ms later (so that the device has taken
# some: queues on I/O threads may start on them after the reset otherwise).
# Writes published before the reset
# completed must be OK and in the image; the device must write nothing into
# the old rings or buffers after the reset (quarantined guest RAM), and
# must serve the re-initialised device (random-io with a model). Both
# engine paths. Then with two queues (on one thread, and on I/O threads):
# one read on queue 1 is held back a second, so the reset must wait for
# that queue's engine too; reads answered before it equal the image, and
# the late read must not land in the old buffers (looked at after it
# completed).
. "$(dirname "$0")/lib.sh"

for p in $PATHS; do
	for seed in 1 2; do
		mkimage "$T/disk.img" 32M
		fsim_ok "$(path_rules "$p")delay:write:ms=300:offset=0-512k" \
			--disk "$T/disk.img" -c "reset-under-io 96 $seed after=50" \
			-c "random-io 200 4$seed 64 at=1048576"
		out_has '^reset-under-io: [0-9]+ of [0-9]+ writes completed'
		out_has '^random-io: .*verified'
		flog_has "^fault delay write $p " "$p: no write was delayed"
		path_check "$p"
	done
done
# Not zeros: a late read must change the buffer it lands in.
mkdata "$T/disk.img" 16777216
for th in "" "--daemon-arg --io-threads"; do
	# The second read goes to vCPU 1, which Linux maps to queue 1.
	fsim_ok "delay:read:ms=1000:skip=1:count=1" --vcpus 2 \
		--daemon-arg --queues=2 $th --disk "$T/disk.img" \
		-c "reset-under-io 64 3 reads linger=1500" -c stats
	out_has '^reset-under-io: [0-9]+ of [0-9]+ reads completed'
	flog_has "^fault delay read " "${th:-one thread}: no read was delayed"
done
pass "reset with delayed writes in flight: nothing written after it, device works again ($PATHS paths); a read held on queue 1 is waited for (one thread and I/O threads)"
