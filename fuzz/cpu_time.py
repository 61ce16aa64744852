"""Runs a command and appends the CPU time it used (user + sys of the command
and its children, from getrusage) to its log: the figure fuzz/README.md
records per target, which wall time overstates on a shared machine.

usage: cpu_time.py LOG -- COMMAND [ARG...]"""

import resource
import subprocess
import sys

log, sep, *cmd = sys.argv[1:]
assert sep == "--" and cmd, __doc__
with open(log, "ab") as out:
    rc = subprocess.call(cmd, stdout=out, stderr=subprocess.STDOUT)
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    out.write(b"cpu_minutes: %.1f\n" % ((ru.ru_utime + ru.ru_stime) / 60))
sys.exit(rc)
