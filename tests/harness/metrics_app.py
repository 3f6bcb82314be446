"""A Python subprocess serving a metrics module's /metrics and calling its functions."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Self

from .net import http_json, http_request
from .process import ManagedProcess
from .servers import ServerBase

CHILD_SCRIPT = Path(__file__).with_name("_metrics_child.py")


class MetricsApp(ServerBase):
    """Serves ``/metrics`` for a module file; ``POST /call/<function>`` calls it.

    The child binds its own free 127.0.0.1 port and publishes it through a file,
    so no port can be taken between choosing and binding it.
    """

    name = "metrics-app"
    ready_path = "/healthz"
    start_timeout = 15.0
    stop_timeout = 5.0

    def __init__(
        self, module_path: Path, workdir: Path | None = None, python: str = sys.executable
    ) -> None:
        super().__init__(workdir)
        self.module_path = Path(module_path).resolve()
        self.python = python

    @property
    def port_file(self) -> Path:
        """File where the child publishes its port."""
        return self.workdir / "metrics-app.port"

    def start(self) -> Self:
        """Start the child, wait for its port and for /healthz."""
        self.port_file.unlink(missing_ok=True)
        argv = [self.python, str(CHILD_SCRIPT), str(self.module_path), str(self.port_file)]
        self.process = ManagedProcess(argv, self.log_path, self.workdir)
        self.port = self.wait_for(self._read_port, self.start_timeout, "metrics app port")
        self._wait_ready()
        return self

    def _read_port(self) -> int:
        try:
            return int(self.port_file.read_text())
        except (OSError, ValueError):
            return 0

    def call(self, function: str, **kwargs: Any) -> Any:
        """Call ``function`` in the module with keyword arguments; return its result."""
        return http_json(f"{self.url}/call/{function}", method="POST", body=kwargs)["result"]

    def metrics_text(self) -> str:
        """The current /metrics exposition text."""
        status, body = http_request(f"{self.url}/metrics")
        if status != 200:
            raise RuntimeError(f"/metrics answered {status}")
        return body.decode()
