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

static int lookup(const char *user, struct passwd *pw, char *buf, size_t len,
		  char *err, size_t errlen)
{
	struct passwd *res = NULL;
	int rc = getpwnam_r(user, pw, buf, len, &res);

	if (!res) {
		snprintf(err, errlen, "--runas '%s': %s", user,
			 rc ? strerror(rc) : "no such user");
		return -1;
	}
	return 0;
}

int usergroup_check(const char *user, char *err, size_t errlen)
{
	struct passwd pw;
	char buf[4096];

	return lookup(user, &pw, buf, sizeof(buf), err, errlen);
}

int usergroup_drop(const char *user, char *err, size_t errlen)
{
	struct passwd pw;
	char buf[4096];

	if (lookup(user, &pw, buf, sizeof(buf), err, errlen) < 0)
		return -1;
	/* Groups first, then gid, then uid: once the uid is not 0 the
	 * others can no longer be changed. */
	if (initgroups(pw.pw_name, pw.pw_gid) < 0 ||
	    setresgid(pw.pw_gid, pw.pw_gid, pw.pw_gid) < 0 ||
	    setresuid(pw.pw_uid, pw.pw_uid, pw.pw_uid) < 0) {
		snprintf(err, errlen, "--runas '%s': cannot switch: %s", user,
			 strerror(errno));
		return -1;
	}
	if (pw.pw_uid != 0 && setuid(0) == 0) {
		snprintf(err, errlen, "--runas '%s': root could be regained",
			 user);
		return -1;
	}
	return 0;
}
