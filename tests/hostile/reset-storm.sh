#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# A reset storm: 60 rounds of initialise, up to 16 writes in flight from a
# random vCPU, reset (every fifth round resets half-way through the
# handshake instead), then 400 back-to-back resets from two vCPUs at once.
# Expected: every reset completes (Status reads 0), no write completes
# with an error, no guest memory given up at a reset is written
# afterwards, the device initialises and serves after each round.
. "$(dirname "$0")/lib.sh"

setup vcpus=2
c 'reset-storm 60 5' init 'flood 400 write 0x70 4 0 vcpus=2' \
	'expect-status 0' raw-init raw-good
finish "reset storm survived"
