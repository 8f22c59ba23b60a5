/* SPDX-License-Identifier: GPL-2.0-only */
/* Least privilege: once the Xen handles, the images and xenstore are open,
 * a per-guest process needs root no more. */
#ifndef XVB_USERGROUP_H
#define XVB_USERGROUP_H

#include <limits.h>
#include <stddef.h>
#include <sys/types.h>

/* As many groups as the kernel allows a process (its primary included):
 * 256 KiB, in a process's one static copy. */
#define USERGROUP_MAX_GROUPS NGROUPS_MAX

/* Who to become: everything the name service said, looked up once. */
struct usergroup {
	char name[64];
	uid_t uid;
	gid_t gid;
	int ngroups;
	gid_t groups[USERGROUP_MAX_GROUPS];
};

/* Look `user` up at start-up (a typo is a configuration error): its uid,
 * gid and supplementary groups into *ug. 0, or -1 with a one-line reason.
 * The name service is asked here only: an unreachable directory server
 * must stall a start, not a guest's vCPU at the drop. */
int usergroup_check(const char *user, struct usergroup *ug, char *err,
		    size_t errlen);
/* Become *ug for good: its groups, its gid, its uid, and make sure root
 * cannot be regained. System calls only. 0, or -1 with a one-line
 * reason. */
int usergroup_drop(const struct usergroup *ug, char *err, size_t errlen);

#endif
