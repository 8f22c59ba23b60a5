# SPDX-License-Identifier: GPL-2.0-only
# Host-side helper of the e2e harness for `run --guest-fio` (the bench
# case): Debian's arm64 fio and the libraries it loads, as one more cpio
# archive for the domU initramfs. Sourced by tests/e2e/run after lib.sh.
# Kept out of lib.sh so that the cached base archives (keyed on lib.sh)
# stay valid. See docs/e2e.md "The bench case".

FIO_STAGE=$OUT/fio-stage

# fio:arm64's run-time closure: the library packages only (perl, python and
# the maintainer-script tools are not loaded by the binary).
fio_packages()
{
	apt-cache depends --recurse --no-recommends --no-suggests \
		--no-conflicts --no-breaks --no-replaces --no-enhances \
		--no-pre-depends fio:arm64 2>/dev/null |
		grep -E '^(fio|lib[^ ]*|zlib1g):arm64$' |
		grep -vE '^lib(perl|python)' | sed 's/:arm64$//' | sort -u
}

# $OUT/domu-fio.cpio.gz: /usr/bin/fio, every library it NEEDs
# (recursively, from the packages unpacked in $FIO_STAGE) and
# xen-blkfront.ko; rebuilt only when the packages or this file change.
prepare_fio()
{
	local pkgs r key
	pkgs=$(fio_packages)
	[ -n "$pkgs" ] || die "apt-cache knows no fio:arm64 (apt-get update?)"
	# shellcheck disable=SC2086
	"$ROOT/scripts/arm64-staging" "$FIO_STAGE" $pkgs \
		>"$OUT/fio-stage.log" 2>&1 ||
		{ tail "$OUT/fio-stage.log"; die "staging fio:arm64 failed"; }
	key=$(cat "$FIO_STAGE/.staging-stamp" "$E2E_DIR/fio-lib.sh" \
		"$OUT/kernel.ver" | md5sum | cut -c1-32)
	if [ -s "$OUT/domu-fio.cpio.gz" ] &&
		[ "$(cat "$OUT/domu-fio.key" 2>/dev/null)" = "$key" ]; then
		phase "fio initramfs: cached ($(du -h "$OUT/domu-fio.cpio.gz" | cut -f1))"
		return 0
	fi
	phase "fio initramfs: fio:arm64 + its libraries ($(echo "$pkgs" | wc -w) packages)"
	BUILT="$BUILT fio-initramfs"
	r=$OUT/domu-fio-root
	rm -rf "$r"
	mkdir -p "$r/mods"
	# librados/librbd need libceph-common from a private folder (their
	# RUNPATH); a link in the ordinary one lets copy_with_libs find it and
	# the guest's loader (LD_LIBRARY_PATH) load it.
	ln -sfn ceph/libceph-common.so.2 \
		"$FIO_STAGE/usr/lib/$TRIPLET/libceph-common.so.2"
	(STAGE=$FIO_STAGE copy_with_libs "$r" usr/bin/fio) ||
		die "collecting fio's libraries failed"
	cp "$MODDIR/drivers/block/xen-blkfront.ko" "$r/mods/"
	cpio_gz "$r" "$OUT/domu-fio.cpio.gz"
	echo "$key" >"$OUT/domu-fio.key"
	phase "fio initramfs: $(find "$r" -type f | wc -l) files, $(du -sh "$r" | cut -f1) unpacked, $(du -h "$OUT/domu-fio.cpio.gz" | cut -f1) gzip"
}
