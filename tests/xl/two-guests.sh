#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Two guests at once under --watch, each served by its own backend process:
# each one's disk holds what it wrote (foreign maps and interrupts reach
# the right domain); SIGKILL to one guest's process leaves the other one
# serving, and the supervisor does not start another process for the first.
. "$(dirname "$0")/lib.sh"

mkimage "$T/a.img" 16M
mkimage "$T/b.img" 16M
mkdata "$T/da" 131072
mkdata "$T/db" 131072
xsim_ok watch --vcpus 2 \
	-c "xl-create name=a disk=$T/a.img vcpus=2" \
	-c "xl-create name=b disk=$T/b.img" \
	-c "write 0 $T/db" \
	-c "xl-use a" \
	-c "write 0 $T/da" \
	-c "random-io 200 7 at=1048576 region=8" \
	-c "xl-use b" \
	-c "verify 0 $T/db" \
	-c "xl-use a" \
	-c "verify 0 $T/da" \
	-c "kill-child KILL a" \
	-c "expect-daemon-exit KILL a" \
	-c "xl-use b" \
	-c "random-io 200 8 at=1048576 region=8" \
	-c "verify 0 $T/db" \
	-c "expect-daemon-alive b" \
	-c "xs-settle" \
	-c "dom-info a"
host_extract "$T/b.img" 0 131072 "$T/h"
same "$T/db" "$T/h" "guest b's disk"
err_has 'domain 1: backend process [0-9]+ killed by signal 9'
[ "$(err_count 'domain 1: started backend process')" -eq 1 ] ||
	fail "the supervisor restarted guest a's process"
# SIGKILL left its mappings to the kernel: the zombie went all the same.
out_has '^dom 1: alive servers 1/0 live 1 .* mapped-now 0 released-at-exit [1-9]'
pass "a and b served by two processes; b unaffected by a's SIGKILL, no restart"
