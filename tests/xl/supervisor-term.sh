#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# SIGTERM to the supervisor with two guests running: every backend process
# drains, closes its disks (state 6), unmaps everything and exits 0; then
# the supervisor exits 0. A SIGHUP before it goes on to the backend
# processes, which look at their images' sizes: the first guest's image,
# grown meanwhile, gets its new "sectors" node; it is served on and the
# second guest is still taken.
. "$(dirname "$0")/lib.sh"

mkimage "$T/a.img" 16M
mkimage "$T/b.img" 16M
mkdata "$T/d" 65536
xsim_ok watch \
	-c "xl-create name=a disk=$T/a.img" \
	-c "host-truncate $T/a.img 33554432" \
	-c "signal-daemon HUP" \
	-c "expect-node /local/domain/0/backend/virtio_disk/1/51712/sectors 65536 5000" \
	-c "write 0 $T/d" -c "verify 0 $T/d" \
	-c "xl-create name=b disk=$T/b.img" \
	-c "write 0 $T/d" \
	-c "signal-daemon TERM" \
	-c "expect-daemon-exit 0 a" \
	-c "expect-daemon-exit 0 b" \
	-c "expect-exit 0" \
	-c "expect-state xvda 6" \
	-c "pages-mapped 0 b" \
	-c "xl-use a" \
	-c "expect-state xvda 6" \
	-c "pages-mapped 0 a"
err_has 'SIGTERM: stopping 2 backend process\(es\)'
err_has 'every backend process has exited'
err_has 'SIGHUP: passed on to 1 backend process'
err_has 'SIGHUP: looking at the images. sizes'
pass "supervisor SIGHUP passed on (a resize reaches xenstore); SIGTERM: both backend processes closed and exited 0, then it"
