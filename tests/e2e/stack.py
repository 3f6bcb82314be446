"""One spec's live stack: its build, an app driving events, Prometheus and Alertmanager.

The spec is built with `monitorgen build SPEC -o TMP`; Prometheus loads the generated
prometheus.yml and a time-compressed copy of rules.yml (see `overrides`), Alertmanager the
generated alertmanager.yml and templates with its receivers redirected to capture servers.
The application is a MetricsApp importing the generated Python module; an EventDriver
calls its event functions from a background thread, tick after tick, like traffic.

A scenario is a list of phases (e.g. absent -> quiet -> fire): each adds steady event
streams, runs one-off calls or actions, and may wait until it has settled. Phases only
move forward; tests ask for the phase they need with `advance`.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from monitorgen import promql
from tests.harness import (
    AlertmanagerServer,
    CaptureServer,
    MetricsApp,
    PrometheusServer,
    SmtpCapture,
    pid_alive,
    require_binary,
    stop_servers,
    wait_for,
)
from tests.harness.servers import ServerBase

from . import notifications
from .notifications import Notification
from .overrides import compress_rules

SCRAPE_INTERVAL = "1s"
TICK = 0.5
"""Seconds between two rounds of the steady event streams."""
ROUTE_TIMING = {"group_wait": "1s", "group_interval": "1s", "repeat_interval": "1h"}
"""group_wait stays above zero so that alerts of one evaluation share a notification."""
DELIVERY_GRACE = 2.5
"""Seconds after which a notification that Alertmanager was going to send has arrived:
group_wait (1s) plus one group_interval (1s) plus delivery time."""
QUIET_HOLD = 3.0
"""Seconds the quiet phase lasts once every alert's inputs exist: `for` (1s) plus one
evaluation (1s) plus group_wait (1s), so a wrongly firing alert would be noticed."""
TIMEOUT = 30.0


@dataclass(frozen=True)
class Call:
    """`times` calls of one function of the application with keyword arguments; as a
    stream, on every `every`-th tick."""

    function: str
    kwargs: Mapping[str, Any]
    times: int = 1
    every: int = 1


def call(function: str, *, times: int = 1, every: int = 1, **kwargs: Any) -> Call:
    return Call(function, kwargs, times, every)


@dataclass(frozen=True)
class Phase:
    """A step of a scenario: one-off calls, then steady streams, then an optional wait."""

    name: str
    once: tuple[Call, ...] = ()
    streams: tuple[Call, ...] = ()
    action: Callable[[LiveStack], None] | None = None
    settle: Callable[[LiveStack], None] | None = None


class EventDriver:
    """Calls the application's functions from a background thread every TICK seconds."""

    def __init__(self, app: MetricsApp) -> None:
        self.app = app
        self.streams: list[Call] = []
        self.error: BaseException | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="event-driver", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def add(self, streams: Iterable[Call]) -> None:
        with self._lock:
            self.streams.extend(streams)

    def run(self, calls: Iterable[Call]) -> None:
        for item in calls:
            for _ in range(item.times):
                self.app.call(item.function, **item.kwargs)

    def check(self) -> None:
        """Raise the error that stopped the driver, if any."""
        if self.error is not None:
            raise AssertionError(f"event driver failed: {self.error!r}") from self.error

    def _run(self) -> None:
        tick = 0
        while not self._stop.wait(TICK):
            tick += 1
            with self._lock:
                streams = [s for s in self.streams if tick % s.every == 0]
            try:
                self.run(streams)
            except BaseException as err:
                self.error = err
                return


