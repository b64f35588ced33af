"""Fallback for /usr/bin/time -v: runs a command, then writes its user / system CPU time and
peak RSS (getrusage of the children) to OUT in /usr/bin/time -v's wording. Exits with the command's exit code.

    python3 bench/rusage.py OUT CMD [ARG...]
"""

import resource
import subprocess
import sys


def main():
    out, cmd = sys.argv[1], sys.argv[2:]
    proc = subprocess.run(cmd)
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    peak_kb = ru.ru_maxrss  # kilobytes on Linux
    with open(out, "w") as f:
        f.write(f"\tUser time (seconds): {ru.ru_utime:.2f}\n")
        f.write(f"\tSystem time (seconds): {ru.ru_stime:.2f}\n")
        f.write(f"\tMaximum resident set size (kbytes): {peak_kb}\n")
    sys.exit(proc.returncode if proc.returncode >= 0 else 128 - proc.returncode)


if __name__ == "__main__":
    main()
