#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Zero-length buffers, which carry no bytes when the chain is parsed by
# byte offset (ANY_LAYOUT, §2.7.4): empty descriptors before the header,
# between data and after the status are skipped and the read is served; a
# read whose only data buffer is empty is a 0-byte read; a chain whose
# every buffer is empty has neither header nor status.
# Expected: {0, 513} OK with the data; {6, 1} OK; {9, 0} untouched status.
. "$(dirname "$0")/lib.sh"

setup
c 'raw-init num=16' 'hdr in 64' \
	'desc 0 hdr 0 N 1' 'desc 1 hdr 16 N 2' 'desc 2 data 0 WN 3' \
	'desc 3 data 512 WN 4' 'desc 4 st 1 WN 5' 'desc 5 data+4096 0 W' \
	'kick 0' 'used-expect 0 513 0' 'expect-image data 512 32768' \
	'hdr in 64' 'desc 6 hdr 16 N 7' 'desc 7 data 0 WN 8' 'desc 8 st 1 W' \
	'kick 6' 'used-expect 6 1 0' \
	'hdr in 64' 'desc 9 hdr 0 N 10' 'desc 10 st 0 W' \
	'kick 9' 'used-expect 9 0 -' raw-good
finish "zero-length buffers skipped; all-empty chain: used len 0"
