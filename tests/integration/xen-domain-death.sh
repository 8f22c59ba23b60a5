#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# docs/xen-notes.md 3, a daemon started with --disk (no xenstore) as in the
# e2e runs:
# - libxl writes state 5 and only pauses the domain until state 6: a
#   daemon stopped then (SIGTERM) tears down normally (its DMOPs succeed,
#   nothing is left mapped), and the domain, destroyed afterwards, goes at
#   once: the daemon never meets a dying domain;
# - with 6 written while the daemon runs, Xen destroys the domain (and its
#   IOREQ server) and sends the daemon nothing: the domain stays a dying
#   zombie while the daemon maps its pages; on SIGTERM the daemon's disable
#   and destroy of the server fail with ENOENT ("guest gone"), it exits 0,
#   and the zombie is gone once everything is unmapped.
. "$(dirname "$0")/lib.sh"

mkimage "$T/a.img" 8M
mkdata "$T/d" 65536
DBG="--daemon-arg --log-level --daemon-arg debug"

# Paused at state 5, stopped before 6.
# shellcheck disable=SC2086 # $DBG is split on purpose
sim_ok --verbose $DBG --disk "$T/a.img" \
	-c "write 0 $T/d" -c "verify 0 $T/d" \
	-c xen-pause -c 'expect-domain paused' \
	-c 'signal-daemon TERM' -c 'expect-exit 0' \
	-c 'expect-domain paused' -c stats \
	-c xen-destroy -c 'expect-domain gone'
out_has '^domain 1: paused, servers 0 live, pages-mapped 0$'
out_has '^hypervisor: .* servers 1/1 .* mapped-now 0 protocol-errors 0$'
grep -q 'guest gone' "$T/err" && fail "paused domain: the daemon met a dead guest"
grep -Eq 'sim-hv: destroy_ioreq_server\(dom 1, id 0.*\) = 0$' "$T/err" ||
	fail "paused domain: the daemon did not destroy its server itself"

# 6 written while the daemon runs: Xen destroys the domain under it.
# shellcheck disable=SC2086
sim_ok --verbose $DBG --disk "$T/a.img" \
	-c "verify 0 $T/d" \
	-c xen-destroy -c 'expect-domain dying' \
	-c 'signal-daemon TERM' -c 'expect-exit 0' \
	-c 'expect-domain gone'
# The zombie: no server left, guest pages still mapped by the daemon.
out_has '^domain 1: dying, servers 0 live, pages-mapped [1-9][0-9]*$'
out_has '^domain 1: gone'
# The daemon's own lines in the order the e2e log shows them.
grep -E '^xen-virtio-blk\[dom1\]: ' "$T/err" |
	grep -E 'SIGTERM|guest gone|exiting with status' >"$T/seq"
printf '%s\n' \
	'xen-virtio-blk[dom1]: SIGTERM: finishing in-flight requests, then exiting' \
	'xen-virtio-blk[dom1]: debug: ioreq: disable server: guest gone' \
	'xen-virtio-blk[dom1]: debug: ioreq: destroy server: guest gone' \
	'xen-virtio-blk[dom1]: exiting with status 0' >"$T/want"
cmp -s "$T/seq" "$T/want" ||
	fail "daemon log after the death: $(tr '\n' '|' <"$T/seq")"
for op in set_ioreq_server_state destroy_ioreq_server; do
	grep -Eq "sim-hv: $op\(dom 1, id 0.*\) = -2$" "$T/err" ||
		fail "$op on the dead domain's server did not fail with ENOENT"
done
pass "paused at state 5: normal teardown; destroyed under the daemon: zombie, no event, ENOENT, exit 0, gone"
