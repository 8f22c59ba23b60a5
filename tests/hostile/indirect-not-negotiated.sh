#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# An indirect descriptor on a queue whose driver did not accept
# VIRTIO_F_INDIRECT_DESC (§2.7.5.3.1: only with the feature).
# Expected: used len 0, nothing written; direct chains are served.
. "$(dirname "$0")/lib.sh"

setup
c "raw-init features=$FEAT_MIN" 'hdr in 64' 'fill data 512 0xaa' \
	'idesc table 0 hdr 16 N 1' 'idesc table 1 data 512 WN 2' \
	'idesc table 2 st 1 W' 'desc 0 table 48 I' \
	'kick 0' 'used-expect 0 0 -' 'expect-fill data 512 0xaa' raw-good
finish "indirect without the feature: used len 0"
