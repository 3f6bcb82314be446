"""`monitorgen up`: the local stack for trying a spec by hand.

The end-to-end test runs the real command, reads the URLs and PIDs it prints, checks that
the demo app's events reach Prometheus, that Alertmanager only notifies 127.0.0.1, and that
Ctrl-C stops every process. The other tests check its config rewrites and demo plan.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from monitorgen import demo, live, pipeline
from monitorgen.model import Spec
from tests.harness import assert_listens_only_on_loopback, pid_alive, require_binary, wait_for
from tests.harness.net import http_json, http_request

REPO = Path(__file__).resolve().parents[2]
FLAGSHIP = REPO / "specs" / "llm.yaml"
HTTP_API = REPO / "tests" / "specs" / "http_api.yaml"
_URL = re.compile(r"^\s+(Prometheus|Alertmanager|demo app)\s+(http://\S+)\s+\(pid (\d+)\)$")


def _spec(path: Path) -> Spec:
    [compiled, *_] = pipeline.compile_spec(path)
    assert compiled.spec is not None
    return compiled.spec


def _built(path: Path, relative: str) -> dict[str, Any]:
    result = pipeline.build([path])
    [artifact] = [a for a in result.tree[path.stem] if a.path == relative]
    data: dict[str, Any] = yaml.safe_load(artifact.content)
    return data


# --- the command, live -----------------------------------------------------------------


class UpProcess:
    """`monitorgen up` as a child whose announced URLs and PIDs are parsed."""

    def __init__(self, spec: Path, workdir: Path) -> None:
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "monitorgen", "up", str(spec)],
            cwd=workdir,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self.urls: dict[str, str] = {}
        self.pids: dict[str, int] = {}

    def read_announcement(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self.lines.append(line)
            if match := _URL.match(line.rstrip()):
                name, url, pid = match.groups()
                self.urls[name], self.pids[name] = url, int(pid)
            if "Ctrl-C stops" in line:
                return
        raise AssertionError("monitorgen up ended early:\n" + "".join(self.lines))

    def interrupt(self) -> tuple[int, str]:
        self.popen.send_signal(signal.SIGINT)
        output, _ = self.popen.communicate(timeout=30)
        return self.popen.returncode, output

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait()


@pytest.fixture
def up_process(tmp_path: Path) -> Iterator[UpProcess]:
    require_binary("prometheus")
    require_binary("prometheus-alertmanager")
    process = UpProcess(FLAGSHIP, tmp_path)
    try:
        process.read_announcement()
        yield process
    finally:
        process.kill()
        for pid in process.pids.values():
            if pid_alive(pid):
                os.kill(pid, signal.SIGKILL)


@pytest.mark.e2e
def test_up_runs_the_stack_on_loopback_and_stops_on_ctrl_c(up_process: UpProcess) -> None:
    assert set(up_process.urls) == {"Prometheus", "Alertmanager", "demo app"}
    for pid in up_process.pids.values():
        assert_listens_only_on_loopback(pid)
    prometheus = up_process.urls["Prometheus"].removesuffix("/alerts")

    def demo_events_scraped() -> bool:
        query = "sum(llm_requests_total)"
        answer = http_json(f"{prometheus}/api/v1/query?query={query}")
        return bool(answer["data"]["result"])

    wait_for(demo_events_scraped, timeout=30, message="demo calls scraped by Prometheus")
    status = http_json(up_process.urls["Alertmanager"] + "/api/v2/status")
    config = yaml.safe_load(status["config"]["original"])
    urls = [c["url"] for r in config["receivers"] for c in r.get("webhook_configs", [])]
    assert {r["name"] for r in config["receivers"]} == {"team-email", "slack"}
    assert urls and {urlsplit(u).hostname for u in urls} == {"127.0.0.1"}
    assert config["inhibit_rules"]

    code, output = up_process.interrupt()
    assert code == 0, output
    assert "stopped: demo app" in output
    time.sleep(0.2)
    assert not [pid for pid in up_process.pids.values() if pid_alive(pid)]
    with pytest.raises(OSError):
        http_request(up_process.urls["demo app"])


# --- its parts -------------------------------------------------------------------------


def test_demo_plan_drives_every_event_with_fitting_values() -> None:
    plan = live.demo_plan(_spec(FLAGSHIP), Path("/x/llm_metrics.py"), 9999)
    actions = {a["function"]: a["fields"] for a in plan["actions"]}
    assert set(actions) == {"record_llm_call", "record_quality_score", "record_quality_check"}
    call = actions["record_llm_call"]
    assert "cost_usd" not in call, "the cost is left to the price table"
    assert call["model"]["values"] == ["claude-sonnet", "gpt-4o", "gpt-4o-mini"]
    assert call["status"] == {"values": ["ok"], "incident": ["error", "timeout"]}
    assert call["cached_input_tokens"] == {"values": [0]}
    latency = call["latency_ms"]
    assert latency["range"][1] < 5000 < latency["incident"][1], "P95 above 5 s only in incidents"
    score = actions["record_quality_score"]["score"]
    assert min(score["range"]) > 0.8 > max(score["incident"])


def test_demo_plan_without_events_updates_every_metric() -> None:
    plan = live.demo_plan(_spec(HTTP_API), Path("/x/http_api_metrics.py"), 9999)
    methods = {a["metric"]: a["method"] for a in plan["actions"]}
    assert methods == {
        "http_requests_total": "inc",
        "http_request_duration_seconds": "observe",
        "http_requests_in_flight": "set",
    }
    [in_flight] = [a for a in plan["actions"] if a["metric"] == "http_requests_in_flight"]
    assert max(in_flight["amount"]["range"]) < 200 < min(in_flight["amount"]["incident"])


def test_demo_sets_a_timestamp_gauge_to_a_moment_ago_and_long_ago_in_an_incident() -> None:
    """So a staleness alert (`time() - last_success > 3600`) fires only in incidents."""
    queue_worker = REPO / "tests" / "specs" / "queue_worker.yaml"
    plan = live.demo_plan(_spec(queue_worker), Path("/x/queue_worker_metrics.py"), 9999)
    [action] = [a for a in plan["actions"] if a["metric"].endswith("_timestamp_seconds")]
    rng = random.Random(1)
    calm = [time.time() - demo.draw(action["amount"], False, rng) for _ in range(20)]
    stale = [time.time() - demo.draw(action["amount"], True, rng) for _ in range(20)]
    assert max(calm) < 120 and min(stale) > 86400


def test_demo_records_calm_and_incident_values() -> None:
    calls: list[dict[str, Any]] = []
    module = SimpleNamespace(record_x=lambda **kw: calls.append(kw))
    plan = {
        "actions": [
            {
                "function": "record_x",
                "fields": {
                    "status": {"values": ["ok"], "incident": ["error"]},
                    "n": {"range": [1, 2], "incident": [100, 200], "integer": True},
                },
            }
        ]
    }
    [runner] = [demo.action_runner(a, module) for a in plan["actions"]]  # type: ignore[arg-type]
    rng = random.Random(1)
    for _ in range(20):
        runner(False, rng)
    assert {c["status"] for c in calls} == {"ok"} and all(1 <= c["n"] <= 2 for c in calls)
    calls.clear()
    for _ in range(40):
        runner(True, rng)
    assert "error" in {c["status"] for c in calls} and all(c["n"] >= 100 for c in calls)
    assert not demo.in_incident(10) and demo.in_incident(demo.CYCLE_SECONDS - 1)


def test_alertmanager_config_keeps_routes_and_notifies_only_loopback() -> None:
    generated = _built(HTTP_API, "alertmanager/alertmanager.yml")
    local = live.alertmanager_config(generated, notify_url="http://127.0.0.1:1234", fast=True)
    assert "global" not in local
    assert local["inhibit_rules"] == generated["inhibit_rules"]
    assert [r["name"] for r in local["receivers"]] == [r["name"] for r in generated["receivers"]]
    for receiver in local["receivers"]:
        [hook] = receiver["webhook_configs"]
        assert hook["url"] == f"http://127.0.0.1:1234/{receiver['name']}"
    route, original = local["route"], generated["route"]
    assert route["receiver"] == original["receiver"] and route["group_wait"] == "5s"
    info = route["routes"][0]["routes"][2]
    assert (info["matchers"], info["group_wait"]) == (['severity="info"'], "5s")
    assert "group_wait" not in route["routes"][0], "timing is only shortened where it is set"


def test_rules_and_prometheus_config_are_shortened_and_local(tmp_path: Path) -> None:
    rules = live.rules_config(_built(FLAGSHIP, "prometheus/rules.yml"), fast=True)
    fors = {r["for"] for g in rules["groups"] for r in g["rules"] if "for" in r}
    assert fors == {"30s"}
    assert {g["interval"] for g in rules["groups"]} == {live.FAST_INTERVAL}
    config = live.prometheus_config(
        _built(FLAGSHIP, "prometheus/prometheus.yml"),
        app="127.0.0.1:1",
        alertmanager="127.0.0.1:2",
        rules=tmp_path / "rules.yml",
        fast=True,
    )
    [job] = config["scrape_configs"]
    assert (job["job_name"], job["static_configs"]) == ("llm-app", [{"targets": ["127.0.0.1:1"]}])
    [manager] = config["alerting"]["alertmanagers"]
    assert manager["static_configs"] == [{"targets": ["127.0.0.1:2"]}]
    assert config["rule_files"] == [str(tmp_path / "rules.yml")]


def test_notification_lines_name_receiver_status_and_alert() -> None:
    payload = {
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "HighCost", "severity": "critical", "service": "llm"},
                "annotations": {"summary": "High LLM cost detected"},
            }
        ]
    }
    [line] = live.notification_lines("slack", payload)
    assert re.fullmatch(
        r"\[\d\d:\d\d:\d\d\] slack +FIRING +HighCost \(critical\) High LLM cost detected"
        r" +service=llm",
        line,
    )
