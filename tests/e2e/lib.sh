# SPDX-License-Identifier: GPL-2.0-only
# Host-side helpers of the real-Xen e2e harness (sourced by tests/e2e/run).
#
# Everything is cached under build/e2e/ (git-ignored); each prepare_* step
# is idempotent and cheap when its output is up to date. See docs/e2e.md.

E2E_DIR=${E2E_DIR:-$(cd "$(dirname "$0")" && pwd)}
ROOT=$(cd "$E2E_DIR/../.." && pwd)
OUT=$ROOT/build/e2e
STAGE=$OUT/stage
T0=${E2E_T0:-$(date +%s)}
BUILT=""	# what this run had to (re)build, for the "cached" message
export E2E_T0=$T0
CROSS=aarch64-linux-gnu-
TRIPLET=aarch64-linux-gnu
DAEMON_BIN=$ROOT/build/$TRIPLET/xen-virtio-blk

# Host packages (amd64) the harness needs; installed only when missing.
HOST_PKGS="qemu-system-arm gcc-aarch64-linux-gnu libc6-dev-arm64-cross
binutils-aarch64-linux-gnu cpio device-tree-compiler dpkg-dev flex bison
python3 e2fsprogs make gcc libc6-dev gzip xz-utils"

# arm64 packages unpacked (dpkg -x) into the staging tree on top of
# scripts/arm64-staging's cross-build set: dom0 tools and their libraries,
# busybox, e2fsprogs for the guest, the hypervisor package (only for its
# .config), the kernel (resolved from the linux-image-arm64 metapackage),
# and what Debian 12 runs our SysV init script with: /bin/sh = dash,
# start-stop-daemon (dpkg) and /lib/lsb/init-functions (sysvinit-utils).
ARM64_PKGS="xen-hypervisor-4.17-arm64 xen-utils-4.17 xen-utils-common
xenstore-utils libncurses6 libtinfo6 libext2fs2 libfdt1 libuuid1 zlib1g
libcom-err2 libblkid1 libzstd1 liblzma5 libbz2-1.0 busybox-static
e2fsprogs libss2 dash dpkg sysvinit-utils"

# Print a phase banner with the wall time since the start of the run.
phase()
{
	echo "[e2e +$(($(date +%s) - T0))s] $*"
}

die()
{
	echo "e2e: $*" >&2
	exit 1
}

as_root()
{
	if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# ------------------------------------------------------------ host packages
prepare_host()
{
	local missing="" p
	for p in $HOST_PKGS; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q 'install ok installed' || missing="$missing $p"
	done
	if ! dpkg --print-foreign-architectures | grep -qx arm64; then
		as_root dpkg --add-architecture arm64
		missing="$missing apt-update"
	fi
	# `apt-get source xen` needs deb-src entries; add them next to the deb
	# ones if the machine has none (Debian 12 ships deb-only sources).
	if ! grep -rqs '^Types:.*deb-src\|^deb-src' /etc/apt/sources.list \
		/etc/apt/sources.list.d/; then
		as_root tee /etc/apt/sources.list.d/e2e-debsrc.sources >/dev/null <<'EOF'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
		missing="$missing apt-update"
	fi
	[ -n "$missing" ] || { phase "host packages: all present"; return 0; }
	phase "host packages: apt-get update + install$(echo "$missing" |
		sed 's/ apt-update//g')"
	export DEBIAN_FRONTEND=noninteractive
	# Another apt may hold the lists lock for a while: retry.
	local try
	for try in 1 2 3 4; do
		as_root apt-get update -q >"$OUT/apt-update.log" 2>&1 && break
		[ $try -lt 4 ] || { cat "$OUT/apt-update.log"; die "apt-get update failed"; }
		sleep 15
	done
	missing=$(echo "$missing" | sed 's/ apt-update//g')
	if [ -n "$missing" ]; then
		# shellcheck disable=SC2086
		as_root apt-get install -y -q -o DPkg::Lock::Timeout=300 \
			--no-install-recommends $missing \
			>"$OUT/apt-install.log" 2>&1 ||
			{ tail -20 "$OUT/apt-install.log"; die "apt-get install failed"; }
	fi
}

