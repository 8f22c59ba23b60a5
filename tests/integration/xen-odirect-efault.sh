#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# docs/xen-notes.md 1: on Xen, O_DIRECT into the daemon's foreign mappings
# of guest RAM fails with EFAULT (privcmd VMAs are VM_IO|VM_PFNMAP, which
# get_user_pages refuses) while buffered I/O into them works. The simulator
# holds guest RAM in secret memory (memfd_secret), which the kernel refuses
# to pin in the same way. Pinned: on an image that takes O_DIRECT, the
# daemon logs the refusal once per disk at its first request, switches to
# bounce buffers, and every byte still verifies, in the guest and on the
# host. Without secret memory the simulator falls back to a plain memfd
# (one warning): then this is SKIPped when not root, and FAILs as root,
# where only a kernel without memfd_secret can cause it.
. "$(dirname "$0")/lib.sh"

# O_DIRECT on the images' file system, or the engine never tries it.
direct_io_here || skip "no O_DIRECT in ${TMPDIR:-/tmp}"

mkimage "$T/a.img" 32M
mkimage "$T/b.img" 16M
mkdata "$T/d" 262144
sim_ok --disk "$T/a.img" --disk "$T/b.img" \
	-c stats \
	-c "random-io 300 11" -c "write 1048576 $T/d" -c flush \
	-c 'device 1' -c "random-io 200 12 128 reads=30" \
	-c "write 65536 $T/d" -c "verify 65536 $T/d"
backing=$(sed -n 's/^guest-ram: //p' "$T/out" | head -n1)
case $backing in
memfd_secret) ;;
memfd)
	if [ "$(id -u)" -ne 0 ]; then
		skip "no secret memory for guest RAM (not root: RLIMIT_MEMLOCK?)"
	fi
	fail "guest RAM is a plain memfd although we are root: $(grep -m1 'secret memory' "$T/err")"
	;;
*) fail "no 'guest-ram:' line in stats" ;;
esac

# Once per disk (each has its own engine), and only with loose wording:
# the engine's message may change.
n=$(grep -Eci 'O_DIRECT.*EFAULT.*bounce' "$T/err")
[ "$n" -eq 2 ] ||
	fail "$n lines about O_DIRECT refused with EFAULT, expected one per disk (2)"
grep -Eiq 'IOERR|I/O error' "$T/err" && fail "an I/O error reached the log"
host_extract "$T/a.img" 1048576 262144 "$T/h"
same "$T/d" "$T/h" "disk 0 on the host"
host_extract "$T/b.img" 65536 262144 "$T/h"
same "$T/d" "$T/h" "disk 1 on the host"
pass "O_DIRECT into guest RAM fails with EFAULT as on Xen; bounce buffers, data intact"
