/* SPDX-License-Identifier: GPL-2.0-only */
/* Dropping root after set-up (--runas). Open descriptors (privcmd, evtchn,
 * xenstore, the images) keep working: the kernel checked them at open. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "usergroup.h"

int usergroup_check(const char *user, struct usergroup *ug, char *err,
		    size_t errlen)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	int rc = getpwnam_r(user, &pw, buf, sizeof(buf), &res);

	memset(ug, 0, sizeof(*ug));
	if (!res) {
		snprintf(err, errlen, "--runas '%s': %s", user,
			 rc ? strerror(rc) : "no such user");
		return -1;
	}
	snprintf(ug->name, sizeof(ug->name), "%s", user);
	ug->uid = pw.pw_uid;
	ug->gid = pw.pw_gid;
	ug->ngroups = USERGROUP_MAX_GROUPS;
	/* The primary group is in the list getgrouplist() returns. */
	if (getgrouplist(pw.pw_name, pw.pw_gid, ug->groups, &ug->ngroups) < 0) {
		snprintf(err, errlen,
			 "--runas '%s': its groups cannot be listed (more than "
			 "%d, or out of memory)",
			 user, USERGROUP_MAX_GROUPS);
		return -1;
	}
	return 0;
}

int usergroup_drop(const struct usergroup *ug, char *err, size_t errlen)
{
	/* Groups first, then gid, then uid: once the uid is not 0 the
	 * others can no longer be changed. */
	if (setgroups((size_t)ug->ngroups, ug->groups) < 0 ||
	    setresgid(ug->gid, ug->gid, ug->gid) < 0 ||
	    setresuid(ug->uid, ug->uid, ug->uid) < 0) {
		snprintf(err, errlen, "--runas '%s': cannot switch: %s",
			 ug->name, strerror(errno));
		return -1;
	}
	if (ug->uid != 0 && setuid(0) == 0) {
		snprintf(err, errlen, "--runas '%s': root could be regained",
			 ug->name);
		return -1;
	}
	return 0;
}
