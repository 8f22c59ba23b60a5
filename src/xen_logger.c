/* SPDX-License-Identifier: GPL-2.0-only */
/* The Xen libraries' own messages, as debug lines in our log. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "xen_logger.h"

static void xtl_vmessage(struct xentoollog_logger *logger,
			 xentoollog_level level, int errnoval,
			 const char *context, const char *format, va_list al)
    __attribute__((format(printf, 5, 0)));
static void xtl_vmessage(struct xentoollog_logger *logger,
			 xentoollog_level level, int errnoval,
			 const char *context, const char *format, va_list al)
{
	char msg[512];

	(void)logger;
	if (level < XTL_WARN)
		return;
	vsnprintf(msg, sizeof(msg), format, al);
	if (errnoval >= 0)
		log_debug("%s: %s: %s", context ? context : "xen", msg,
			  strerror(errnoval));
	else
		log_debug("%s: %s", context ? context : "xen", msg);
}

static void xtl_destroy(struct xentoollog_logger *logger)
{
	(void)logger;
}

static struct xentoollog_logger logger = {
    .vmessage = xtl_vmessage,
    .destroy = xtl_destroy,
};

struct xentoollog_logger *xen_logger(void)
{
	return &logger;
}
