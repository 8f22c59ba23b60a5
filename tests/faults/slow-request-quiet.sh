#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# One read the disk holds for 2 s, the guest waiting on it, its vCPU taking
# every interrupt the device raises meanwhile: no interrupt storm. Linux
# disables a line of which more than 99,900 of 100,000 interrupts find
# nothing to do (kernel/irq/spurious.c), and the simulated guest applies
# that rule; here we ask more: hardly any interrupt found nothing (a
# device re-raising its line at each acknowledgement fails both).
. "$(dirname "$0")/lib.sh"

mkimage "$T/disk.img" 16M
t0=$(date +%s%N)
fsim_ok 'delay:read:ms=2000:count=1' --disk "$T/disk.img" \
	-c 'random-io 20 1' -c stats
flog_has '^fault delay read ' "no read was held"
# Evidence that the guest did wait (a lower bound, whatever the machine).
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$ms" -ge 2000 ] || fail "the session took $ms ms: the guest did not wait"
n=$(sed -n 's/^device 0: .* spurious \([0-9]*\) .*/\1/p' "$T/out")
[ -n "$n" ] || fail "no interrupt count in the guest's statistics"
[ "$n" -le 5 ] || fail "$n interrupts found nothing to do"
pass "a request held 2 s: $n spurious interrupts in the session"
