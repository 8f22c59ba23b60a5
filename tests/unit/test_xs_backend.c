/* SPDX-License-Identifier: GPL-2.0-only */
/* The libxl backend nodes of a virtio disk, as xs_values.c checks them:
 * both base forms, every required node, every refusal, every foreign state. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"
#include "unit.h"
#include "xs_values.h"

#define DOMID 7

/* What libxl 4.17 writes for `vdev=xvda, access=rw, target=/srv/a.img`,
 * the first virtio disk of domain 7. */
static struct xsv_nodes libxl_417(void)
{
	return (struct xsv_nodes){
	    .params = "/srv/a.img",
	    .mode = "w",
	    .base = "33554432",
	    .irq = "33",
	    .state = "1",
	    .online = "1",
	    .specification = "virtio",
	    .transport = "mmio",
	    .frontend_id = "7",
	    .dev = "xvda",
	};
}

static char why[512];
static uint32_t self; /* the backend's domain */

static enum xsv_verdict check(const struct xsv_nodes *n, struct disk_opts *d)
{
	memset(why, 0, sizeof(why));
	return xsv_check_device(self, DOMID, n, d, why, sizeof(why));
}

/* The verdict is `want` and the reason names `frag` (one line). */
static void expect(int line, const struct xsv_nodes *n, enum xsv_verdict want,
		   const char *frag)
{
	struct disk_opts d;
	char what[800];
	enum xsv_verdict v;

	memset(&d, 0x5a, sizeof(d));
	v = check(n, &d);
	snprintf(what, sizeof(what),
		 "verdict %d (want %d), reason \"%s\" should contain \"%s\"", v,
		 want, why, frag);
	unit_result(v == want && strstr(why, frag) && !strchr(why, '\n'),
		    __FILE__, line, what);
	/* Anything but OK leaves the caller's disk alone. */
	if (want != XSV_OK)
		unit_result(((unsigned char *)&d)[0] == 0x5a, __FILE__, line,
			    "disk_opts untouched");
}

#define EXPECT(n, v, frag) expect(__LINE__, &(n), v, frag)

static void test_libxl_417_disk(void)
{
	struct xsv_nodes n = libxl_417();
	struct disk_opts d;

	CHECK_EQ(check(&n, &d), XSV_OK);
	CHECK(strcmp(d.path, "/srv/a.img") == 0);
	CHECK(!d.read_only);
	CHECK_EQ(d.base, 0x02000000);
	CHECK_EQ(d.irq, 33);
	CHECK(d.has_base && d.has_irq);
	/* The vdev names the disk inside the guest (virtio-blk ID). */
	CHECK(d.has_serial && strcmp(d.serial, "xvda") == 0);

	n.mode = "r";
	CHECK_EQ(check(&n, &d), XSV_OK);
	CHECK(d.read_only);
}

static void test_second_disk_and_hex_base(void)
{
	struct xsv_nodes n = libxl_417();
	struct disk_opts d;

	/* libxl's second slot, decimal (4.17 disks)... */
	n.base = "33554944";
	n.irq = "34";
	CHECK_EQ(check(&n, &d), XSV_OK);
	CHECK_EQ(d.base, 0x02000200);
	CHECK_EQ(d.irq, 34);
	/* ...and 0x-hex (4.18's generic virtio devices, %#PRIx64). */
	n.base = "0x2000200";
	CHECK_EQ(check(&n, &d), XSV_OK);
	CHECK_EQ(d.base, 0x02000200);
	n.base = "0X2000400";
	CHECK_EQ(check(&n, &d), XSV_OK);
	CHECK_EQ(d.base, 0x02000400);
	/* Other layouts than libxl's window are fine if aligned. */
	n.base = "0x80000000";
	CHECK_EQ(check(&n, &d), XSV_OK);
	CHECK_EQ(d.base, 0x80000000);
	/* A leading zero is decimal, never octal. */
	n.base = "033554432";
	CHECK_EQ(check(&n, &d), XSV_OK);
	CHECK_EQ(d.base, 33554432);
}

static void test_optional_nodes(void)
{
	struct xsv_nodes n = libxl_417();
	struct disk_opts d;

	/* A hand-written or older layout without the optional nodes. */
	n.online = NULL;
	n.specification = NULL;
	n.transport = NULL;
	n.frontend_id = NULL;
	n.dev = NULL;
	CHECK_EQ(check(&n, &d), XSV_OK);
	CHECK(!d.has_serial);
	/* 4.19's grant_usage=0 is what we do anyway. */
	n.grant_usage = "0";
	CHECK_EQ(check(&n, &d), XSV_OK);
	/* A vdev that does not fit virtio-blk's 20-byte ID: no serial. */
	n.dev = "xvdaaaaaaaaaaaaaaaaaaaaaaaa";
	CHECK_EQ(check(&n, &d), XSV_OK);
	CHECK(!d.has_serial);
	n.dev = "a,b";
	CHECK_EQ(check(&n, &d), XSV_OK);
	CHECK(!d.has_serial);
}

