/* SPDX-License-Identifier: GPL-2.0-only */
/* sim-guest commands: benchmark workloads (issue 6). */
#include "sim_guest.h"

const struct cmd_table bench_cmds = {NULL, 0};
