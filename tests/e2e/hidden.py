"""Run a command in this (new, private) mount namespace with some folders hidden.

`unshare --mount --propagation private python hidden.py --hide A --hide B -- ARGV…`:
each folder gets an empty tmpfs mounted over it, so what runs (a worker) cannot see
what is in it (the submitter's project, the manager's data dir). Prints what it hid,
and that each now looks empty, then becomes ARGV.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--hide", action="append", default=[])
    p.add_argument("argv", nargs=argparse.REMAINDER)
    args = p.parse_args()
    argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
    for folder in args.hide:
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", folder], check=True)
        print(f"hidden: {folder} now holds {os.listdir(folder)}", flush=True)
    os.execvp(argv[0], argv)


if __name__ == "__main__":
    sys.exit(main())
