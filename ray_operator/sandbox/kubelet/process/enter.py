"""The first process of every container: set up its private mounts, then exec its command.

Run as ``ip netns exec <pod netns> python enter.py SPEC.json`` - so it is already inside the pod's
network namespace and in a fresh mount namespace (``ip netns exec`` unshares one, makes ``/`` a slave
of the host's and binds ``/etc/netns/<ns>/hosts`` and ``resolv.conf`` over ``/etc``; the runtime has
already put it into the container's cgroups). Here it binds the container's ``/tmp``, ``/dev/shm``,
volumes and service-account files in order, changes to the working directory and execs the command
with exactly the given environment: no process of ours sits between the runtime and the container's
command, so its PID, process group and exit code are the container's.

It is a script on purpose (standard library only, run by path, not as ``-m``): importing the package
would cost every container start the package's import time, and nothing here needs it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys


def _mount(argv: list[str]) -> None:
    result = subprocess.run(["mount", *argv], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise OSError(f"mount {' '.join(argv)}: {result.stderr.strip()}")


def main(spec_path: str) -> int:
    with open(spec_path) as handle:
        spec = json.load(handle)
    try:
        _mount(["--make-rslave", "/"])
        for item in spec.get("mounts", []):
            target = item["target"]
            os.makedirs(target, exist_ok=True)
            if item["type"] == "tmpfs":
                _mount(["-t", "tmpfs", "-o", f"size={item.get('size', '64m')},mode=1777", "tmpfs", target])
            else:
                _mount(["--bind", item["source"], target])
                if item.get("readonly"):
                    _mount(["-o", "remount,bind,ro", target])
    except OSError as exc:
        print(f"sandbox: cannot set up the container's mounts: {exc}", file=sys.stderr)
        return 126
    os.chdir(spec.get("workdir") or "/")
    argv = spec["argv"]
    try:
        os.execvpe(argv[0], argv, spec["env"])
    except OSError as exc:
        print(f"sandbox: cannot run {argv[0]!r}: {exc}", file=sys.stderr)
        return 127
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
