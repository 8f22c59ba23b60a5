#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# xenstored dies (here just after a write under the guest's backend
# directory, so that the supervisor and the guest's backend process each
# have a watch event queued: libxenstore tells a client of the loss only
# then). Each says so in one error line and goes on: the guest keeps its
# disk (I/O works), no close condition can be seen any more, and SIGTERM
# still stops both with status 0, the backend process after draining.
. "$(dirname "$0")/lib.sh"

mkimage "$T/a.img" 16M
mkdata "$T/d" 65536
mkdata "$T/e" 65536
xsim_ok watch \
	-c "xl-create disk=$T/a.img" \
	-c "write 0 $T/d" \
	-c "xenstored-dies {be}/51712/hotplug-status connected" \
	-c "xs-settle" \
	-c "write 65536 $T/e" \
	-c "verify 0 $T/d" \
	-c "verify 65536 $T/e" \
	-c "expect-daemon-alive" \
	-c "signal-daemon TERM" \
	-c "expect-daemon-exit 0" \
	-c "expect-exit 0"
err_has '^xen-virtio-blk\[dom1\]: error: xenstore: lost the connection \(Invalid argument\); serving on until SIGTERM$'
err_has '^xen-virtio-blk: error: xenstore: lost the connection \(Invalid argument\): no new guest will be served; running ones keep their backends$'
[ "$(err_count 'lost the connection')" -eq 2 ] ||
	fail "the loss reported $(err_count 'lost the connection') times, expected twice"
err_has '^xen-virtio-blk\[dom1\]: SIGTERM: finishing in-flight requests'
err_has '^xen-virtio-blk: every backend process has exited$'
host_extract "$T/a.img" 65536 65536 "$T/h"
same "$T/e" "$T/h" "image after a write with xenstore gone"
pass "xenstore lost: both say so once and serve on; SIGTERM stops them, exit 0"
