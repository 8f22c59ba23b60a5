/* SPDX-License-Identifier: GPL-2.0-only */
/* Opening the disk image: a raw file or a block device. */
#include "image.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

#define SECTOR		     512u
#define IMAGE_IN_USE_POLL_MS 100

static int fail(char *err, size_t errlen, int ret, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int ret, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return ret;
}

/* Read-write block devices are claimed: the kernel refuses one that is
 * mounted or held by another claimant (xen-blkback, LVM, md) with EBUSY.
 * Linux ignores O_EXCL without O_CREAT on other files. */
static int open_flags(bool ro)
{
	return (ro ? O_RDONLY : O_RDWR | O_EXCL) | O_CLOEXEC;
}

/* Open with O_DIRECT first: only O_DIRECT keeps libaio asynchronous. Some
 * file systems (tmpfs before 6.6, some FUSE) refuse it with EINVAL; the
 * engine then sends reads and writes to its worker threads instead. */
static int open_image(struct image *img, const char *path, int flags)
{
	int fd = open(path, flags | O_DIRECT);

	if (fd < 0 && errno == EINVAL)
		fd = open(path, flags);
	else if (fd >= 0)
		img->direct = true;
	return fd < 0 ? -errno : fd;
}

static int power_of_two(uint32_t v)
{
	return v && !(v & (v - 1));
}

/* Returns false when the kernel says this file cannot do O_DIRECT even
 * though open() accepted the flag. */
static bool probe_alignment(struct image *img)
{
	int lbs;

	img->logical_block = SECTOR;
	img->mem_align = SECTOR;
	if (img->is_blkdev && ioctl(img->fd, BLKSSZGET, &lbs) == 0 &&
	    lbs >= (int)SECTOR && power_of_two((uint32_t)lbs)) {
		img->logical_block = (uint32_t)lbs;
		img->mem_align = (uint32_t)lbs;
	}
#ifdef STATX_DIOALIGN
	/* Linux >= 6.1 reports the exact O_DIRECT constraints; zero offset
	 * alignment means the file does not support direct I/O at all. */
	struct statx stx;

	if (statx(img->fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) == 0 &&
	    (stx.stx_mask & STATX_DIOALIGN)) {
		if (!stx.stx_dio_offset_align)
			return false;
		if (power_of_two(stx.stx_dio_offset_align) &&
		    power_of_two(stx.stx_dio_mem_align)) {
			img->logical_block = stx.stx_dio_offset_align < SECTOR
						 ? SECTOR
						 : stx.stx_dio_offset_align;
			img->mem_align = stx.stx_dio_mem_align;
		}
	}
#endif
	return true;
}

/* Punching a hole past the end of the file with KEEP_SIZE changes nothing
 * but tells whether the file system can deallocate at all. */
static bool probe_punch_hole(const struct image *img)
{
	return fallocate(img->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			 (off_t)img->size, img->logical_block) == 0;
}

/* "null:SIZE": SIZE in bytes with an optional K, M, G or T suffix (powers
 * of 1024), a positive multiple of 512. */
static int open_null(struct image *img, const char *spec, char *err,
		     size_t errlen)
{
	const char *s = spec + strlen(IMAGE_NULL_PREFIX);
	uint64_t v = 0;
	unsigned shift = 0;

	if (*s < '0' || *s > '9')
		goto bad;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > (UINT64_MAX - 9) / 10)
			goto bad;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	switch (*s) {
	case 'K':
	case 'k':
		shift = 10;
		break;
	case 'M':
	case 'm':
		shift = 20;
		break;
	case 'G':
	case 'g':
		shift = 30;
		break;
	case 'T':
	case 't':
		shift = 40;
		break;
	case '\0':
		break;
	default:
		goto bad;
	}
	if (shift && *++s)
		goto bad;
	if (v > (UINT64_MAX >> shift))
		goto bad;
	v <<= shift;
	if (!v || v % SECTOR)
		goto bad;
	img->is_null = true;
	img->size = v;
	/* Everything "succeeds" without alignment constraints. */
	img->direct = true;
	img->logical_block = SECTOR;
	img->mem_align = 1;
	img->can_discard = !img->read_only;
	img->can_write_zeroes = !img->read_only;
	return 0;
bad:
	return fail(err, errlen, -EINVAL,
		    "%s: the null backend needs a size, a positive multiple "
		    "of 512 bytes (suffixes K, M, G, T), e.g. null:1G",
		    spec);
}

/* Two writers of one image corrupt it without a sound (a copied xl config
 * line; one image given twice): each open holds a whole-file lock until
 * image_close(), exclusive read-write, shared read-only. flock(2) locks
 * belong to the open file, so a second open in this process is refused
 * too. Advisory: it keeps xen-virtio-blk instances (and whatever else
 * takes flock locks) apart. 0, or -EBUSY with the reason in err. */
