#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# IOREQ_TYPE_INVALIDATE before the first access (as Xen sends it at boot)
# and over and over during I/O from two vCPUs: data stays correct.
. "$(dirname "$0")/lib.sh"

mkimage "$T/disk.img" 8M
sim_ok --vcpus 2 --disk "$T/disk.img" -c invalidate -c info \
	-c 'random-io 600 41 128 invalidate=3' -c invalidate \
	-c 'random-io 100 42 64'
out_has '^random-io: .* [1-9][0-9]* invalidates'
pass "invalidations during I/O, data verified"
