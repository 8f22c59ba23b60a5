#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Available ring entries naming heads past the descriptor table: 8, 100
# and 65535 in a queue of 8.
# Expected (the daemon's choice): each entry is consumed and given back as
# it was placed (§2.7.8: the used id is the head the driver made
# available) with used len 0, no descriptor read; the queue keeps serving.
. "$(dirname "$0")/lib.sh"

setup
c raw-init 'kick 8' 'used-expect 8 0 -' 'kick 100' 'used-expect 100 0 -' \
	'kick 65535' 'used-expect 65535 0 -' 'expect-status 0xf' raw-good
finish "heads out of range: given back with used len 0"
