"""Live Prometheus and Alertmanager servers bound to 127.0.0.1 for end-to-end tests."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Self, TypeVar
from urllib.parse import urlencode

from .capture import CaptureServer, SmtpCapture
from .net import LOOPBACK, BoundSocket, bound_sockets, free_port, http_json, http_ok, http_request
from .process import ManagedProcess, wait_for
from .rewrite import (
    ConfigSource,
    FileWriter,
    ScrapeTargets,
    dump_config,
    load_config,
    rewrite_alertmanager_config,
    rewrite_prometheus_config,
)

T = TypeVar("T")

RuleFiles = Mapping[str, str | Mapping[str, Any]] | Sequence[Path]

FAST_ROUTE_TIMING: Mapping[str, str] = {
    "group_wait": "0s",
    "group_interval": "1s",
    "repeat_interval": "1h",
}
FAST_CLUSTER_ARGS: tuple[str, ...] = (
    "--cluster.gossip-interval=50ms",
    "--cluster.pushpull-interval=1s",
)
_START_ATTEMPTS = 3
_PORT_IN_USE = "address already in use"


class ServerStartError(RuntimeError):
    """A server process exited or never became ready."""


class ServerBase:
    """A child process serving HTTP on 127.0.0.1, owning a working directory."""

    name = "server"
    ready_path = "/-/ready"
    start_timeout = 30.0
    stop_timeout = 10.0

    def __init__(self, workdir: Path | None = None) -> None:
        self._owns_workdir = workdir is None
        if workdir is None:
            workdir = Path(tempfile.mkdtemp(prefix=f"monitorgen-{self.name}-"))
        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir = workdir
        self.process: ManagedProcess | None = None
        self.port = 0

    @property
    def pid(self) -> int:
        """PID of the server process (also after it stopped)."""
        if self.process is None:
            raise RuntimeError(f"{self.name} was never started")
        return self.process.pid

    @property
    def address(self) -> str:
        """``127.0.0.1:PORT``."""
        return f"{LOOPBACK}:{self.port}"

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://{self.address}"

    @property
    def log_path(self) -> Path:
        """File receiving the server's stdout and stderr."""
        return self.workdir / f"{self.name}.log"

    def running(self) -> bool:
        """True while the server process is alive."""
        return self.process is not None and self.process.running()

    def stop(self) -> None:
        """Stop by PID (SIGTERM, then SIGKILL after ``stop_timeout``)."""
        if self.process is not None:
            self.process.stop(self.stop_timeout)
        if self._owns_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def start(self) -> Self:
        """Start the server and wait until it is ready."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait_for(
        self, predicate: Callable[[], T], timeout: float = 20.0, message: str = "condition"
    ) -> T:
        """Poll ``predicate`` until truthy, failing early if the server died."""

        def check() -> T:
            self._ensure_alive()
            return predicate()

        return wait_for(check, timeout=timeout, message=message)

    def bound_sockets(self) -> list[BoundSocket]:
        """Sockets the server process has bound."""
        return bound_sockets(self.pid)

    def _launch(self, argv_for_port: Callable[[int], list[str]]) -> None:
        """Start the process on a free port and wait for readiness, retrying port clashes."""
        for attempt in range(_START_ATTEMPTS):
            self.port = free_port()
            self.process = ManagedProcess(argv_for_port(self.port), self.log_path, self.workdir)
            try:
                self._wait_ready()
                return
            except ServerStartError:
                self.process.stop(timeout=5)
                clash = _PORT_IN_USE in self.process.log_tail()
                if not clash or attempt == _START_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def _wait_ready(self) -> None:
        try:
            self.wait_for(
                lambda: http_ok(self.url + self.ready_path),
                timeout=self.start_timeout,
                message=f"{self.name} readiness",
            )
        except AssertionError as err:
            raise ServerStartError(f"{self.name} not ready: {err}\n{self._log()}") from err

    def _ensure_alive(self) -> None:
        if self.process is not None and not self.process.running():
            code = self.process.popen.returncode
            raise ServerStartError(f"{self.name} exited with code {code}\n{self._log()}")

    def _log(self) -> str:
        tail = self.process.log_tail() if self.process else ""
        return f"--- {self.log_path} ---\n{tail}"


class NodeExporter(ServerBase):
    """Debian's node_exporter on a free 127.0.0.1 port, stopped by PID."""

    name = "node-exporter"
    ready_path = "/metrics"

    def __init__(self, binary: str, workdir: Path | None = None) -> None:
        super().__init__(workdir)
        self.binary = binary

    def start(self) -> Self:
        self._launch(lambda port: [self.binary, f"--web.listen-address={LOOPBACK}:{port}"])
        return self


