"""Pytest fixtures for the live-stack harness (load with ``pytest_plugins``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .capture import CaptureServer, SmtpCapture
from .metrics_app import MetricsApp
from .process import assert_no_leftover_processes, require_binary
from .rewrite import ConfigSource
from .servers import (
    AlertmanagerServer,
    NodeExporter,
    PrometheusServer,
    ServerBase,
    start_alertmanager_cluster,
    stop_servers,
)

PROMETHEUS_BINARY = "prometheus"
ALERTMANAGER_BINARY = "prometheus-alertmanager"
NODE_EXPORTER_BINARY = "prometheus-node-exporter"


@pytest.fixture(scope="session", autouse=True)
def harness_process_guard() -> Iterator[None]:
    """Fail the test run if any process started by the harness is still running."""
    yield
    assert_no_leftover_processes()


@pytest.fixture
def capture_server() -> Iterator[CaptureServer]:
    """A running HTTP capture server on 127.0.0.1."""
    with CaptureServer() as server:
        yield server


@pytest.fixture
def smtp_capture() -> Iterator[SmtpCapture]:
    """A running SMTP capture server on 127.0.0.1."""
    with SmtpCapture() as server:
        yield server


def _workdir(factory: pytest.TempPathFactory, name: str, kwargs: dict[str, Any]) -> Path:
    workdir = kwargs.pop("workdir", None)
    return Path(workdir) if workdir is not None else factory.mktemp(name)


@pytest.fixture
def prometheus_factory(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., PrometheusServer]]:
    """Start PrometheusServer(config, rule_files, **kwargs); all are stopped afterwards."""
    binary = require_binary(PROMETHEUS_BINARY)
    started: list[ServerBase] = []

    def start(config: ConfigSource, rule_files: Any = None, **kwargs: Any) -> PrometheusServer:
        workdir = _workdir(tmp_path_factory, "prometheus", kwargs)
        kwargs.setdefault("binary", binary)
        server = PrometheusServer(config, rule_files, workdir=workdir, **kwargs)
        started.append(server)
        return server.start()

    yield start
    stop_servers(reversed(started))


@pytest.fixture
def alertmanager_factory(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., AlertmanagerServer]]:
    """Start AlertmanagerServer(config, capture, smtp, **kwargs); all stopped afterwards."""
    binary = require_binary(ALERTMANAGER_BINARY)
    started: list[ServerBase] = []

    def start(
        config: ConfigSource,
        capture: CaptureServer | None = None,
        smtp: SmtpCapture | None = None,
        **kwargs: Any,
    ) -> AlertmanagerServer:
        workdir = _workdir(tmp_path_factory, "alertmanager", kwargs)
        kwargs.setdefault("binary", binary)
        server = AlertmanagerServer(config, capture, smtp, workdir=workdir, **kwargs)
        started.append(server)
        return server.start()

    yield start
    stop_servers(reversed(started))


@pytest.fixture
def alertmanager_cluster_factory(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., list[AlertmanagerServer]]]:
    """Start a peered Alertmanager cluster: (config, size=2, capture, smtp, **kwargs)."""
    binary = require_binary(ALERTMANAGER_BINARY)
    started: list[ServerBase] = []

    def start(
        config: ConfigSource,
        size: int = 2,
        capture: CaptureServer | None = None,
        smtp: SmtpCapture | None = None,
        **kwargs: Any,
    ) -> list[AlertmanagerServer]:
        workdirs = [tmp_path_factory.mktemp("alertmanager-ha") for _ in range(size)]
        kwargs.setdefault("binary", binary)
        members = start_alertmanager_cluster(
            config, size, capture, smtp, workdirs=workdirs, **kwargs
        )
        started.extend(members)
        return members

    yield start
    stop_servers(started)


@pytest.fixture
def metrics_app_factory(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[[Path], MetricsApp]]:
    """Start MetricsApp(module_path); all apps are stopped afterwards."""
    started: list[ServerBase] = []

    def start(module_path: Path) -> MetricsApp:
        app = MetricsApp(module_path, workdir=tmp_path_factory.mktemp("metrics-app"))
        started.append(app)
        return app.start()

    yield start
    stop_servers(reversed(started))


@pytest.fixture
def node_exporter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeExporter]:
    """Debian's node_exporter running on 127.0.0.1."""
    binary = require_binary(NODE_EXPORTER_BINARY)
    with NodeExporter(binary, tmp_path_factory.mktemp("node-exporter")) as server:
        yield server
