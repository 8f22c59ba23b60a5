# SPDX-License-Identifier: GPL-2.0-only
"""QEMU serial console handling for tests/e2e/run.

console-filter.py CONSOLE_LOG VERBOSE   (stdin: QEMU's output)
    Writes every line to CONSOLE_LOG prefixed with the host seconds since
    QEMU start, and echoes the interesting ones (harness, scripts, daemon,
    crashes) to stdout as they come; VERBOSE=1 echoes everything.
console-filter.py --split CONSOLE_LOG LOGDIR
    Splits the console into xen.log, dom0.log, domu.log, guest.log,
    daemon-console.log and dom0-script-console.log (prefixes stripped).
"""
import re
import sys
import time

TS = re.compile(r"^ *\d+\.\d\d ")
SHOW = re.compile(
    r"^\[(dom0|dom0-script|daemon)\] |^\[domu\] (\[guest\] |E2E-)"
    r"|Oops|Internal error|Unable to handle|Kernel panic|Xen BUG|"
    r"Panic on CPU|FATAL|I/O error|Call trace")
# Bulk data lines of the suite's guest scripts (kept in the logs).
QUIET = re.compile(r"^\[domu\] \[guest\] (SUM|FSSUM) ")


def stream(path, verbose):
    t0 = time.time()
    with open(path, "w", encoding="utf-8") as out:
        for raw in sys.stdin.buffer:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            line = line.replace("\r", "")
            stamped = "%7.2f %s" % (time.time() - t0, line)
            out.write(stamped + "\n")
            out.flush()
            if verbose or (SHOW.search(line) and not QUIET.search(line)):
                print(stamped, flush=True)


def split(path, logdir):
    names = ["xen", "dom0", "domu", "guest", "daemon-console",
             "dom0-script-console"]
    files = {n: open("%s/%s.log" % (logdir, n), "w", encoding="utf-8")
             for n in names}
    with open(path, encoding="utf-8", errors="replace") as f:
        for stamped in f:
            line = TS.sub("", stamped, count=1)
            if line.startswith("(XEN)") or re.match(r"^\(d\d+\)", line):
                files["xen"].write(stamped)
            elif line.startswith("[domu] "):
                rest = line[len("[domu] "):]
                files["domu"].write(rest)
                if rest.startswith("[guest] "):
                    files["guest"].write(rest[len("[guest] "):])
            elif line.startswith("[daemon] "):
                files["daemon-console"].write(line[len("[daemon] "):])
            elif line.startswith("[dom0-script] "):
                files["dom0-script-console"].write(
                    line[len("[dom0-script] "):])
            else:
                files["dom0"].write(stamped)
    for f in files.values():
        f.close()


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--split":
        split(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 3:
        stream(sys.argv[1], sys.argv[2] == "1")
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
