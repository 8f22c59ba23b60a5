#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Status writes that clear bits (0x1 after 0xf: §2.1, only a reset clears
# them), that set DEVICE_NEEDS_RESET (0x4f: the device's bit) or an
# undefined bit (0x10f).
# Expected: ignored or masked: Status stays 0xf, no interrupt, the device
# keeps serving.
. "$(dirname "$0")/lib.sh"

setup
c raw-init
for v in 1 3 0xb 0x4f 0x10f 0x7; do
	c "mmio-write 0x70 4 $v" 'expect-status 0xf'
done
c 'expect-isr 0' raw-good
finish "status bits cleared or device-owned: ignored"
