#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# --watch passes --poll-us, --irq-poll-us, --idle-grace-us, --queues,
# --submit-batch and --io-threads on to the per-guest processes (they log
# these settings at debug level), and the guest's I/O is served with them:
# a 2-vCPU guest uses both queues.
. "$(dirname "$0")/lib.sh"

mkimage "$T/a.img" 16M
mkdata "$T/d" 65536
xsim_ok watch --vcpus 2 --daemon-arg --log-level=debug --daemon-arg --poll-us=20 \
	--daemon-arg --irq-poll-us=300 --daemon-arg --idle-grace-us=700 \
	--daemon-arg --queues=2 --daemon-arg --submit-batch=2 \
	--daemon-arg --io-threads -c "xl-create name=g1 disk=$T/a.img vcpus=2" -c info \
	-c "write 0 $T/d" -c "verify 0 $T/d"
err_has 'polling: 20 us after any work, 300 us after an interrupt; idle grace 700 us; 2 queue.s. per disk, each on an I/O thread; at most 2 request.s. per io_submit' \
	"the per-guest process"
grep -q '^queues: 2$' "$T/out" || fail "the guest does not use 2 queues"
host_extract "$T/a.img" 0 65536 "$T/h"
same "$T/d" "$T/h" "the disk on the host"
pass "--watch passes the tuning options on; I/O served on 2 queues"
