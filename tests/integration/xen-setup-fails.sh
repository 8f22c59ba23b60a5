#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Xen refusing, one at a time, each hypercall the daemon makes to set up a
# guest with two vCPUs and two disks (the simulator's XVB_SIM_FAIL): the
# vCPU count, creating the IOREQ server, mapping its ioreq page, enabling
# it, binding the second vCPU's event channel (the first is bound), and
# routing the second disk's window (the first is routed).
# Expected: one error line naming the step and Xen's reason, exit 1, and
# whatever was set up undone in Xen, in reverse: the channels bound so far
# unbound, the server disabled, its page unmapped, the server destroyed. A
# server left behind would keep the guest's accesses to the windows
# waiting for a process that is gone.
. "$(dirname "$0")/lib.sh"

mkimage "$T/a.img" 1M
mkimage "$T/b.img" 1M

# fails NAME:ERRNO[:N] MESSAGE UNDONE...: the daemon's start with that
# call refused logs MESSAGE (an ERE) as its only error and exits 1; the
# hypervisor's log shows each UNDONE call (an ERE), in that order.
fails() {
	f_fail=$1
	f_msg=$2
	shift 2
	sim --verbose --vcpus 2 --daemon-env "XVB_SIM_FAIL=$f_fail" \
		--disk "$T/a.img" --disk "$T/b.img" -c info &&
		fail "$f_fail: the session went on"
	err_has "refused \(XVB_SIM_FAIL\)" "$f_fail: nothing was refused"
	err_has "^xen-virtio-blk\[dom1\]: error: $f_msg$" "$f_fail"
	[ "$(grep -c '^xen-virtio-blk.*error:' "$T/err")" = 1 ] ||
		fail "$f_fail: more than one error line: $(grep error: "$T/err")"
	err_has 'was never served: the daemon exited, exit 1$' "$f_fail"
	f_from=1
	for f_undo in "$@"; do
		f_at=$(sed -n "$f_from,\$p" "$T/err" | grep -En "$f_undo" |
			head -n1 | cut -d: -f1)
		[ -n "$f_at" ] ||
			fail "$f_fail: '$f_undo' not done (after line $f_from)"
		f_from=$((f_from + f_at))
	done
	if grep -Eq 'Sanitizer|runtime error' "$T/err"; then
		fail "$f_fail: sanitizer report"
	fi
}

DESTROY='sim-hv: destroy_ioreq_server\(dom 1, id 0,.*\) = 0$'
DISABLE='sim-hv: set_ioreq_server_state\(dom 1, id 0, 0,.*\) = 0$'
UNMAP='unmap_resource\(.*\) = 0$'

fails nr_vcpus:3 'cannot get the vCPU count of domain 1: No such process'
grep -q 'create_ioreq_server' "$T/err" &&
	fail "nr_vcpus refused: a server was created all the same"
fails create_ioreq_server:28 \
	'cannot create an IOREQ server for domain 1: No space left on device'
fails map_resource:12 \
	'cannot map the ioreq page of server 0 \(domain 1\): Cannot allocate memory' \
	"$DESTROY"
fails set_ioreq_server_state:22 'cannot enable IOREQ server 0: Invalid argument' \
	"$UNMAP" "$DESTROY"
fails bind_interdomain:12:2 \
	'cannot bind event channel [0-9]+ of vCPU 1 \(domain 1\): Cannot allocate memory' \
	'sim-hv: unbind\(' "$DISABLE" "$UNMAP" "$DESTROY"
fails map_io_range_to_ioreq_server:28:2 \
	"$T/b.img: cannot serve MMIO window 0x2000200: No space left on device" \
	"$DISABLE" 'sim-hv: unbind\(' 'sim-hv: unbind\(' "$UNMAP" "$DESTROY"
pass "each set-up hypercall refused: one line, exit 1, Xen's state undone"