static void test_incomplete(void)
{
	struct xsv_nodes n;

	n = libxl_417();
	n.state = NULL;
	EXPECT(n, XSV_INCOMPLETE, "state");
	/* With state written, a missing node never comes (libxl writes them
	 * in one transaction): refuse at once with the reason. */
	n = libxl_417();
	n.params = NULL;
	EXPECT(n, XSV_REFUSE, "missing params");
	n = libxl_417();
	n.mode = NULL;
	EXPECT(n, XSV_REFUSE, "missing mode");
	n = libxl_417();
	n.base = NULL;
	n.irq = NULL;
	EXPECT(n, XSV_REFUSE, "missing base irq");
}

static void test_not_ours(void)
{
	struct xsv_nodes n = libxl_417();

	n.state = "2";
	EXPECT(n, XSV_NOT_OURS, "state is 2");
	n.state = "4";
	EXPECT(n, XSV_NOT_OURS, "state is 4");
	n.state = "5";
	EXPECT(n, XSV_NOT_OURS, "state is 5");
	n.state = "6";
	EXPECT(n, XSV_NOT_OURS, "state is 6");
	n = libxl_417();
	n.online = "0";
	EXPECT(n, XSV_NOT_OURS, "online is 0");
	/* Foreign state wins over missing nodes: nothing to wait for. */
	n = libxl_417();
	n.state = "4";
	n.params = NULL;
	EXPECT(n, XSV_NOT_OURS, "state is 4");
}

static void test_refused_values(void)
{
	static const char *const bad_base[] = {
	    "",
	    "0x",
	    "abc",
	    "-1",
	    "+33554432",
	    " 33554432",
	    "33554432 ",
	    "0x2000000g",
	    "1e6",
	    "0x-200",
	    "18446744073709551616",
	    "0x10000000000000000",
	};
	static const char *const bad_irq[] = {"",    "31",  "988",	 "0x21",
					      "-33", "33 ", "4294967329"};
	struct xsv_nodes n;

	for (size_t i = 0; i < sizeof(bad_base) / sizeof(bad_base[0]); i++) {
		n = libxl_417();
		n.base = bad_base[i];
		EXPECT(n, XSV_REFUSE, "base");
	}
	for (size_t i = 0; i < sizeof(bad_irq) / sizeof(bad_irq[0]); i++) {
		n = libxl_417();
		n.irq = bad_irq[i];
		EXPECT(n, XSV_REFUSE, "irq");
	}
	n = libxl_417();
	n.base = "33554433";
	EXPECT(n, XSV_REFUSE, "not 0x200-aligned");
	n.base = "0x2000100";
	EXPECT(n, XSV_REFUSE, "not 0x200-aligned");
	/* The window must not wrap past the top of the address space. */
	n.base = "0xfffffffffffffe00";
	EXPECT(n, XSV_REFUSE, "end of the address space");
	n.base = "0xfffffffffffffc00";
	EXPECT(n, XSV_OK, "");

	n = libxl_417();
	n.mode = "rw";
	EXPECT(n, XSV_REFUSE, "mode 'rw'");
	n.mode = "";
	EXPECT(n, XSV_REFUSE, "mode");
	n.mode = "w!";
	EXPECT(n, XSV_REFUSE, "mode");

	n = libxl_417();
	n.state = "x";
	EXPECT(n, XSV_REFUSE, "state 'x'");
	n.state = "9";
	EXPECT(n, XSV_REFUSE, "state");
	n.state = "";
	EXPECT(n, XSV_REFUSE, "state");
	n = libxl_417();
	n.online = "yes";
	EXPECT(n, XSV_REFUSE, "online 'yes'");
}

static void test_refused_setups(void)
{
	struct xsv_nodes n;
	struct disk_opts d;
	char longpath[5000];

	n = libxl_417();
	n.grant_usage = "1";
	EXPECT(n, XSV_REFUSE, "grant_usage=1");
	n.grant_usage = "2";
	EXPECT(n, XSV_REFUSE, "grant_usage '2'");
	/* A backend outside dom0: Xen 4.17's libxl (no grant_usage node)
	 * gives the guest grants; 4.19's grant_usage=0 says it does not. */
	n = libxl_417();
	self = 3;
	EXPECT(n, XSV_REFUSE,
	       "no grant_usage node and this backend runs in "
	       "domain 3");
	n.grant_usage = "0";
	CHECK_EQ(check(&n, &d), XSV_OK);
	self = 0;
	n = libxl_417();
	n.specification = "xen";
	EXPECT(n, XSV_REFUSE, "specification 'xen'");
	n = libxl_417();
	n.transport = "pci";
	EXPECT(n, XSV_REFUSE, "transport 'pci'");
	n = libxl_417();
	n.frontend_id = "8";
	EXPECT(n, XSV_REFUSE, "frontend-id '8'");
	n.frontend_id = "seven";
	EXPECT(n, XSV_REFUSE, "frontend-id");

	n = libxl_417();
	n.params = "";
	EXPECT(n, XSV_REFUSE, "empty");
	n.params = "images/a.img";
	EXPECT(n, XSV_REFUSE, "not an absolute path");
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	n.params = longpath;
	EXPECT(n, XSV_REFUSE, "longer than");
}