# ------------------------------------------------------------ arm64 packages
prepare_arm64()
{
	local kpkg
	# The kernel moves with point releases: take whatever the metapackage
	# points at today rather than a fixed ABI number.
	kpkg=$(apt-cache depends linux-image-arm64:arm64 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-image-[0-9][^:]*-arm64\).*/\1/p' |
		head -1)
	if [ -z "$kpkg" ]; then
		as_root apt-get update -q >/dev/null 2>&1 || true
		kpkg=$(apt-cache depends linux-image-arm64:arm64 |
			sed -n 's/^ *Depends: \(linux-image-[0-9][^:]*-arm64\).*/\1/p' |
			head -1)
	fi
	[ -n "$kpkg" ] || die "cannot resolve linux-image-arm64:arm64"
	local before
	before=$(cat "$STAGE/.staging-stamp" 2>/dev/null || true)
	# shellcheck disable=SC2086
	"$ROOT/scripts/arm64-staging" "$STAGE" $ARM64_PKGS "$kpkg" ||
		die "scripts/arm64-staging failed"
	if [ "$before" = "$(cat "$STAGE/.staging-stamp")" ]; then
		phase "arm64 packages: up to date ($kpkg, Xen tools, busybox)"
	else
		phase "arm64 packages: downloaded and unpacked into $STAGE"
		BUILT="$BUILT arm64-packages"
	fi
	KVER=${kpkg#linux-image-}
	echo "$KVER" >"$OUT/kernel.ver"
	set_kernel_paths
}

# After a prepare-only run (E2E_PREPARED=1, set by run-suite): the kernel
# version the staging tree was made with.
set_kernel_paths()
{
	[ -n "${KVER:-}" ] || KVER=$(cat "$OUT/kernel.ver" 2>/dev/null) ||
		die "no $OUT/kernel.ver: run without E2E_PREPARED first"
	KERNEL=$STAGE/boot/vmlinuz-$KVER
	MODDIR=$STAGE/lib/modules/$KVER/kernel
	[ -f "$KERNEL" ] || die "no kernel at $KERNEL"
}

# -------------------------------------------------------------- hypervisor
# Debian's arm64 hypervisor lacks CONFIG_IOREQ_SERVER (needs EXPERT), so
# rebuild it from Debian's own xen source package with those two options on
# top of Debian's config. Tools and libraries stay Debian's binaries.
prepare_hypervisor()
{
	local src="$OUT/xen-src" cfg v dsc dir stamp want
	cfg=$(ls "$STAGE"/boot/xen-*-arm64.config 2>/dev/null | head -1 || true)
	[ -n "$cfg" ] || die "no Debian hypervisor config in $STAGE/boot"
	stamp=$OUT/xen-hyp.stamp
	want="$(md5sum <"$cfg" | cut -c1-32) EXPERT IOREQ_SERVER"
	if [ -s "$OUT/xen-hyp" ] && [ -f "$stamp" ] &&
		[ "$(sed 1d "$stamp")" = "$want" ]; then
		phase "hypervisor: cached ($(head -1 "$stamp"))"
		return 0
	fi
	phase "hypervisor: apt-get source xen + build with IOREQ_SERVER"
	BUILT="$BUILT hypervisor"
	mkdir -p "$src"
	if ! apt-cache showsrc xen 2>/dev/null | grep -q '^Version:'; then
		as_root apt-get update -q >/dev/null 2>&1 || true
	fi
	dsc=$(ls "$src"/xen_*.dsc 2>/dev/null | sort -V | tail -1 || true)
	if [ -z "$dsc" ]; then
		# Newest first; the security pool has been seen to list sources
		# it answers 404 for, so fall back to older versions.
		for v in $(apt-cache showsrc xen | sed -n 's/^Version: //p' |
			sort -rV | uniq); do
			if (cd "$src" && apt-get source -q --download-only \
				"xen=$v" >"$OUT/xen-source.log" 2>&1); then
				dsc=$(ls "$src"/xen_*.dsc | sort -V | tail -1)
				break
			fi
			echo "  xen source $v: not downloadable, trying older"
			rm -f "$src"/xen_"$v"* 2>/dev/null || true
		done
	fi
	[ -n "$dsc" ] || die "no xen source version could be downloaded"
	v=$(sed -n 's/^Version: //p' "$dsc")
	dir=$src/build-$v
	if [ ! -d "$dir/xen" ]; then
		rm -rf "$dir"
		dpkg-source -q -x "$dsc" "$dir" >"$OUT/xen-dpkg-source.log" 2>&1 ||
			{ tail "$OUT/xen-dpkg-source.log"; die "dpkg-source -x failed"; }
	fi
	cp "$cfg" "$dir/xen/.config"
	printf 'CONFIG_EXPERT=y\nCONFIG_IOREQ_SERVER=y\n' >>"$dir/xen/.config"
	(
		make -C "$dir/xen" XEN_TARGET_ARCH=arm64 CROSS_COMPILE=$CROSS \
			olddefconfig &&
			make -C "$dir/xen" -j"$(nproc)" XEN_TARGET_ARCH=arm64 \
				CROSS_COMPILE=$CROSS
	) >"$OUT/xen-build.log" 2>&1 ||
		{ tail -30 "$OUT/xen-build.log"; die "hypervisor build failed"; }
	grep -q '^CONFIG_IOREQ_SERVER=y' "$dir/xen/.config" ||
		die "CONFIG_IOREQ_SERVER did not stick in $dir/xen/.config"
	cp "$dir/xen/xen" "$OUT/xen-hyp"
	printf '%s\n%s\n' "xen $v (Debian source) + EXPERT + IOREQ_SERVER" \
		"$want" >"$stamp"
	phase "hypervisor: built xen $v"
}

