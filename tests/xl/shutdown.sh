#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# The guest shuts itself down (e2e-testbed.md Part 2 Q5: an orderly one
# resets its devices first, then @releaseDomain with shutdown=1). For
# poweroff, reboot and crash the backend process closes by itself, even
# when xl keeps the domain (on_*=preserve): state 6, nothing mapped, exit
# 0. With xl's default actions the teardown completes quickly (a reboot
# comes back as a new domain). A suspend is not a shutdown: the disks stay
# served, and work once the domain resumes (xl save -c). The daemon's
# SIGUSR1 statistics show it has handled the @releaseDomain it read.
. "$(dirname "$0")/lib.sh"

mkimage "$T/a.img" 16M
mkdata "$T/d" 65536
for reason in poweroff reboot crash; do
	xsim_ok watch \
		-c "xl-create disk=$T/a.img" \
		-c "write 0 $T/d" \
		-c "xl-shutdown $reason action=preserve" \
		-c "expect-state xvda 6" \
		-c "expect-daemon-exit 0" \
		-c "pages-mapped 0" \
		-c "expect-dom alive"
	err_has "domain 1 has shut down \($reason\)" "$reason"
	err_has 'closed \(state 6\)' "$reason"
done

xsim_ok watch \
	-c "xl-create disk=$T/a.img" \
	-c "verify 0 $T/d" \
	-c "xl-shutdown poweroff" \
	-c "expect-daemon-exit 0" \
	-c "expect-dom gone" \
	-c "xl-create disk=$T/a.img" \
	-c "verify 0 $T/d" \
	-c "xl-shutdown reboot" \
	-c "verify 0 $T/d" \
	-c "expect-daemon-exit 0 2" \
	-c "expect-dom gone 2" \
	-c "xl-shutdown crash" \
	-c "expect-daemon-exit 0 3" \
	-c "expect-dom gone 3"
out_has '^xl-shutdown: dom 1: every backend closed'
out_has '^xl-shutdown: dom 2 is now dom 3$'

xsim_ok watch --daemon-arg --log-level --daemon-arg debug \
	-c "xl-create disk=$T/a.img" \
	-c "verify 0 $T/d" \
	-c "xl-shutdown suspend" \
	-c "xs-settle" \
	-c "kill-child USR1" \
	-c "expect-node {be}/51712/statistics/rd_req *" \
	-c "expect-state xvda 4 0" \
	-c "expect-daemon-alive" \
	-c "xl-resume" \
	-c "write 0 $T/d" \
	-c "verify 0 $T/d" \
	-c "xl-destroy" \
	-c "expect-daemon-exit 0"
err_has 'domain 1: shutdown \(suspend\), still served'

# A resume (xl save -c) tells xenstored (XS_RESUME), which then announces
# the next shutdown too: a poweroff the toolstack preserves afterwards
# still closes the backend.
xsim_ok watch \
	-c "xl-create disk=$T/a.img" \
	-c "xl-shutdown suspend" \
	-c "xs-settle" \
	-c "xl-resume" \
	-c "verify 0 $T/d" \
	-c "xl-shutdown poweroff action=preserve" \
	-c "expect-state xvda 6" \
	-c "expect-daemon-exit 0"
err_has "domain 1 has shut down \(poweroff\)" "poweroff after a resume"
pass "poweroff, reboot, crash close the backend (exit 0); a suspend does not"
