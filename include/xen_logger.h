/* SPDX-License-Identifier: GPL-2.0-only */
/* The logger we hand to the Xen libraries' open calls. */
#ifndef XVB_XEN_LOGGER_H
#define XVB_XEN_LOGGER_H

#include <xentoollog.h>

/* Our callers report every failure in one line of their own, so the
 * libraries' messages (warnings and worse) go to log_debug(): visible with
 * --log-level debug, in syslog when detached. */
struct xentoollog_logger *xen_logger(void);

#endif
