/* SPDX-License-Identifier: GPL-2.0-only */
/* sim-guest commands: hostile-guest primitives (issue 5). */
#include "sim_guest.h"

const struct cmd_table hostile_cmds = {NULL, 0};