# ------------------------------------------------------------------ daemon
prepare_daemon()
{
	if [ -n "${E2E_DAEMON:-}" ]; then
		DAEMON_BIN=$E2E_DAEMON
		phase "daemon: using E2E_DAEMON=$DAEMON_BIN"
	else
		local before
		before=$(stat -c %Y "$DAEMON_BIN" 2>/dev/null || echo none)
		make -C "$ROOT" -s CROSS_COMPILE=$CROSS STAGING="$STAGE" \
			"build/$TRIPLET/xen-virtio-blk" >"$OUT/daemon-build.log" 2>&1 ||
			{
				tail -30 "$OUT/daemon-build.log"
				die "cross-compiling the daemon failed (log: $OUT/daemon-build.log)"
			}
		if [ "$before" = "$(stat -c %Y "$DAEMON_BIN")" ]; then
			phase "daemon: build/$TRIPLET/xen-virtio-blk up to date"
		else
			phase "daemon: cross-compiled (make CROSS_COMPILE=$CROSS STAGING=$STAGE)"
			BUILT="$BUILT daemon"
		fi
	fi
	[ -x "$DAEMON_BIN" ] || die "no daemon binary at $DAEMON_BIN"
	file "$DAEMON_BIN" 2>/dev/null | grep -q aarch64 ||
		readelf -h "$DAEMON_BIN" | grep -q AArch64 ||
		die "$DAEMON_BIN is not an arm64 binary"
}