/* A reason quotes untrusted values: escaped and bounded, never raw. */
static void test_reason_is_safe(void)
{
	struct xsv_nodes n = libxl_417();
	char big[3000];
	struct disk_opts d;

	n.mode = "w\nr\x1b[31m";
	CHECK_EQ(check(&n, &d), XSV_REFUSE);
	CHECK(strchr(why, '\n') == NULL && strchr(why, '\x1b') == NULL);
	CHECK(strstr(why, "\\x0a") != NULL);
	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	n.mode = big;
	CHECK_EQ(check(&n, &d), XSV_REFUSE);
	CHECK(strlen(why) < 200);
	CHECK(strstr(why, "...") != NULL);
}

static void test_conflicts(void)
{
	struct disk_opts served[2] = {0}, d = {0};

	strcpy(served[0].path, "/srv/a.img");
	served[0].base = 0x2000000;
	served[0].irq = 33;
	strcpy(served[1].path, "/srv/b.img");
	served[1].base = 0x2000200;
	served[1].irq = 34;

	d.base = 0x2000400;
	d.irq = 35;
	CHECK_EQ(xsv_conflict(&d, served, 2, why, sizeof(why)), 0);
	CHECK_EQ(xsv_conflict(&d, served, 0, why, sizeof(why)), 0);
	d.base = 0x2000200;
	CHECK_EQ(xsv_conflict(&d, served, 2, why, sizeof(why)), -1);
	CHECK(strstr(why, "overlaps") && strstr(why, "/srv/b.img"));
	/* Aligned windows overlap only when equal, but the rule is general. */
	d.base = 0x2000100;
	CHECK_EQ(xsv_conflict(&d, served, 2, why, sizeof(why)), -1);
	d.base = 0x2000400;
	d.irq = 33;
	CHECK_EQ(xsv_conflict(&d, served, 2, why, sizeof(why)), -1);
	CHECK(strstr(why, "irq 33") && strstr(why, "/srv/a.img"));
	/* The top window does not wrap into a false overlap with 0. */
	served[0].base = 0xfffffffffffffc00ULL;
	d.base = 0;
	d.irq = 40;
	CHECK_EQ(xsv_conflict(&d, served, 1, why, sizeof(why)), 0);
}

static void test_parsers(void)
{
	uint64_t v = 0;

	CHECK_EQ(xsv_parse_base("0", &v), 0);
	CHECK_EQ(v, 0);
	CHECK_EQ(xsv_parse_base("18446744073709551615", &v), 0);
	CHECK(v == UINT64_MAX);
	CHECK_EQ(xsv_parse_base("0xffffffffffffffff", &v), 0);
	CHECK(v == UINT64_MAX);
	CHECK_EQ(xsv_parse_base(NULL, &v), -1);
	CHECK_EQ(xsv_parse_base("0x0x10", &v), -1);
	CHECK_EQ(xsv_parse_base("0X0X10", &v), -1);
	CHECK_EQ(xsv_parse_dec("32751", MAX_DOMID, &v), 0);
	CHECK_EQ(v, 32751);
	CHECK_EQ(xsv_parse_dec("32752", MAX_DOMID, &v), -1);
	CHECK_EQ(xsv_parse_dec("0x10", 100, &v), -1);
	CHECK_EQ(xsv_parse_dec("", 100, &v), -1);
	CHECK_EQ(xsv_parse_state("1"), XB_INITIALISING);
	CHECK_EQ(xsv_parse_state("8"), XB_RECONFIGURED);
	CHECK_EQ(xsv_parse_state("01"), 1);
	CHECK_EQ(xsv_parse_state("9"), -1);
	CHECK_EQ(xsv_parse_state(NULL), -1);
}

int main(void)
{
	UNIT_RUN(test_libxl_417_disk);
	UNIT_RUN(test_second_disk_and_hex_base);
	UNIT_RUN(test_optional_nodes);
	UNIT_RUN(test_incomplete);
	UNIT_RUN(test_not_ours);
	UNIT_RUN(test_refused_values);
	UNIT_RUN(test_refused_setups);
	UNIT_RUN(test_reason_is_safe);
	UNIT_RUN(test_conflicts);
	UNIT_RUN(test_parsers);
	return UNIT_DONE();
}
