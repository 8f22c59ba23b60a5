#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# A request driven by raw accesses only: the driver's steps done by hand
# with mmio-write, a ring built in guest RAM with mem-write, QueueNotify,
# the interrupt, InterruptStatus/ACK, the used ring and the data read back
# with mem-read. Then a high-level command resets and re-initialises.
. "$(dirname "$0")/lib.sh"

mkimage "$T/disk.img" 1M
fill_random "$T/disk.img"
host_extract "$T/disk.img" 4096 1024 "$T/expect"

RAM=$((0x40000000)) # the driver never uses the first MiB of RAM
# Queue of 8 at RAM+0: descriptors, avail ring at +0x1000, used at +0x2000;
# header at +0x3000, status at +0x3100, data (1 KiB) at +0x4000.
{
	desc $((RAM + 0x3000)) 16 1 1     # header, NEXT
	desc $((RAM + 0x4000)) 1024 3 2   # data, WRITE|NEXT
	desc $((RAM + 0x3100)) 1 2 0      # status, WRITE
} >"$T/desc"
{ le 0 2; le 1 2; le 0 2; } >"$T/avail"   # flags, idx 1, ring[0] = head 0
{ le 0 4; le 0 4; le 8 8; } >"$T/hdr"     # IN, ioprio, sector 8
printf '\377' >"$T/status"

w() { echo "-c 'mmio-write $1 4 $2'"; }
cmds="$(w 0x70 0) -c 'mmio-expect 0x70 4 0' $(w 0x70 1) $(w 0x70 3)"
cmds="$cmds $(w 0x14 1) -c 'mmio-read 0x10 4' $(w 0x14 0)"
cmds="$cmds $(w 0x24 1) $(w 0x20 1) $(w 0x24 0) $(w 0x20 0)"
cmds="$cmds $(w 0x70 0xb) -c 'mmio-expect 0x70 4 0xb'"
cmds="$cmds $(w 0x30 0) -c 'mmio-expect 0x44 4 0' $(w 0x38 8)"
cmds="$cmds $(w 0x80 $RAM) $(w 0x84 0) $(w 0x90 $((RAM + 0x1000)))"
cmds="$cmds $(w 0x94 0) $(w 0xa0 $((RAM + 0x2000))) $(w 0xa4 0)"
cmds="$cmds $(w 0x44 1) $(w 0x70 0xf) -c 'mmio-expect 0x70 4 0xf'"
cmds="$cmds -c 'mem-write $RAM $T/desc' -c 'mem-write $((RAM + 0x1000)) $T/avail'"
cmds="$cmds -c 'mem-write $((RAM + 0x3000)) $T/hdr'"
cmds="$cmds -c 'mem-write $((RAM + 0x3100)) $T/status'"
cmds="$cmds $(w 0x50 0) -c 'wait-irq 10000' -c 'mmio-expect 0x60 4 1'"
cmds="$cmds $(w 0x64 1) -c 'mmio-expect 0x60 4 0'"
cmds="$cmds -c 'mem-read $((RAM + 0x2000)) 12 $T/used'"
cmds="$cmds -c 'mem-read $((RAM + 0x3100)) 1 $T/status.after'"
cmds="$cmds -c 'mem-read $((RAM + 0x4000)) 1024 $T/data'"
cmds="$cmds -c 'verify 4096 $T/expect'"
eval sim_ok --disk "$T/disk.img" "$cmds"

# used ring: flags (not checked), idx 1, element {id 0, len 1024 + 1}
{ le 1 2; le 0 4; le 1025 4; } >"$T/used.expect"
tail -c 10 "$T/used" >"$T/used.tail"
same "$T/used.expect" "$T/used.tail" "used ring (idx, id, len)"
[ $((0x$(head -n1 "$T/out" | sed 's/^0x//') & 1)) -eq 1 ] ||
	fail "VERSION_1 missing from DeviceFeatures[1]"
printf '\000' >"$T/status.expect"
same "$T/status.expect" "$T/status.after" "status byte"
same "$T/expect" "$T/data" "data read through the hand-built ring"
pass "hand-built ring served, interrupt and ISR/ACK as specified"
