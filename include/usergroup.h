/* SPDX-License-Identifier: GPL-2.0-only */
/* Least privilege: once the Xen handles, the images and xenstore are open,
 * a per-guest process needs root no more. */
#ifndef XVB_USERGROUP_H
#define XVB_USERGROUP_H

#include <stddef.h>

/* Check that `user` exists (at start-up, so a typo is a configuration
 * error): 0, or -1 with a one-line reason. */
int usergroup_check(const char *user, char *err, size_t errlen);
/* Become `user` for good: its groups, its gid, its uid, and make sure root
 * cannot be regained. 0, or -1 with a one-line reason. */
int usergroup_drop(const char *user, char *err, size_t errlen);

#endif
