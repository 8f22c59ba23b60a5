#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# QueueReady=0 while a read is in flight (held back 500 ms at the disk):
# the write is answered only once the read has finished, so when the
# driver reads 0 back and refills the buffer (§4.2.2.2: it may reuse the
# queue's memory then), nothing from the device lands in it any more, not
# the data and not the status. Both engine paths. The guest waits 50 ms
# after its notification: a queue on an I/O thread takes the request only
# after the notification is answered, and would otherwise be stopped first.
. "$(dirname "$0")/lib.sh"

mkdata "$T/a.img" 4194304
mkimage "$T/b.img" 1M
mkdata "$T/bd" 4096
for p in $PATHS; do
	fsim_ok "$(path_rules "$p")delay:read:ms=500:offset=32768-33280" \
		--disk "$T/a.img" --disk "$T/b.img" \
		-c raw-init -c 'fill data 512 0xaa' \
		-c 'hdr in 64' -c 'desc 0 hdr 16 N 1' \
		-c 'desc 1 data 512 WN 2' -c 'desc 2 st 1 W' -c 'kick 0' \
		-c 'sleep 50' \
		-c 'mmio-write 0x44 4 0' -c 'mmio-expect 0x44 4 0' \
		-c 'expect-status 0x4f' -c 'expect-irq 2' \
		-c 'fill data 512 0x55' \
		-c 'expect ETIMEDOUT wait-irq 1000' \
		-c 'expect-fill data 512 0x55' -c 'expect-mem st 1 0xff' \
		-c 'device 1' -c "write 0 $T/bd" -c "verify 0 $T/bd"
	flog_has "^fault delay read $p " "$p: the read was not held back"
	host_extract "$T/b.img" 0 4096 "$T/bh"
	same "$T/bd" "$T/bh" "$p: the other disk's write"
done
pass "QueueReady=0 with a read in flight: answered after it, nothing written into the reused buffer ($PATHS paths)"
