# SPDX-License-Identifier: GPL-2.0-only
# Helpers for e2e guest scripts (busybox sh in the domU): `. /e2e/guest-lib.sh`
# Each check prints `E2E-CHECK <name> ok|fail [why]`, which tests/e2e/run
# counts; finish with `checks_done` (to the console: before asking dom0 for
# a reboot or a destroy as well), then `exit $E2E_FAILED`. check.py needs
# that closing line once per boot, and as many check lines as it counts:
# a script that died early, or a check line lost, is a failure.

E2E_FAILED=0
E2E_CHECKS=0

# checks_done: the closing line of this boot's checks.
checks_done()
{
	echo "E2E-GUEST-DONE checks=$E2E_CHECKS failed=$E2E_FAILED"
}

# check NAME COMMAND...: pass if COMMAND succeeds.
check()
{
	_n=$1
	shift
	E2E_CHECKS=$((E2E_CHECKS + 1))
	if "$@"; then
		echo "E2E-CHECK $_n ok"
	else
		echo "E2E-CHECK $_n fail: $*"
		E2E_FAILED=1
	fi
}

# check_fails NAME COMMAND...: pass if COMMAND fails.
check_fails()
{
	_n=$1
	shift
	E2E_CHECKS=$((E2E_CHECKS + 1))
	if "$@"; then
		echo "E2E-CHECK $_n fail: succeeded: $*"
		E2E_FAILED=1
	else
		echo "E2E-CHECK $_n ok"
	fi
}

# check_eq NAME GOT WANT
check_eq()
{
	E2E_CHECKS=$((E2E_CHECKS + 1))
	if [ "$2" = "$3" ]; then
		echo "E2E-CHECK $1 ok"
	else
		echo "E2E-CHECK $1 fail: got '$2', want '$3'"
		E2E_FAILED=1
	fi
}

# Guest uptime, for timing notes in the log.
stamp()
{
	echo "T+$(cut -d' ' -f1 /proc/uptime) $*"
}

drop_caches()
{
	sync
	echo 3 >/proc/sys/vm/drop_caches
}

# wait_for SECONDS COMMAND...: poll COMMAND every 0.1 s until it succeeds,
# for up to SECONDS of uptime; fails if it never did.
wait_for()
{
	_end=$(($(cut -d. -f1 /proc/uptime) + $1 + 1))
	shift
	until "$@" >/dev/null 2>&1; do
		[ "$(cut -d. -f1 /proc/uptime)" -lt $_end ] || return 1
		sleep 0.1
	done
}

# write_check NAME SEEK_MIB COUNT_MIB [DEV]: random data written O_DIRECT
# + fsync to DEV (/dev/vda), read back O_DIRECT after dropping caches;
# prints `SUM rw-NAME MD5` for the host script to find in the image, and
# leaves MD5 in $WROTE.
write_check()
{
	_dev=${4:-/dev/vda}
	dd if=/dev/urandom of=/tmp/p bs=1M count=$3 2>/dev/null
	WROTE=$(md5sum </tmp/p | cut -d' ' -f1)
	check $1-write dd if=/tmp/p of=$_dev bs=1M seek=$2 oflag=direct conv=fsync
	drop_caches
	check_eq $1-read-back "$(dd if=$_dev bs=1M skip=$2 count=$3 iflag=direct 2>/dev/null | md5sum | cut -d' ' -f1)" "$WROTE"
	echo "SUM rw-$1 $WROTE"
}

# size_is DEV SECTORS: the block device has that many 512-byte sectors.
size_is()
{
	[ "$(cat /sys/block/$1/size)" = "$2" ]
}

# md5 of LEN_SECTORS 512-byte sectors of FILE from sector SKIP.
md5_range()
{
	dd if="$1" bs=512 skip="$2" count="$3" 2>/dev/null | md5sum | cut -d' ' -f1
}

# ext4 is modular in Debian's kernel, and there is no modprobe database.
load_ext4()
{
	for _m in crc16 mbcache jbd2 crc32c_generic ext4; do
		insmod /mods/$_m.ko || return 1
	done
}
