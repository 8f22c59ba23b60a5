#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# The same head made available four times at once (§2.7.13: a driver does
# not reuse a chain before it is used).
# Expected (the daemon's choice): each entry is served as a request of its
# own on the same buffers: four used entries {0, 513}, status OK.
. "$(dirname "$0")/lib.sh"

setup
c raw-init 'hdr in 64' 'desc 0 hdr 16 N 1' 'desc 1 data 512 WN 2' \
	'desc 2 st 1 W' 'kick 0 0 0 0'
for _ in 1 2 3 4; do
	c 'used-expect 0 513'
done
c 'expect-mem st 1 0' 'expect-image data 512 32768' raw-good
finish "a head made available 4 times: served 4 times"