static int lock_image(struct image *img, char *err, size_t errlen)
{
	if (flock(img->fd, (img->read_only ? LOCK_SH : LOCK_EX) | LOCK_NB) == 0)
		return 0;
	if (errno == EWOULDBLOCK)
		return fail(err, errlen, -EBUSY,
			    "%s is already in use (another disk or process "
			    "holds a lock on it%s)",
			    img->path, img->read_only ? " for writing" : "");
	/* A file system without locks (NFSv3 without lockd, some FUSE):
	 * serve the image as before locks existed, and say so. */
	if (errno == ENOLCK || errno == EOPNOTSUPP || errno == ENOSYS ||
	    errno == EINVAL) {
		log_warn("%s: cannot lock it (%s); nothing keeps another "
			 "process from writing it too",
			 img->path, strerror(errno));
		return 0;
	}
	return fail(err, errlen, -errno, "cannot lock %s: %s", img->path,
		    strerror(errno));
}

/* A second open file of the image (struct image, sync_fd): through
 * /proc, so that it is the file we opened even if its path changed since.
 * fdatasync needs no write access. -1 if there is no /proc. */
static int open_sync_fd(const struct image *img)
{
	char p[64];
	int fd;

	snprintf(p, sizeof(p), "/proc/self/fd/%d", img->fd);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		log_warn("%s: cannot open it again for data syncs (%s): a "
			 "failed write-through write may hide a writeback "
			 "error from the next flush",
			 img->path, strerror(errno));
	return fd;
}

int image_open(struct image *img, const char *path, bool ro, char *err,
	       size_t errlen)
{
	struct stat st;
	int fd, r;

	memset(img, 0, sizeof(*img));
	img->fd = img->sync_fd = -1;
	pthread_mutex_init(&img->sync_lock, NULL);
	if (!path || !*path)
		return fail(err, errlen, -EINVAL, "no image path given");
	if (strlen(path) >= sizeof(img->path))
		return fail(err, errlen, -ENAMETOOLONG,
			    "cannot open image: path too long");
	strcpy(img->path, path);
	img->read_only = ro;
	if (!strncmp(path, IMAGE_NULL_PREFIX, strlen(IMAGE_NULL_PREFIX)))
		return open_null(img, path, err, errlen);

	fd = open_image(img, path, open_flags(ro));
	if (fd == -EBUSY)
		return fail(err, errlen, fd,
			    "%s is in use by the system (mounted, or claimed "
			    "by another driver)",
			    path);
	if (fd < 0)
		return fail(err, errlen, fd, "cannot open %s: %s", path,
			    strerror(-fd));
	img->fd = fd;

	if (fstat(fd, &st) < 0) {
		int e = -errno;

		image_close(img);
		return fail(err, errlen, e, "cannot stat %s: %s", path,
			    strerror(-e));
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		image_close(img);
		return fail(err, errlen, -EINVAL,
			    "%s: not a regular file or block device", path);
	}
	img->is_blkdev = S_ISBLK(st.st_mode);
	r = image_size_now(img, &img->size);
	if (r < 0) {
		image_close(img);
		return fail(err, errlen, r, "cannot size %s: %s", path,
			    strerror(-r));
	}
	if (img->size < SECTOR) {
		image_close(img);
		return fail(err, errlen, -EINVAL,
			    "%s: image is smaller than one sector", path);
	}

	if (!probe_alignment(img) && img->direct) {
		/* Reopen buffered: the engine then uses its worker threads. */
		image_close(img);
		img->direct = false;
		fd = open(path, open_flags(ro));
		if (fd < 0) {
			int e = errno;

			return fail(err, errlen, -e, "cannot open %s: %s", path,
				    strerror(e));
		}
		img->fd = fd;
		img->logical_block = SECTOR;
		img->mem_align = SECTOR;
	}

	r = lock_image(img, err, errlen);
	if (r < 0) {
		image_close(img);
		return r;
	}

	if (!ro) {
		img->sync_fd = open_sync_fd(img);
		/* Block devices: BLKDISCARD/BLKZEROOUT exist on every kernel we
		 * support; on a device without discard the engine makes the
		 * request a no-op (discard is only a hint). */
		img->can_discard = img->is_blkdev || probe_punch_hole(img);
		/* Write-zeroes always works: the engine writes zeroes itself
		 * when the file system has no ZERO_RANGE. */
		img->can_write_zeroes = true;
	}
	return 0;
}

void image_close(struct image *img)
{
	if (img->sync_fd >= 0)
		close(img->sync_fd);
	if (img->fd >= 0)
		close(img->fd);
	img->fd = img->sync_fd = -1;
}

int image_size_now(const struct image *img, uint64_t *size)
{
	struct stat st;

	if (img->is_null) {
		*size = img->size;
		return 0;
	}
	if (img->is_blkdev)
		return ioctl(img->fd, BLKGETSIZE64, size) < 0 ? -errno : 0;
	if (fstat(img->fd, &st) < 0)
		return -errno;
	*size = (uint64_t)st.st_size;
	return 0;
}

int image_open_wait(struct image *img, const char *path, bool ro,
		    unsigned wait_ms, char *err, size_t errlen)
{
	int r;

	for (unsigned waited = 0;; waited += IMAGE_IN_USE_POLL_MS) {
		r = image_open(img, path, ro, err, errlen);
		if (r != -EBUSY || waited >= wait_ms)
			break;
		if (!waited)
			log_info("%s: in use, waiting up to %u s for it", path,
				 (wait_ms + 999) / 1000);
		usleep(IMAGE_IN_USE_POLL_MS * 1000);
	}
	return r;
}
