"""Network namespaces of the process runtime: the host's blackhole route, a hub, one namespace per pod.

Why a namespace per pod: Ray binds the same ports on every node (6379, 8265, 52365, 10001 ...), several
of them on all addresses, and finds its node IP through the default route, so two Ray nodes cannot
share one network stack. Each pod gets ``eth0`` (a veth) with its pod IP, ``lo`` up and a default route
via the hub's bridge; the hub namespace holds the bridge and nothing else (no uplink, no forwarding),
so pods reach each other and nothing beyond this machine.

Safety: before any namespace exists, the host namespace gets ``blackhole <pod CIDR>``, so a host
connection to a pod address can never follow the default route off the machine. The host reaches pods
only through sockets created *inside* a namespace (``socket_in``), never by routing.

Every name the runtime creates starts with ``rop-<instance>`` (namespaces, ``/etc/netns`` dirs); the
instance's owner PID is recorded in ``OWNERS_DIR``, and ``sweep_leftovers`` removes what belongs to
instances whose owner is dead (a crashed sandbox), never another live sandbox's.
Decided against: loopback-range pod IPs (Ray's IP detection returns 0.0.0.0 from a 127.x source) and
routing from the host into the hub (a host route into pod space is what the blackhole forbids).
"""

from __future__ import annotations

import contextlib
import ctypes
import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

PREFIX = "rop-"
"""Every namespace (and /etc/netns directory) the runtime creates starts with this."""
OWNERS_DIR = Path("/run/ray-operator-sandbox")
NETNS_RUN = Path("/run/netns")
NETNS_ETC = Path("/etc/netns")
CLONE_NEWNET = 0x40000000


class NamespacesUnavailable(RuntimeError):
    """This machine cannot create network namespaces (not Linux, not root, no ``ip``)."""


def unavailable_message(detail: str) -> str:
    return (
        f"error: the process runtime cannot create network namespaces here ({detail}); "
        "it needs root on Linux with iproute2 - use --runtime fake instead"
    )