# ------------------------------------------------------ initramfs building
# Copy an arm64 ELF file from the staging tree and, recursively, every
# library it needs (readelf NEEDED), into root $1. $2..: paths relative to
# the staging tree.
copy_with_libs()
{
	local dst=$1 f lib p
	shift
	for f in "$@"; do
		mkdir -p "$dst/$(dirname "$f")"
		cp -a "$STAGE/$f" "$dst/$f"
		# Follow a symlink to its target too (e.g. xenstore-read -> xenstore).
		if [ -L "$STAGE/$f" ]; then
			p=$(realpath --relative-to="$STAGE" "$STAGE/$f")
			copy_with_libs "$dst" "$p"
			continue
		fi
		for lib in $(readelf -d "$STAGE/$f" 2>/dev/null |
			sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
			[ -e "$dst/lib/$TRIPLET/$lib" ] && continue
			[ -e "$dst/usr/lib/$TRIPLET/$lib" ] && continue
			for p in lib/$TRIPLET usr/lib/$TRIPLET; do
				if [ -e "$STAGE/$p/$lib" ]; then
					copy_with_libs "$dst" "$p/$lib"
					break
				fi
			done
			[ -e "$dst/lib/$TRIPLET/$lib" ] ||
				[ -e "$dst/usr/lib/$TRIPLET/$lib" ] ||
				die "library $lib (needed by $f) not in $STAGE"
		done
	done
}

# Common part of both roots: busybox as /bin/sh, the dynamic loader.
base_root()
{
	local r=$1
	rm -rf "$r"
	mkdir -p "$r"/bin "$r"/sbin "$r"/usr/bin "$r"/usr/sbin "$r"/proc \
		"$r"/sys "$r"/dev "$r"/tmp "$r"/run "$r"/mods "$r"/etc "$r"/e2e
	cp "$STAGE/bin/busybox" "$r/bin/busybox"
	ln -s busybox "$r/bin/sh"
	# glibc dlopen()s libgcc_s for pthread_cancel (xl aborts without it).
	copy_with_libs "$r" lib/ld-linux-aarch64.so.1 \
		lib/$TRIPLET/libgcc_s.so.1
}

cpio_gz()
{
	(cd "$1" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet |
		gzip -1) >"$2.tmp" && mv "$2.tmp" "$2"
}

# A key of everything a base initramfs is made from: the staging stamp,
# the kernel and this file (the recipe).
base_key()
{
	cat "$STAGE/.staging-stamp" "$E2E_DIR/lib.sh" | md5sum | cut -c1-32
}

# domU: busybox, virtio_mmio + virtio_blk + ext4 modules, privcmd (the
# hostile case's hypercalls), mke2fs/e2fsck.
prepare_domu_base()
{
	local r=$OUT/domu-root key
	key=$(base_key)
	if [ -s "$OUT/domu-base.cpio.gz" ] &&
		[ "$(cat "$OUT/domu-base.key" 2>/dev/null)" = "$key" ]; then
		return 0
	fi
	phase "domU base initramfs"
	BUILT="$BUILT domU-initramfs"
	base_root "$r"
	cp "$MODDIR/drivers/virtio/virtio_mmio.ko" \
		"$MODDIR/drivers/block/virtio_blk.ko" "$MODDIR/lib/crc16.ko" \
		"$MODDIR/fs/mbcache.ko" "$MODDIR/fs/jbd2/jbd2.ko" \
		"$MODDIR/crypto/crc32c_generic.ko" "$MODDIR/fs/ext4/ext4.ko" \
		"$MODDIR/drivers/xen/xen-privcmd.ko" "$r/mods/"
	copy_with_libs "$r" sbin/mke2fs sbin/e2fsck
	ln -s mke2fs "$r/sbin/mkfs.ext4"
	cpio_gz "$r" "$OUT/domu-base.cpio.gz"
	echo "$key" >"$OUT/domu-base.key"
}

# dom0: busybox, xenstored/xl/xenconsoled/xenstore-* and their libraries,
# Xen and virtio kernel modules, the domU kernel. The daemon, the scripts
# and the domU initramfs go into a per-run overlay (a second cpio archive
# appended to this one: the kernel unpacks concatenated archives in turn).
prepare_dom0_base()
{
	local r=$OUT/dom0-root key m xb f
	key=$(base_key)
	if [ -s "$OUT/dom0-base.cpio.gz" ] &&
		[ "$(cat "$OUT/dom0-base.key" 2>/dev/null)" = "$key" ]; then
		phase "initramfs bases: cached"
		return 0
	fi
	phase "dom0 base initramfs"
	BUILT="$BUILT dom0-initramfs"
	base_root "$r"
	for m in drivers/xen/xen-evtchn.ko drivers/xen/xen-gntdev.ko \
		drivers/xen/xen-gntalloc.ko drivers/xen/xen-privcmd.ko \
		drivers/xen/xenfs/xenfs.ko drivers/virtio/virtio_mmio.ko \
		drivers/block/virtio_blk.ko; do
		cp "$MODDIR/$m" "$r/mods/"
	done
	xb=usr/lib/xen-4.17/bin
	for f in xl xenstored xenconsoled xen-init-dom0; do
		[ -e "$STAGE/$xb/$f" ] || die "$xb/$f missing from the Xen tools"
		copy_with_libs "$r" "$xb/$f"
	done
	for f in "$STAGE"/usr/bin/xenstore*; do
		copy_with_libs "$r" "usr/bin/${f##*/}"
	done
	# The daemon's libraries (it is linked at run time from the overlay).
	copy_with_libs "$r" usr/lib/$TRIPLET/libaio.so.1 \
		usr/lib/$TRIPLET/libxendevicemodel.so.1 \
		usr/lib/$TRIPLET/libxenforeignmemory.so.1 \
		usr/lib/$TRIPLET/libxenevtchn.so.1 \
		usr/lib/$TRIPLET/libxenstore.so.4 \
		usr/lib/$TRIPLET/libxenctrl.so.4.17
	# The SysV script's environment as on Debian 12, so that the service
	# case runs the installed script unchanged: /bin/sh is dash, dpkg's
	# start-stop-daemon, sysvinit-utils' init-functions. Busybox's sh
	# would run its own start-stop-daemon applet whatever PATH says, and
	# that one drops the first argument after `--` (seen: the daemon
	# started without --watch). dom0's /init names busybox itself.
	copy_with_libs "$r" bin/dash sbin/start-stop-daemon
	ln -sf dash "$r/bin/sh"
	mkdir -p "$r/lib/lsb"
	cp -a "$STAGE/lib/lsb/." "$r/lib/lsb/"
	mkdir -p "$r/etc/xen" "$r/var/lib/xen" "$r/var/log/xen" \
		"$r/var/run/xen" "$r/domu"
	[ -d "$STAGE/etc/xen" ] && cp -a "$STAGE/etc/xen/." "$r/etc/xen/"
	cp "$KERNEL" "$r/domu/Image"
	cpio_gz "$r" "$OUT/dom0-base.cpio.gz"
	echo "$key" >"$OUT/dom0-base.key"
	prepare_domu_base
}

# The guest's helpers (static: no libc needed in the domU beyond what is
# there): blkop for BLKZEROOUT/BLKDISCARD/fsync, hostile-drv for the
# hostile case's userspace driver.
prepare_guest_tools()
{
	for t in blkop hostile-drv; do
		[ ! -x "$OUT/$t" ] || [ "$E2E_DIR/$t.c" -nt "$OUT/$t" ] ||
			continue
		BUILT="$BUILT $t"
		${CROSS}gcc -static -O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra \
			-Wshadow -Wstrict-prototypes -Wmissing-prototypes \
			-Werror -o "$OUT/$t" "$E2E_DIR/$t.c" ||
			die "building $t failed"
	done
}
