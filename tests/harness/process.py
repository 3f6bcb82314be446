"""Child-process management: start, stop by PID, a PID registry and waiting helpers."""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TypeVar

import pytest

T = TypeVar("T")

_REGISTRY: dict[int, subprocess.Popen[bytes]] = {}
_PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


class WaitTimeout(AssertionError):
    """A polled condition did not become true in time."""


def wait_for(
    predicate: Callable[[], T],
    timeout: float = 20.0,
    interval: float = 0.2,
    message: str = "condition",
) -> T:
    """Poll ``predicate`` until it returns a truthy value and return that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise WaitTimeout(f"timed out after {timeout:.1f}s waiting for {message}")
        time.sleep(interval)


def require_binary(name: str) -> str:
    """Return the path of ``name``; skip the test locally, fail it when CI=true."""
    path = shutil.which(name)
    if path:
        return path
    reason = f"required binary {name!r} is not installed"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (missing binaries are not allowed in CI)")
    pytest.skip(reason)


def child_env() -> dict[str, str]:
    """Environment for child processes, without proxy settings."""
    return {k: v for k, v in os.environ.items() if k.lower() not in _PROXY_VARS}


class ManagedProcess:
    """A registered child process whose output goes to a log file."""

    def __init__(self, argv: Sequence[str], log_path: Path, cwd: Path) -> None:
        self.argv = list(argv)
        self.log_path = log_path
        with log_path.open("ab") as log:
            self.popen: subprocess.Popen[bytes] = subprocess.Popen(
                self.argv,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=child_env(),
            )
        _REGISTRY[self.popen.pid] = self.popen

    @property
    def pid(self) -> int:
        """The child's process id."""
        return self.popen.pid

    def running(self) -> bool:
        """True while the child has not exited."""
        return self.popen.poll() is None

    def log_tail(self, chars: int = 3000) -> str:
        """The last ``chars`` characters of the child's output."""
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM, then SIGKILL after ``timeout`` seconds; return the exit code."""
        stop_processes([self], timeout)
        return self.popen.wait()


def stop_processes(processes: Iterable[ManagedProcess], timeout: float = 10.0) -> None:
    """Stop several children in parallel: SIGTERM all, wait, SIGKILL stragglers."""
    procs = [p.popen for p in processes]
    for proc in procs:
        _signal(proc, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for proc in procs:
        try:
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _signal(proc, signal.SIGKILL)
            proc.wait()


def _signal(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, sig)


def pid_alive(pid: int) -> bool:
    """True if ``pid`` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def harness_pids() -> list[int]:
    """PIDs of every child started by the harness in this interpreter."""
    return list(_REGISTRY)


def leftover_pids() -> list[int]:
    """PIDs of harness children that are still running."""
    return [pid for pid, proc in _REGISTRY.items() if proc.poll() is None]


def kill_leftovers() -> list[int]:
    """SIGKILL every harness child still running; return their PIDs."""
    left = leftover_pids()
    for pid in left:
        proc = _REGISTRY[pid]
        _signal(proc, signal.SIGKILL)
        proc.wait()
    return left


def assert_no_leftover_processes() -> None:
    """Assert no harness child survives; survivors are killed before failing."""
    left = kill_leftovers()
    assert not left, f"harness processes still running (now killed): {left}"


atexit.register(kill_leftovers)
