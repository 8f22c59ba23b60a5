#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# A request storm of random chains: random headers (every type, sectors
# in and past the disk), random lengths (0 to near 2^32), flags, next
# indices (in and out of range), indirect tables of random size, addresses
# at and past the edges of RAM and wrapping 2^64; 3000 on a queue of 8,
# 500 on a queue of 4, 500 with EVENT_IDX.
# Expected: every chain is given back with its own head (the daemon stays
# alive, no access outside RAM or the image, no NEEDS_RESET), and the
# queue still serves a good read afterwards.
. "$(dirname "$0")/lib.sh"

# A daemon that answered every chain alike (say, used len 0 for all) would
# also stay alive: each storm must have both good and refused chains.
finish_check() {
	[ "$(grep -c '^chain-storm: .* answered: [1-9][0-9]* OK, [1-9][0-9]* IOERR' "$T/out")" -eq 3 ] ||
		fail "a storm without both OK and IOERR answers: $(grep -m3 '^chain-storm:' "$T/out" | tr '\n' ' ')"
}

setup
c "raw-init features=$FEAT_DEF,DISCARD,WRITE_ZEROES" 'chain-storm 3000 1' \
	'expect-status 0xf' raw-good \
	'raw-init num=4' 'chain-storm 500 2' raw-good \
	"raw-init features=$FEAT_DEF,EVENT_IDX" 'chain-storm 500 3' raw-good
finish "3000 + 500 + 500 random chains answered"