class PrometheusServer(ServerBase):
    """Prometheus with a test-rewritten config: local targets, short intervals."""

    name = "prometheus"

    def __init__(
        self,
        config: ConfigSource,
        rule_files: RuleFiles | None = None,
        *,
        scrape_targets: ScrapeTargets = (),
        alertmanagers: Sequence[str] = (),
        interval: str = "1s",
        resend_delay: str = "1s",
        workdir: Path | None = None,
        extra_args: Sequence[str] = (),
        binary: str = "prometheus",
    ) -> None:
        super().__init__(workdir)
        self.source = load_config(config)
        self.rule_files = rule_files or {}
        self.scrape_targets = scrape_targets
        self.alertmanagers = list(alertmanagers)
        self.interval = interval
        self.resend_delay = resend_delay
        self.extra_args = list(extra_args)
        self.binary = binary
        self.config: dict[str, Any] = {}

    @property
    def config_path(self) -> Path:
        """The rewritten prometheus.yml inside the working directory."""
        return self.workdir / "prometheus.yml"

    def start(self) -> Self:
        """Write the rewritten config and rules, start Prometheus, wait until ready."""
        _check_loopback_addresses([*_all_targets(self.scrape_targets), *self.alertmanagers])
        self.config = rewrite_prometheus_config(
            self.source,
            scrape_targets=self.scrape_targets,
            alertmanagers=self.alertmanagers,
            rule_paths=self._write_rule_files(),
            writer=FileWriter(self.workdir / "secrets"),
            interval=self.interval,
        )
        self.config_path.write_text(dump_config(self.config))
        self._launch(self._argv)
        return self

    def _argv(self, port: int) -> list[str]:
        return [
            self.binary,
            f"--config.file={self.config_path}",
            f"--storage.tsdb.path={self.workdir / 'data'}",
            f"--web.listen-address={LOOPBACK}:{port}",
            f"--web.external-url=http://{LOOPBACK}:{port}/",
            "--web.enable-lifecycle",
            f"--rules.alert.resend-delay={self.resend_delay}",
            *self.extra_args,
        ]

    def _write_rule_files(self) -> list[Path]:
        rules_dir = self.workdir / "rules"
        rules_dir.mkdir(exist_ok=True)
        paths = []
        for index, (name, content) in enumerate(_rule_items(self.rule_files)):
            path = rules_dir / f"{index:02d}-{name}"
            path.write_text(content)
            paths.append(path)
        return paths

    def api(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        """GET a Prometheus HTTP API path and return its ``data`` member."""
        query = f"?{urlencode(params)}" if params else ""
        answer = http_json(f"{self.url}{path}{query}")
        if answer.get("status") != "success":
            raise RuntimeError(f"{path} failed: {answer}")
        return answer["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """Instant query via /api/v1/query; returns the result list."""
        data = self.api("/api/v1/query", {"query": expr})
        result = data["result"]
        if data["resultType"] in ("scalar", "string"):
            return [{"metric": {}, "value": result}]
        return list(result)

    def query_value(self, expr: str) -> float | None:
        """Value of the first sample an instant query returns, or None."""
        result = self.query(expr)
        return float(result[0]["value"][1]) if result else None

    def alerts(self) -> list[dict[str, Any]]:
        """Active alerts via /api/v1/alerts."""
        return list(self.api("/api/v1/alerts")["alerts"])

    def rules(self) -> list[dict[str, Any]]:
        """Rule groups via /api/v1/rules."""
        return list(self.api("/api/v1/rules")["groups"])

    def targets(self) -> list[dict[str, Any]]:
        """Active scrape targets via /api/v1/targets."""
        return list(self.api("/api/v1/targets")["activeTargets"])

    def reload(self) -> None:
        """Ask Prometheus to reload its config files (POST /-/reload)."""
        status, body = http_request(f"{self.url}/-/reload", method="POST")
        if status != 200:
            raise RuntimeError(f"reload failed ({status}): {body!r}")


class GeneratedConfigPrometheus(PrometheusServer):
    """Prometheus on a generated prometheus.yml as it is (its rule files, target files and
    addresses included), listening on 127.0.0.1: nothing rewritten."""

    def __init__(self, config_file: Path, *, workdir: Path, binary: str = "prometheus") -> None:
        super().__init__({}, workdir=workdir, binary=binary)
        self.config_file = config_file

    @property
    def config_path(self) -> Path:
        return self.config_file

    def start(self) -> Self:
        self._launch(self._argv)
        return self


class AlertmanagerServer(ServerBase):
    """Alertmanager whose receivers deliver to local capture servers."""

    name = "alertmanager"

    def __init__(
        self,
        config: ConfigSource,
        capture: CaptureServer | None = None,
        smtp: SmtpCapture | None = None,
        *,
        route_timing: Mapping[str, str] | None = None,
        extra_files: Mapping[str, str] | None = None,
        cluster_port: int | None = None,
        cluster_peers: Sequence[str] | None = None,
        workdir: Path | None = None,
        extra_args: Sequence[str] = (),
        binary: str = "prometheus-alertmanager",
    ) -> None:
        super().__init__(workdir)
        self.source = load_config(config)
        self.capture = capture
        self.smtp = smtp
        self.route_timing = route_timing
        self.extra_files = dict(extra_files or {})
        self.clustered = cluster_port is not None or cluster_peers is not None
        self.cluster_port = cluster_port
        self.cluster_peers = list(cluster_peers or [])
        self.extra_args = list(extra_args)
        self.binary = binary
        self.config: dict[str, Any] = {}
        if self.clustered:
            self.stop_timeout = 25.0

    @property
    def config_path(self) -> Path:
        """The rewritten alertmanager.yml inside the working directory."""
        return self.workdir / "alertmanager.yml"

    @property
    def cluster_address(self) -> str | None:
        """``127.0.0.1:PORT`` of the gossip listener when clustered."""
        return f"{LOOPBACK}:{self.cluster_port}" if self.cluster_port else None

    def start(self) -> Self:
        """Write the rewritten config, start Alertmanager, wait until ready."""
        _check_loopback_addresses(self.cluster_peers)
        if self.clustered and self.cluster_port is None:
            self.cluster_port = free_port(udp=True)
        self._write_extra_files()
        self.config = rewrite_alertmanager_config(
            self.source,
            http_base=self.capture.url if self.capture else None,
            smtp_address=self.smtp.address if self.smtp else None,
            writer=FileWriter(self.workdir / "secrets"),
            route_timing=self.route_timing,
        )
        self.config_path.write_text(dump_config(self.config))
        self._launch(self._argv)
        return self

    def _argv(self, port: int) -> list[str]:
        return [
            self.binary,
            f"--config.file={self.config_path}",
            f"--storage.path={self.workdir / 'data'}",
            f"--web.listen-address={LOOPBACK}:{port}",
            f"--web.external-url=http://{LOOPBACK}:{port}/",
            *self._cluster_args(),
            *self.extra_args,
        ]

    def _cluster_args(self) -> list[str]:
        if not self.clustered:
            return ["--cluster.listen-address="]
        own = self.cluster_address
        peers = [f"--cluster.peer={peer}" for peer in self.cluster_peers]
        return [f"--cluster.listen-address={own}", f"--cluster.advertise-address={own}", *peers]

    def _write_extra_files(self) -> None:
        for relative, content in self.extra_files.items():
            path = self.workdir / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)

    def post_alerts(self, alerts: Sequence[Mapping[str, Any]]) -> None:
        """POST alerts (``labels``, ``annotations``, ...) to /api/v2/alerts."""
        http_json(f"{self.url}/api/v2/alerts", method="POST", body=[dict(a) for a in alerts])

    def alerts(self, **filters: str) -> list[dict[str, Any]]:
        """Alerts via GET /api/v2/alerts (query parameters as keyword arguments)."""
        query = f"?{urlencode(filters)}" if filters else ""
        return list(http_json(f"{self.url}/api/v2/alerts{query}"))

    def status(self) -> dict[str, Any]:
        """GET /api/v2/status (config, cluster peers, version)."""
        return dict(http_json(f"{self.url}/api/v2/status"))


def start_alertmanager_cluster(
    config: ConfigSource,
    size: int = 2,
    capture: CaptureServer | None = None,
    smtp: SmtpCapture | None = None,
    workdirs: Sequence[Path] | None = None,
    **kwargs: Any,
) -> list[AlertmanagerServer]:
    """Start ``size`` clustered Alertmanagers on loopback that peer with each other."""
    ports = _distinct_cluster_ports(size)
    members = []
    for index, port in enumerate(ports):
        peers = [f"{LOOPBACK}:{p}" for p in ports if p != port]
        workdir = workdirs[index] if workdirs else None
        members.append(
            AlertmanagerServer(
                config,
                capture,
                smtp,
                cluster_port=port,
                cluster_peers=peers,
                workdir=workdir,
                **kwargs,
            )
        )
    started: list[AlertmanagerServer] = []
    try:
        for member in members:
            started.append(member.start())
    except BaseException:
        stop_servers(started)
        raise
    return members


def stop_servers(servers: Iterable[ServerBase]) -> None:
    """Stop servers one after another, each by PID.

    Sequential stops let clustered Alertmanagers leave while their peers still
    answer, which takes well under a second instead of a ten second timeout.
    """
    for server in servers:
        server.stop()


def _distinct_cluster_ports(size: int) -> list[int]:
    ports: list[int] = []
    while len(ports) < size:
        port = free_port(udp=True)
        if port not in ports:
            ports.append(port)
    return ports


def _rule_items(rule_files: RuleFiles) -> list[tuple[str, str]]:
    if isinstance(rule_files, Mapping):
        return [
            (name, content if isinstance(content, str) else dump_config(content))
            for name, content in rule_files.items()
        ]
    return [(Path(p).name, Path(p).read_text()) for p in rule_files]


def _all_targets(targets: ScrapeTargets) -> list[str]:
    if isinstance(targets, Mapping):
        return [t for job_targets in targets.values() for t in job_targets]
    return list(targets)


def _check_loopback_addresses(addresses: Iterable[str]) -> None:
    for address in addresses:
        if address.rsplit(":", 1)[0] != LOOPBACK:
            raise ValueError(f"address {address!r} is not on {LOOPBACK}")
