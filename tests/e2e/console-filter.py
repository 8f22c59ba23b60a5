# SPDX-License-Identifier: GPL-2.0-only
"""QEMU serial console handling for tests/e2e/run.

console-filter.py CONSOLE_LOG VERBOSE [QMP_SOCKET]   (stdin: QEMU's output)
    Writes every line to CONSOLE_LOG prefixed with the host seconds since
    QEMU start, and echoes the interesting ones (harness, scripts, daemon,
    crashes) to stdout as they come; VERBOSE=1 echoes everything. With
    QMP_SOCKET, a guest line `E2E-RESIZE-ME N MIB` grows QEMU drive dN
    (dom0's disk N) to MIB MiB under the running daemon, as an lvextend
    in dom0 would.
console-filter.py --split CONSOLE_LOG LOGDIR
    Splits the console into xen.log, dom0.log, domu.log, guest.log,
    daemon-console.log and dom0-script-console.log (prefixes stripped).
"""
import json
import re
import socket
import sys
import time

TS = re.compile(r"^ *\d+\.\d\d ")
SHOW = re.compile(
    r"^\[(dom0|dom0-script|daemon)\] |^\[domu\] (\[guest\] |E2E-)"
    r"|Oops|Internal error|Unable to handle|Kernel panic|Xen BUG|"
    r"Panic on CPU|FATAL|I/O error|Call trace")
# Bulk data lines of the suite's guest scripts (kept in the logs).
QUIET = re.compile(r"^\[domu\] \[guest\] (SUM|FSSUM) ")
RESIZE = re.compile(r"^\[domu\] \[guest\] E2E-RESIZE-ME (\d+) (\d+)$")


def qmp(sock_path, command, arguments):
    """Run one QMP command; return its "return" or raise on its "error"."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(30)
        s.connect(sock_path)
        f = s.makefile("rw", encoding="utf-8")
        json.loads(f.readline())  # the greeting
        for cmd, args in (("qmp_capabilities", {}), (command, arguments)):
            f.write(json.dumps({"execute": cmd, "arguments": args}) + "\n")
            f.flush()
            while True:
                reply = json.loads(f.readline())
                if "error" in reply:
                    raise RuntimeError(reply["error"].get("desc", reply))
                if "return" in reply:  # anything else is an event
                    break
        return reply["return"]


def resize(qmp_path, disk, mib):
    """Grow drive dDISK; the line says what happened (console log too)."""
    try:
        qmp(qmp_path, "block_resize",
            {"device": "d%d" % disk, "size": mib * 1048576})
        return "[host] resized drive d%d to %d MiB" % (disk, mib)
    except (OSError, ValueError, RuntimeError) as e:
        return "[host] E2E-HOST-ERROR resizing drive d%d: %s" % (disk, e)


def stream(path, verbose, qmp_path):
    t0 = time.time()
    done = set()
    with open(path, "w", encoding="utf-8") as out:
        def emit(line, show):
            stamped = "%7.2f %s" % (time.time() - t0, line)
            out.write(stamped + "\n")
            out.flush()
            if show:
                print(stamped, flush=True)

        for raw in sys.stdin.buffer:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            line = line.replace("\r", "")
            emit(line, verbose or (SHOW.search(line) and
                                   not QUIET.search(line)))
            m = RESIZE.match(line)
            # Once per request: dom0 may echo the guest console twice.
            if m and qmp_path and m.groups() not in done:
                done.add(m.groups())
                emit(resize(qmp_path, int(m.group(1)), int(m.group(2))),
                     True)


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
    elif len(sys.argv) in (3, 4):
        stream(sys.argv[1], sys.argv[2] == "1",
               sys.argv[3] if len(sys.argv) == 4 else None)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