@dataclass
class LiveStack:
    """Everything one spec needs live; start() and stop() bracket a test module."""

    spec: Path
    workdir: Path
    phases: Sequence[Phase]
    app_module: Path | None = None
    """An application module to run instead of the generated one (it imports that)."""
    replicas: int = 1
    """Application processes Prometheus scrapes as targets of the spec's job."""
    yesterday: Sequence[tuple[str, Mapping[str, str], float]] = ()
    """Gauge samples (metric, labels, value) backfilled around this time one day ago."""
    started_at: float = 0.0
    phase_index: int = -1
    servers: list[ServerBase] = field(default_factory=list)
    apps: list[MetricsApp] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.out = self.workdir / "build" / self.spec.stem
        self.capture = CaptureServer()
        self.smtp = SmtpCapture()

    # --- life cycle -----------------------------------------------------------------

    def start(self) -> LiveStack:
        require_binary("prometheus")
        require_binary("prometheus-alertmanager")
        build_spec(self.spec, self.workdir / "build")
        self.rules = compress_rules(yaml.safe_load(self.read("prometheus/rules.yml")))
        self.prometheus_config = yaml.safe_load(self.read("prometheus/prometheus.yml"))
        self.capture.start()
        self.smtp.start()
        for index in range(self.replicas):
            self.apps.append(self._start(MetricsApp(self._app_path(), self._dir(f"app{index}"))))
        self.alertmanager = self._start(
            AlertmanagerServer(
                self.read("alertmanager/alertmanager.yml"),
                self.capture,
                self.smtp,
                route_timing=ROUTE_TIMING,
                extra_files=alertmanager_files(self.out),
                workdir=self._dir("alertmanager"),
            )
        )
        if self.yesterday:
            self._backfill_yesterday()
        self.prometheus = self._start(
            PrometheusServer(
                self.read("prometheus/prometheus.yml"),
                {"rules.yml": self.rules},
                scrape_targets=[app.address for app in self.apps],
                alertmanagers=[self.alertmanager.address],
                interval=SCRAPE_INTERVAL,
                workdir=self._dir("prometheus"),
            )
        )
        self.started_at = time.time()
        self.driver = EventDriver(self.app)
        self.driver.start()
        return self

    def stop(self) -> None:
        if hasattr(self, "driver"):
            self.driver.stop()
        stop_servers(reversed(self.servers))
        self.capture.stop()
        self.smtp.stop()
        survivors = [s.pid for s in self.servers if s.process and pid_alive(s.pid)]
        assert not survivors, f"processes survived the stack: {survivors}"

    @property
    def app(self) -> MetricsApp:
        """The application the driver records events in."""
        return self.apps[0]

    def placeholders(self) -> dict[str, str]:
        """Values expected labels may refer to: `{replica}` is the last app's address."""
        return {"replica": self.apps[-1].address}

    def read(self, relative: str) -> str:
        return (self.out / relative).read_text()

    def _start(self, server: Any) -> Any:
        self.servers.append(server)
        return server.start()

    def _dir(self, name: str) -> Path:
        path = self.workdir / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def _app_path(self) -> Path:
        generated = self.out / "python" / f"{self.spec.stem}_metrics.py"
        if self.app_module is None:
            return generated
        return Path(shutil.copy(self.app_module, generated.parent))

    def _backfill_yesterday(self) -> None:
        """Write yesterday's samples as a TSDB block before Prometheus opens its storage."""
        promtool = require_binary("promtool")
        job = self.prometheus_config["scrape_configs"][0]["job_name"]
        source = self._dir("prometheus") / "yesterday.om"
        source.write_text(openmetrics_yesterday(self.yesterday, job, time.time()))
        subprocess.run(
            [promtool, "tsdb", "create-blocks-from", "openmetrics", str(source), "data"],
            cwd=source.parent,
            check=True,
            capture_output=True,
        )

    # --- phases ---------------------------------------------------------------------

    def advance(self, name: str, *, exactly: bool = False) -> None:
        """Run the scenario's phases up to `name`; later phases keep its traffic running,
        so they count as reached unless the test needs `exactly` that phase."""
        names = [p.name for p in self.phases]
        target = names.index(name)
        if exactly:
            assert target >= self.phase_index, (
                f"phase {name!r} asked for after {names[self.phase_index]!r}: "
                "tests ran out of order"
            )
        while self.phase_index < target:
            self.phase_index += 1
            self._enter(self.phases[self.phase_index])
        self.driver.check()

    def _enter(self, phase: Phase) -> None:
        self.driver.run(phase.once)
        self.driver.add(phase.streams)
        if phase.action is not None:
            phase.action(self)
        if phase.settle is not None:
            phase.settle(self)

    # --- what the stack saw ---------------------------------------------------------

    def notifications(self) -> list[Notification]:
        return notifications.parse_all(self.capture.requests, self.smtp.messages)

    def wait_for_notifications(
        self, predicate: Callable[[list[Notification]], bool], message: str
    ) -> list[Notification]:
        def check() -> list[Notification] | None:
            self.driver.check()
            found = self.notifications()
            return found if predicate(found) else None

        found: list[Notification] = self.prometheus.wait_for(check, TIMEOUT, message)
        return found

    def alert_rules(self) -> list[dict[str, Any]]:
        """Alerting rules of the loaded (compressed) rules file."""
        return [r for g in self.rules["groups"] for r in g["rules"] if "alert" in r]

    def recording_rules(self) -> list[dict[str, Any]]:
        return [r for g in self.rules["groups"] for r in g["rules"] if "record" in r]

    def alert_rule(self, alertname: str, severity: str) -> dict[str, Any]:
        [rule] = [
            r
            for r in self.alert_rules()
            if r["alert"] == alertname and r["labels"]["severity"] == severity
        ]
        return rule

    def external_labels(self) -> dict[str, str]:
        labels = self.prometheus_config.get("global", {}).get("external_labels") or {}
        return {str(k): str(v) for k, v in labels.items()}

    def rule_state(self, alertname: str, severity: str) -> dict[str, Any]:
        """The live rule from /api/v1/rules (state, health, active alerts)."""
        [rule] = [
            r
            for g in self.prometheus.rules()
            for r in g["rules"]
            if r["type"] == "alerting"
            and r["name"] == alertname
            and r["labels"].get("severity") == severity
        ]
        return dict(rule)

    def active_alerts(self, alertname: str, severity: str) -> list[dict[str, Any]]:
        return [
            a
            for a in self.prometheus.alerts()
            if a["labels"]["alertname"] == alertname and a["labels"]["severity"] == severity
        ]


