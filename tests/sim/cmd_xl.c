/* SPDX-License-Identifier: GPL-2.0-only */
/* sim-guest commands: a model of libxl: xenstore population and its waits
 * (issue 4). */
#include "sim_guest.h"

const struct cmd_table xl_cmds = {NULL, 0};
