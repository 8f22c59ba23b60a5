#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Reads of 1, 2, 4 and 8 bytes at every offset of the 0x200-byte window,
# aligned or not, and 8 bytes past it, before and after initialisation, on
# both disks (disk 1's window is the last one: nothing is mapped after it).
# Expected: control registers answer only aligned 32-bit reads (§4.2.2.2),
# other accesses there read 0; the config space reads the same bytes at
# any size and alignment, 0 past the config structure; an access not
# inside the window reads 0 when it runs into disk 1's adjacent window
# (Xen merges the two ranges of the daemon's server and forwards it,
# docs/xen-notes.md 2), and is refused by Xen (data abort) past disk 1's.
. "$(dirname "$0")/lib.sh"

setup
c sweep-read init sweep-read 'device 1' sweep-read init sweep-read
finish "every read at every offset answered consistently"
