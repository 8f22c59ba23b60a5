#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# --runas with a guest whose second disk libxl writes 300 ms after the
# first (as on the real test bed), both images readable by root only: the
# backend process must still open the second one, so it stays root until
# the guest first touches its disks, then serves both as nobody.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || skip "needs root to drop it"
mkimage "$T/a.img" 16M
mkimage "$T/b.img" 16M
chmod 0600 "$T/a.img" "$T/b.img"
mkdata "$T/d" 8192
for mode in watch domid; do
	xsim_ok "$mode" --daemon-arg --runas --daemon-arg nobody \
		-c "xl-create disk=$T/a.img disk=$T/b.img stagger=300" \
		-c "expect-state xvdb 2" \
		-c "device 1" \
		-c "write 4096 $T/d" \
		-c "verify 4096 $T/d" \
		-c "device 0" \
		-c "write 0 $T/d" \
		-c "expect-daemon-user nobody"
	if grep -q 'refused' "$T/err"; then
		fail "$mode: $(grep -m1 'refused' "$T/err")"
	fi
	err_has '\[dom1\]: running as nobody' "$mode: root not dropped"
	# Dropped once the guest ran, after both disks were open.
	awk '/xvdb\): .*state 2/ { d = 1 } /running as nobody/ { exit !d }' \
		"$T/err" || fail "$mode: root dropped before the second disk"
	host_extract "$T/b.img" 4096 8192 "$T/h"
	same "$T/d" "$T/h" "$mode: disk 1 after the guest's write"
done
pass "--runas: a disk libxl adds 300 ms later is opened as root, then served as nobody"
