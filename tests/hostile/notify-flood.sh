#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Notification floods (§2.7.10: the device MUST handle spurious
# notifications): 20000 for queue 0 from two vCPUs over 32 writes in
# flight, 5000 for a missing queue, 5000 for queue 0xffffffff, and 5000
# while a 64 KiB raw read is in flight.
# Expected: every write under the flood completes OK and is in the image;
# the read completes once with the image's data; the device serves on
# without re-initialisation; the daemon logs at most 100 lines (its
# guest-triggered warnings are rate-limited).
. "$(dirname "$0")/lib.sh"

setup vcpus=2
c init 'flood 20000 notify 0 vcpus=2 io=32' 'flood 5000 notify 1' \
	'flood 5000 notify 0xffffffff vcpus=2' "write 0 $T/d" "verify 0 $T/d" \
	raw-init 'hdr in 64' 'desc 0 hdr 16 N 1' 'desc 1 data 65536 WN 2' \
	'desc 2 st 1 W' 'kick 0' 'flood 5000 notify 0' 'used-expect 0 65537 0' \
	'expect-image data 65536 32768' used-none raw-good
LOG_LIMIT=100
finish_check() {
	n=$(daemon_log_lines)
	[ "$n" -le $LOG_LIMIT ] || fail "the daemon logged $n lines (limit $LOG_LIMIT)"
}
finish "notification floods: I/O intact, log bounded"
