"""Child process behind MetricsApp: serve a module's metrics and call its functions.

Usage: python _metrics_child.py MODULE_PATH PORT_FILE
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

LOOPBACK = "127.0.0.1"


def load_module(path: Path) -> ModuleType:
    """Import a Python source file as a module."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def resolve(module: ModuleType, name: str) -> Callable[..., Any]:
    """Find a public callable by (dotted) attribute name."""
    target: Any = module
    for part in name.split("."):
        if not part or part.startswith("_"):
            raise LookupError(f"{name!r} is not a public name")
        target = getattr(target, part)
    if not callable(target):
        raise LookupError(f"{name!r} is not callable")
    function: Callable[..., Any] = target
    return function


def registry_of(module: ModuleType) -> CollectorRegistry:
    """The module's own REGISTRY if it defines one, else the default registry."""
    own = getattr(module, "REGISTRY", None)
    return own if isinstance(own, CollectorRegistry) else REGISTRY


def make_handler(module: ModuleType) -> type[BaseHTTPRequestHandler]:
    """Build the request handler class bound to ``module``."""
    registry = registry_of(module)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?")[0] == "/metrics":
                self._reply(200, generate_latest(registry), CONTENT_TYPE_LATEST)
            elif self.path == "/healthz":
                self._reply(200, b"ok", "text/plain")
            else:
                self._reply(404, b"not found", "text/plain")

        def do_POST(self) -> None:
            if not self.path.startswith("/call/"):
                self._reply(404, b"not found", "text/plain")
                return
            try:
                status, answer = 200, {"result": self._call(self.path[len("/call/") :])}
            except (LookupError, AttributeError) as err:
                status, answer = 404, {"error": str(err)}
            except Exception as err:
                status, answer = 500, {"error": f"{type(err).__name__}: {err}"}
            self._reply(status, json.dumps(answer, default=repr).encode(), "application/json")

        def _call(self, name: str) -> Any:
            length = int(self.headers.get("Content-Length") or 0)
            kwargs = json.loads(self.rfile.read(length) or b"{}") if length else {}
            if not isinstance(kwargs, dict):
                raise TypeError("the request body must be a JSON object of keyword arguments")
            return resolve(module, name)(**kwargs)

        def _reply(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


def write_port(port_file: Path, port: int) -> None:
    """Publish the bound port atomically."""
    tmp = port_file.with_suffix(".tmp")
    tmp.write_text(str(port))
    os.replace(tmp, port_file)


def main(argv: list[str]) -> None:
    """Load the module, bind a free loopback port, publish it and serve forever."""
    module_path, port_file = Path(argv[1]), Path(argv[2])
    module = load_module(module_path)
    server = ThreadingHTTPServer((LOOPBACK, 0), make_handler(module))
    write_port(port_file, int(server.server_address[1]))
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv)
