"""`monitorgen up`: a spec's generated monitoring running locally, fed by a demo app.

Starts, all on 127.0.0.1 and in a temporary folder holding the spec's build:
  - the demo application (`monitorgen.demo`) recording random traffic through the
    generated Python module, with incident minutes that make alerts fire;
  - Prometheus with the generated prometheus.yml and rules, scraping the demo app;
  - Alertmanager with the generated routes, grouping and inhibition, every receiver
    replaced by a webhook to a small server here that prints each notification.
Nothing is sent beyond 127.0.0.1. By default the timing is shortened so alerts fire
within a minute: evaluation every 5 s, `for` at most 30 s, group_wait 5 s.
Ctrl-C (or the end of `duration`) stops every process by its PID.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

from monitorgen import promql, writer
from monitorgen.immutable import immutable
from monitorgen.model import (
    Comparison,
    Event,
    EventField,
    Metric,
    MetricType,
    QueryFunction,
    Spec,
    UpdateOp,
)
from monitorgen.targets.base import Artifact
from monitorgen.targets.python_client import module_path

LOOPBACK = "127.0.0.1"
FAST_INTERVAL = "5s"
FAST_MAX_FOR = 30.0
FAST_ROUTE_TIMING = {"group_wait": "5s", "group_interval": "30s"}
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
ALERTMANAGER_BINARIES = ("prometheus-alertmanager", "alertmanager")
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))

Echo = Callable[[str], None]


class LiveError(RuntimeError):
    """The local stack cannot start (missing binary, a process that dies)."""


# --- the demo application's plan -------------------------------------------------------


def demo_plan(spec: Spec, module: Path, port: int) -> dict[str, Any]:
    """What the demo app records: each event with a recipe per field, or each metric."""
    if spec.events:
        actions = [_event_action(spec, event) for event in spec.events]
    else:
        actions = [_metric_action(spec, metric) for metric in spec.metrics]
    return {"module": str(module), "port": port, "actions": actions}


def _event_action(spec: Spec, event: Event) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for item in event.fields:
        if event.cost is not None and item.name == event.cost.field:
            continue
        fields[item.name] = _field_recipe(spec, event, item)
    return {"function": f"record_{event.name}", "fields": fields}


def _field_recipe(spec: Spec, event: Event, item: EventField) -> dict[str, Any]:
    if item.type == "bool":
        return {"values": [True, False]}
    if item.type == "str":
        return _text_recipe(spec, event, item)
    if item.default is not None:
        return {"values": [item.default]}
    for update in event.updates:
        metric = spec.metric(update.metric)
        if update.field == item.name and metric is not None:
            return _amount_recipe(spec, metric, update.op, update.scale, item.type == "int")
    return {"range": [0, 1000], "integer": item.type == "int"}


def _text_recipe(spec: Spec, event: Event, item: EventField) -> dict[str, Any]:
    if event.cost is not None and item.name == event.cost.model and spec.pricing:
        return {"values": [name for name, _ in spec.pricing.models]}
    for update in event.updates:
        metric = spec.metric(update.metric)
        for label, source in update.labels:
            if source == f"${item.name}" and metric is not None:
                return _label_recipe(metric, label, item.name)
    return {"values": [f"{item.name}_{n}" for n in (1, 2, 3)]}


def _label_recipe(metric: Metric, label: str, fallback: str) -> dict[str, Any]:
    declared = next((x.values for x in metric.labels if x.name == label), ())
    if declared:
        return {"values": [declared[0]], "incident": list(declared[1:])}
    return {"values": [f"{fallback}_{n}" for n in (1, 2, 3)]}


#: A gauge holding a Unix time (`last_success_timestamp_seconds`): the demo sets it to
#: a moment ago, and in an incident to long enough ago for a staleness alert to fire.
TIMESTAMP_SUFFIX = "_timestamp_seconds"
STALE_SECONDS = 2 * 86400


def _amount_recipe(
    spec: Spec, metric: Metric, op: UpdateOp, scale: float | None, integer: bool
) -> dict[str, Any]:
    """Amounts in the metric's own range: its buckets, its alert thresholds, or counts."""
    factor = 1 / scale if scale else 1.0
    if op is UpdateOp.OBSERVE:
        buckets = metric.buckets or (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
        usual = buckets[len(buckets) // 3]
        calm, incident = [0, usual * factor], [usual * factor, buckets[-1] * factor]
    elif op is UpdateOp.SET and metric.name.endswith(TIMESTAMP_SUFFIX):
        return {"seconds_ago": [0, 60], "incident": [STALE_SECONDS, 1.5 * STALE_SECONDS]}
    elif op is UpdateOp.SET:
        calm, incident = _gauge_ranges(spec, metric)
    else:
        calm, incident = [0, 1000], [1000, 20000]
    return {"range": calm, "incident": incident, "integer": integer}


def _gauge_ranges(spec: Spec, metric: Metric) -> tuple[list[float], list[float]]:
    """Calm values on the good side of the metric's first value alert, incidents beyond it."""
    for alert in spec.alerts:
        query, threshold = alert.query, alert.threshold
        if query is None or threshold is None or query.metric != metric.name:
            continue
        if query.function is not QueryFunction.VALUE:
            continue
        limit = threshold.value
        if threshold.comparison is Comparison.ABOVE:
            return [0.2 * limit, 0.6 * limit], [1.2 * limit, 2 * limit]
        return [1.05 * limit, 1.25 * limit], [0.4 * limit, 0.9 * limit]
    return [0, 100], [0, 100]


def _metric_action(spec: Spec, metric: Metric) -> dict[str, Any]:
    labels = {x.name: _label_recipe(metric, x.name, x.name) for x in metric.labels}
    op = {
        MetricType.COUNTER: UpdateOp.INC,
        MetricType.GAUGE: UpdateOp.SET,
    }.get(metric.type, UpdateOp.OBSERVE)
    amount = _amount_recipe(spec, metric, op, None, integer=False)
    if op is UpdateOp.INC:
        amount = {"range": [0, 5], "incident": [0, 10]}
    return {"metric": metric.name, "method": op.value, "labels": labels, "amount": amount}


# --- configs for the local stack -------------------------------------------------------


def prometheus_config(
    config: Mapping[str, Any], *, app: str, alertmanager: str, rules: Path, fast: bool
) -> dict[str, Any]:
    """The generated config scraping the demo app and alerting the local Alertmanager."""
    out = dict(config)
    if fast:
        out["global"] = {
            **out.get("global", {}),
            "scrape_interval": FAST_INTERVAL,
            "scrape_timeout": FAST_INTERVAL,
            "evaluation_interval": FAST_INTERVAL,
        }
    jobs = out.get("scrape_configs") or []
    out["scrape_configs"] = [
        {**job, "scheme": "http", "static_configs": [{"targets": [app]}]} for job in jobs[:1]
    ]
    out["alerting"] = {
        "alertmanagers": [
            {"api_version": "v2", "scheme": "http", "static_configs": [{"targets": [alertmanager]}]}
        ]
    }
    out["rule_files"] = [str(rules)]
    return out


def rules_config(rules: Mapping[str, Any], *, fast: bool) -> dict[str, Any]:
    """With `fast`, every group evaluates every 5 s and `for` is at most 30 s."""
    if not fast:
        return dict(rules)
    groups = []
    for group in rules.get("groups") or []:
        items = [_capped_for(rule) for rule in group.get("rules") or []]
        groups.append({**group, "interval": FAST_INTERVAL, "rules": items})
    return {**rules, "groups": groups}


def _capped_for(rule: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(rule)
    if "for" in out and promql.seconds(str(out["for"])) > FAST_MAX_FOR:
        out["for"] = f"{FAST_MAX_FOR:g}s"
    return out


def alertmanager_config(
    config: Mapping[str, Any], *, notify_url: str, fast: bool
) -> dict[str, Any]:
    """The generated routes and inhibitions; every receiver posts to `notify_url`/<name>."""
    out = {key: value for key, value in config.items() if key != "global"}
    out["receivers"] = [
        {
            "name": receiver["name"],
            "webhook_configs": [{"url": f"{notify_url}/{receiver['name']}", "send_resolved": True}],
        }
        for receiver in config.get("receivers") or []
    ]
    if fast and "route" in out:
        out["route"] = _fast_route(out["route"], root=True)
    return out


def _fast_route(route: Mapping[str, Any], root: bool) -> dict[str, Any]:
    out = dict(route)
    for key, value in FAST_ROUTE_TIMING.items():
        if root or key in out:
            out[key] = value
    if "routes" in out:
        out["routes"] = [_fast_route(child, root=False) for child in out["routes"]]
    return out


# --- processes --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
        return port


def find_binary(names: Sequence[str]) -> str:
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    raise LiveError(
        f"{' or '.join(names)} is not installed "
        "(Debian/Ubuntu: apt-get install prometheus prometheus-alertmanager)"
    )


def http_ok(url: str) -> bool:
    try:
        with _NO_PROXY.open(url, timeout=1) as answer:
            return int(answer.status) == 200
    except OSError:
        return False


@dataclass
class Process:
    """A child in its own session (Ctrl-C reaches only `up`), logging to a file."""

    name: str
    argv: list[str]
    log: Path
    url: str
    """What the user opens; `url + ready_path` answers 200 once the process is ready."""
    ready_path: str
    popen: subprocess.Popen[bytes] | None = None

    def start(self, cwd: Path) -> None:
        with self.log.open("ab") as log:
            self.popen = subprocess.Popen(
                self.argv,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while not http_ok(self.url + self.ready_path):
            if self.popen is None or self.popen.poll() is not None:
                raise LiveError(f"{self.name} exited; its log:\n{self._tail()}")
            if time.monotonic() > deadline:
                raise LiveError(f"{self.name} not ready after {START_TIMEOUT:g}s:\n{self._tail()}")
            time.sleep(0.2)

    def stop(self) -> None:
        """SIGTERM by PID, SIGKILL after STOP_TIMEOUT."""
        if self.popen is None or self.popen.poll() is not None:
            return
        os.kill(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.kill(self.popen.pid, signal.SIGKILL)
            self.popen.wait()

    def _tail(self) -> str:
        return self.log.read_text(errors="replace")[-2000:]


class NotificationPrinter:
    """A webhook endpoint on 127.0.0.1 printing every notification Alertmanager sends."""

    def __init__(self, echo: Echo) -> None:
        printer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                printer.show(self.path.strip("/"), self.rfile.read(length))
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.echo = echo
        self.server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.server.server_address[1]}"

    def show(self, receiver: str, body: bytes) -> None:
        for line in notification_lines(receiver, json.loads(body or b"{}")):
            self.echo(line)

    def __enter__(self) -> NotificationPrinter:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def notification_lines(receiver: str, payload: Mapping[str, Any]) -> list[str]:
    """One line per alert of a webhook notification: time, receiver, status, name, summary."""
    stamp = datetime.now().strftime("%H:%M:%S")
    lines = []
    for alert in payload.get("alerts") or []:
        labels, annotations = alert.get("labels", {}), alert.get("annotations", {})
        extra = " ".join(
            f"{k}={v}" for k, v in sorted(labels.items()) if k not in ("alertname", "severity")
        )
        lines.append(
            f"[{stamp}] {receiver:<16} {alert.get('status', '').upper():<8} "
            f"{labels.get('alertname', '?')} ({labels.get('severity', '-')}) "
            f"{annotations.get('summary', '')}  {extra}".rstrip()
        )
    return lines


# --- the stack --------------------------------------------------------------------------


def _write_yaml(path: Path, data: Mapping[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(dict(data), sort_keys=False))
    return path


def _load_yaml(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    return dict(data) if isinstance(data, dict) else {}


@contextlib.contextmanager
def _workdir(keep: Path | None) -> Iterator[Path]:
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        yield keep
        return
    path = Path(tempfile.mkdtemp(prefix="monitorgen-up-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def up(
    spec: Spec,
    artifacts: Sequence[Artifact],
    *,
    echo: Echo,
    fast: bool = True,
    duration: float | None = None,
    workdir: Path | None = None,
) -> None:
    """Run the local stack until Ctrl-C (or `duration` seconds); always stop every process."""
    binaries = {
        "prometheus": find_binary(["prometheus"]),
        "alertmanager": find_binary(ALERTMANAGER_BINARIES),
    }
    if not any(a.path == module_path(spec) for a in artifacts):
        raise LiveError(f"{spec.source} declares no metrics: there is nothing for a demo to record")
    with _workdir(workdir) as root, NotificationPrinter(echo) as printer:
        writer.write_tree(root, {spec.name: artifacts}, prune=False)
        processes = _processes(spec, root / spec.name, binaries, printer.url, fast)
        try:
            for process in processes:
                process.start(root / spec.name)
                process.wait_ready()
            _announce(spec, root / spec.name, processes, fast, echo)
            _wait(duration)
        except KeyboardInterrupt:
            pass
        finally:
            for process in reversed(processes):
                process.stop()
            echo("stopped: " + ", ".join(f"{p.name} (pid {p.pid})" for p in processes if p.popen))


@immutable
class LocalConfigs:
    plan: Path
    prometheus: Path
    alertmanager: Path


def local_configs(
    spec: Spec, out: Path, addresses: Mapping[str, str], notify_url: str, fast: bool
) -> LocalConfigs:
    """Write the demo plan and the rewritten configs beside the generated files."""
    port = int(addresses["app"].rsplit(":", 1)[1])
    plan = demo_plan(spec, out / module_path(spec), port)
    rules = _write_yaml(
        out / "prometheus" / "rules.local.yml",
        rules_config(_load_yaml(out / "prometheus" / "rules.yml"), fast=fast),
    )
    prometheus = prometheus_config(
        _load_yaml(out / "prometheus" / "prometheus.yml"),
        app=addresses["app"],
        alertmanager=addresses["alertmanager"],
        rules=rules,
        fast=fast,
    )
    alertmanager = alertmanager_config(
        _load_yaml(out / "alertmanager" / "alertmanager.yml"), notify_url=notify_url, fast=fast
    )
    return LocalConfigs(
        _write_json(out / "demo-plan.json", plan),
        _write_yaml(out / "prometheus" / "prometheus.local.yml", prometheus),
        _write_yaml(out / "alertmanager" / "alertmanager.local.yml", alertmanager),
    )


def _processes(
    spec: Spec, out: Path, binaries: Mapping[str, str], notify_url: str, fast: bool
) -> list[Process]:
    addresses = {
        name: f"{LOOPBACK}:{free_port()}" for name in ("app", "prometheus", "alertmanager")
    }
    configs = local_configs(spec, out, addresses, notify_url, fast)
    am, prom = addresses["alertmanager"], addresses["prometheus"]
    return [
        Process(
            "demo app",
            [sys.executable, "-m", "monitorgen.demo", str(configs.plan)],
            out / "demo.log",
            f"http://{addresses['app']}",
            "/metrics",
        ),
        Process(
            "alertmanager",
            [
                binaries["alertmanager"],
                f"--config.file={configs.alertmanager}",
                f"--storage.path={out / 'alertmanager-data'}",
                f"--web.listen-address={am}",
                "--cluster.listen-address=",
            ],
            out / "alertmanager.log",
            f"http://{am}",
            "/-/ready",
        ),
        Process(
            "prometheus",
            [
                binaries["prometheus"],
                f"--config.file={configs.prometheus}",
                f"--storage.tsdb.path={out / 'prometheus-data'}",
                f"--web.listen-address={prom}",
            ],
            out / "prometheus.log",
            f"http://{prom}",
            "/-/ready",
        ),
    ]


def _write_json(path: Path, data: Mapping[str, Any]) -> Path:
    path.write_text(json.dumps(data, indent=2))
    return path


def _announce(spec: Spec, out: Path, processes: Sequence[Process], fast: bool, echo: Echo) -> None:
    app, alertmanager, prometheus = processes
    echo(f"monitorgen up: {spec.name} ({spec.source}), files in {out}")
    echo(f"  Prometheus    {prometheus.url}/alerts  (pid {prometheus.pid})")
    echo(f"  Alertmanager  {alertmanager.url}  (pid {alertmanager.pid})")
    echo(f"  demo app      {app.url}/metrics  (pid {app.pid})")
    if fast:
        echo(
            f"Timing shortened: evaluation every {FAST_INTERVAL}, `for` at most "
            f"{FAST_MAX_FOR:g}s, group_wait {FAST_ROUTE_TIMING['group_wait']} "
            "(--real-timing keeps the generated values)."
        )
    echo("The demo app alternates a calm minute and an incident minute.")
    echo("Notifications appear below (every receiver is redirected here). Ctrl-C stops.")


def _wait(duration: float | None) -> None:
    if duration is not None:
        time.sleep(duration)
        return
    while True:
        time.sleep(3600)