def build_spec(spec: Path, output: Path) -> None:
    """`monitorgen build SPEC -o OUTPUT`, failing with its output when it fails."""
    result = subprocess.run(
        [sys.executable, "-m", "monitorgen", "build", str(spec), "-o", str(output)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, f"monitorgen build failed:\n{result.stdout}{result.stderr}"


def alertmanager_files(out: Path) -> dict[str, str]:
    """The files beside a built alertmanager.yml (templates), by relative path."""
    root = out / "alertmanager"
    return {
        str(path.relative_to(root)): path.read_text()
        for path in sorted(root.rglob("*"))
        if path.is_file() and path.name != "alertmanager.yml"
    }


def openmetrics_yesterday(
    samples: Sequence[tuple[str, Mapping[str, str], float]], job: str, now: float
) -> str:
    """OpenMetrics text of gauge samples every 15s from 1d+15m to 1d-15m before `now`."""
    lines: list[str] = []
    for metric in sorted({name for name, _, _ in samples}):
        lines.append(f"# TYPE {metric} gauge")
        for name, labels, value in samples:
            if name != metric:
                continue
            pairs = ",".join(f'{k}="{v}"' for k, v in sorted({**labels, "job": job}.items()))
            for offset in range(-900, 901, 15):
                lines.append(f"{metric}{{{pairs}}} {value} {now - 86400 + offset:.3f}")
    return "\n".join([*lines, "# EOF", ""])


def condition_inputs(expr: str) -> list[str]:
    """Queries that must return data for an alert's condition to be evaluated on data.

    For `<expression> <comparison> <number>` it is the expression itself; otherwise
    (absent(), and/or of recorded burn rates) every series selector in it.
    """
    tree = promql.parse(expr)
    while type(tree).__name__ == "ParenExpr":
        tree = tree.expr
    if (
        type(tree).__name__ == "BinaryExpr"
        and str(tree.op).strip() in (">", "<", ">=", "<=", "==", "!=")
        and type(tree.rhs).__name__ == "NumberLiteral"
        and not (tree.modifier is not None and tree.modifier.return_bool)
    ):
        return [str(tree.lhs)]
    return [_selector_text(s) for s in promql.inspect(expr).selectors]


def _selector_text(selector: promql.SelectorUse) -> str:
    matchers = ",".join(
        f"{label}{op}{promql.string_literal(value)}"
        for label, op, value in selector.labels
        if label != "__name__"
    )
    return f"{selector.name or ''}{{{matchers}}}"


def wait_until(predicate: Callable[[], Any], message: str, timeout: float = TIMEOUT) -> Any:
    return wait_for(predicate, timeout=timeout, message=message)
