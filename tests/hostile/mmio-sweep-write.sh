#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# All-ones writes of 1, 2, 4 and 8 bytes at every offset of the window the
# device must ignore: misaligned or mis-sized control accesses (§4.2.2.2:
# 32-bit aligned only), the whole config space (nothing writable without
# CONFIG_WCE), and writes straddling the window's end (forwarded by Xen
# into disk 0's, whose neighbour window is the same server's, aborted
# past disk 1's); on a running device with data on it and on an
# uninitialised one.
# Expected: every control register and config byte reads as before, and
# the running device serves without being re-initialised.
. "$(dirname "$0")/lib.sh"

setup
c init "write 0 $T/d" sweep-write "verify 0 $T/d" \
	'device 1' sweep-write init sweep-write "write 0 $T/d" 'device 0'
finish "ignored writes left registers and config unchanged"
