"""Loopback-only networking helpers: free ports, HTTP calls, socket inspection."""

from __future__ import annotations

import json
import os
import socket
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

LOOPBACK = "127.0.0.1"

_NO_PROXY_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class HttpError(RuntimeError):
    """An HTTP request answered with a non-2xx status."""

    def __init__(self, url: str, status: int, body: str) -> None:
        super().__init__(f"{url} answered {status}: {body[:500]}")
        self.url = url
        self.status = status
        self.body = body


def free_port(udp: bool = False) -> int:
    """Return a port that is currently free on 127.0.0.1 (TCP, and UDP too if asked)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind((LOOPBACK, 0))
            port: int = tcp.getsockname()[1]
            if not udp or _udp_port_free(port):
                return port
    raise RuntimeError("no free port found on 127.0.0.1")


def _udp_port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        try:
            udp.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def ensure_loopback_url(url: str) -> None:
    """Raise ValueError unless ``url`` targets 127.0.0.1."""
    host = urlsplit(url).hostname
    if host != LOOPBACK:
        raise ValueError(f"refusing to send traffic to {host!r}: only {LOOPBACK} is allowed")


def http_request(
    url: str,
    method: str = "GET",
    body: Any = None,
    timeout: float = 5.0,
) -> tuple[int, bytes]:
    """Send one request to a loopback URL (no proxies); return status and body."""
    ensure_loopback_url(url)
    data = None if body is None else json.dumps(body).encode()
    headers = {} if data is None else {"Content-Type": "application/json"}
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with _NO_PROXY_OPENER.open(req, timeout=timeout) as resp:
            return int(resp.status), bytes(resp.read())
    except urllib.error.HTTPError as err:
        return int(err.code), bytes(err.read())


def http_json(url: str, method: str = "GET", body: Any = None, timeout: float = 5.0) -> Any:
    """Send a request and decode the JSON answer; raise HttpError on non-2xx."""
    status, raw = http_request(url, method, body, timeout)
    if not 200 <= status < 300:
        raise HttpError(url, status, raw.decode(errors="replace"))
    return json.loads(raw) if raw.strip() else None


def http_ok(url: str, timeout: float = 1.0) -> bool:
    """Return True if GET ``url`` answers 200; False on any connection problem."""
    try:
        return http_request(url, timeout=timeout)[0] == 200
    except (OSError, urllib.error.URLError):
        return False


@dataclass(frozen=True)
class BoundSocket:
    """A socket a process has bound (TCP listening or UDP bound)."""

    protocol: str
    ip: str
    port: int


_PROC_NET_FILES = ("tcp", "tcp6", "udp", "udp6")
_TCP_LISTEN = "0A"


def bound_sockets(pid: int) -> list[BoundSocket]:
    """List the listening TCP and bound UDP sockets owned by process ``pid`` (Linux /proc)."""
    inodes = _socket_inodes(pid)
    found: list[BoundSocket] = []
    for name in _PROC_NET_FILES:
        for inode, sock in _read_proc_net(name):
            if inode in inodes:
                found.append(sock)
    return found


def _socket_inodes(pid: int) -> set[str]:
    inodes: set[str] = set()
    fd_dir = Path(f"/proc/{pid}/fd")
    for fd in fd_dir.iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    return inodes


def _read_proc_net(name: str) -> list[tuple[str, BoundSocket]]:
    path = Path("/proc/net") / name
    if not path.exists():
        return []
    rows: list[tuple[str, BoundSocket]] = []
    for line in path.read_text().splitlines()[1:]:
        fields = line.split()
        local, state, inode = fields[1], fields[3], fields[9]
        if name.startswith("tcp") and state != _TCP_LISTEN:
            continue
        ip_hex, port_hex = local.split(":")
        port = int(port_hex, 16)
        if port:
            rows.append((inode, BoundSocket(name, _decode_ip(ip_hex), port)))
    return rows


def _decode_ip(ip_hex: str) -> str:
    raw = bytes.fromhex(ip_hex)
    if len(raw) == 4:
        return socket.inet_ntop(socket.AF_INET, raw[::-1])
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
    return socket.inet_ntop(socket.AF_INET6, words)


def assert_listens_only_on_loopback(pid: int) -> list[BoundSocket]:
    """Assert every socket bound by ``pid`` is on 127.0.0.1; return the sockets."""
    sockets = bound_sockets(pid)
    assert sockets, f"process {pid} has no bound sockets"
    foreign = [s for s in sockets if s.ip not in (LOOPBACK, f"::ffff:{LOOPBACK}")]
    assert not foreign, f"process {pid} binds non-loopback addresses: {foreign}"
    return sockets
