#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# --poll-us, --irq-poll-us and --idle-grace-us: with the event loop polling
# (ioreq slots, the AIO completion ring, the avail ring), or polling only
# for the guest's acknowledgement of each interrupt, or not at all, or with
# notifications kept off for a while after each drain, random writes from two
# vCPUs read back identical and match the image, reset and SIGTERM under
# I/O still drain; a bad value is refused at start with exit 2 and one line.
. "$(dirname "$0")/lib.sh"

mkimage "$T/disk.img" 16M
for opt in --poll-us=50 --poll-us=2000 --irq-poll-us=0 --irq-poll-us=5000 \
	--idle-grace-us=300 --idle-grace-us=20000 --idle-grace-us=0; do
	sim_ok --vcpus 2 --daemon-arg "$opt" --disk "$T/disk.img" \
		-c 'random-io 400 21 128' -c 'reset-under-io 32 4' \
		-c 'random-io 200 22 64' -c 'term-under-io 32 5'
	out_has '^random-io: .*verified$'
done

for opt in --poll-us --irq-poll-us --idle-grace-us; do
	for bad in x -5 1000001; do
		"$DAEMON" --domid 1 --foreground $opt "$bad" \
			--disk "$T/disk.img" >"$T/o" 2>&1
		rc=$?
		[ $rc -eq 2 ] || fail "$opt $bad: exit $rc, expected 2"
		[ "$(wc -l <"$T/o")" -eq 1 ] &&
			grep -q "^xen-virtio-blk: $opt '$bad'" "$T/o" ||
			fail "$opt $bad: not one line naming it: $(cat "$T/o")"
	done
done
pass "polling and idle grace: data verified, reset and SIGTERM drain; bad values exit 2"