def _ip(*args: str, netns: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    argv = ["ip", *(["-n", netns] if netns else []), *args]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {result.stderr.strip() or result.stdout.strip()}")
    return result


def check_support() -> None:
    """Raise ``NamespacesUnavailable`` with the reason when namespaces cannot be made here."""
    if not sys.platform.startswith("linux"):
        raise NamespacesUnavailable(unavailable_message(f"the platform is {sys.platform}, not Linux"))
    if os.geteuid() != 0:
        raise NamespacesUnavailable(unavailable_message("not running as root"))
    if shutil.which("ip") is None or shutil.which("nsenter") is None:
        raise NamespacesUnavailable(unavailable_message("the ip or nsenter command is missing"))


def namespaces() -> list[str]:
    """Names of every network namespace (``ip netns list``)."""
    result = _ip("netns", "list", check=False)
    return [line.split()[0] for line in result.stdout.splitlines() if line.strip()]


def ensure_blackhole(cidr: ipaddress.IPv4Network) -> None:
    """The host namespace drops everything addressed to the pod range (idempotent; left in place on exit)."""
    _ip("route", "replace", "blackhole", str(cidr))


def has_blackhole(cidr: ipaddress.IPv4Network) -> bool:
    result = _ip("route", "show", "type", "blackhole", check=False)
    return any(line.split()[:2] == ["blackhole", str(cidr)] for line in result.stdout.splitlines())


# ------------------------------------------------------------------------------------------ owners


def register_owner(instance: str) -> None:
    OWNERS_DIR.mkdir(parents=True, exist_ok=True)
    (OWNERS_DIR / f"{instance}.pid").write_text(str(os.getpid()))


def unregister_owner(instance: str) -> None:
    with contextlib.suppress(OSError):
        (OWNERS_DIR / f"{instance}.pid").unlink()


def _owner_alive(instance: str) -> bool:
    try:
        pid = int((OWNERS_DIR / f"{instance}.pid").read_text().strip())
    except (OSError, ValueError):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def instance_of(name: str) -> str | None:
    """``rop-<instance>-<rest>`` → ``instance``."""
    if not name.startswith(PREFIX):
        return None
    rest = name[len(PREFIX) :]
    instance, sep, _ = rest.partition("-")
    return instance if sep and instance else None


def dead_instances(names: list[str]) -> set[str]:
    found = {inst for inst in (instance_of(n) for n in names) if inst is not None}
    return {inst for inst in found if not _owner_alive(inst)}


# ------------------------------------------------------------------------------------------ namespaces


def pids_in(netns: str) -> list[int]:
    result = _ip("netns", "pids", netns, check=False)
    return [int(p) for p in result.stdout.split() if p.isdigit()]


def kill_all_in(netns: str) -> None:
    """SIGKILL every process in ``netns`` - a namespace this runtime created, so every process is ours."""
    for pid in pids_in(netns):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def delete_namespace(netns: str, *, wait_seconds: float = 5.0) -> None:
    """Kill what runs in ``netns`` and wait for it to be gone (a killed Ray process takes a moment), then delete."""
    deadline = time.monotonic() + wait_seconds
    kill_all_in(netns)
    while pids_in(netns) and time.monotonic() < deadline:
        time.sleep(0.05)
        kill_all_in(netns)
    _ip("netns", "delete", netns, check=False)
    shutil.rmtree(NETNS_ETC / netns, ignore_errors=True)


def create_hub(netns: str, gateway: ipaddress.IPv4Interface) -> None:
    """The hub: a bridge holding ``gateway`` (the pods' default route), no uplink, no forwarding."""
    _ip("netns", "add", netns)
    _ip("link", "set", "lo", "up", netns=netns)
    _ip("link", "add", "br0", "type", "bridge", netns=netns)
    _ip("addr", "add", str(gateway), "dev", "br0", netns=netns)
    _ip("link", "set", "br0", "up", netns=netns)
    subprocess.run(
        ["ip", "netns", "exec", netns, "sysctl", "-q", "-w", "net.ipv4.ip_forward=0"],
        capture_output=True,
        timeout=10,
        check=False,
    )


def create_pod_namespace(
    netns: str, *, hub: str, veth: str, address: ipaddress.IPv4Interface, gateway: ipaddress.IPv4Address
) -> None:
    """``netns`` with ``eth0`` = ``address`` on the hub's bridge and a default route via ``gateway``."""
    _ip("netns", "add", netns)
    try:
        _ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", netns, netns=hub)
        _ip("link", "set", veth, "master", "br0", netns=hub)
        _ip("link", "set", veth, "up", netns=hub)
        _ip("link", "set", "lo", "up", netns=netns)
        _ip("addr", "add", str(address), "dev", "eth0", netns=netns)
        _ip("link", "set", "eth0", "up", netns=netns)
        _ip("route", "add", "default", "via", str(gateway), netns=netns)
    except Exception:
        delete_namespace(netns)
        raise


def write_netns_file(netns: str, name: str, content: str) -> None:
    """``/etc/netns/<netns>/<name>``, which ``ip netns exec`` binds over ``/etc/<name>``; rewritten in place,
    because the bind mount pins the inode (a rename would leave running pods the old file)."""
    directory = NETNS_ETC / netns
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    if path.exists():
        with path.open("r+") as handle:
            if handle.read() == content:
                return
            handle.seek(0)
            handle.write(content)
            handle.truncate()
    else:
        path.write_text(content)


# ------------------------------------------------------------------------------------------ sockets

_libc = ctypes.CDLL(None, use_errno=True)
_setns_lock = threading.Lock()


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


@contextlib.contextmanager
def _in_namespace(netns: str) -> Iterator[None]:
    """The calling thread inside ``netns`` for the block (only this thread; sockets made keep it)."""
    with open("/proc/thread-self/ns/net") as home, open(NETNS_RUN / netns) as target:
        _setns(target.fileno())
        try:
            yield
        finally:
            _setns(home.fileno())


def socket_in(netns: str, family: int = socket.AF_INET) -> socket.socket:
    """A TCP socket that lives in ``netns`` (call from a worker thread: ``setns`` changes the thread)."""
    with _setns_lock, _in_namespace(netns):
        return socket.socket(family, socket.SOCK_STREAM)


def listener_in(netns: str, host: str, port: int) -> socket.socket:
    """A non-blocking listening socket bound to ``host:port`` inside ``netns``."""
    with _setns_lock, _in_namespace(netns):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(64)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock
