"""Self-tests of the live-stack harness."""

from __future__ import annotations

import smtplib
import textwrap
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from tests.harness import (
    FAST_CLUSTER_ARGS,
    FAST_ROUTE_TIMING,
    LOOPBACK,
    RECEIVER_HEADER,
    AlertmanagerServer,
    CaptureServer,
    MetricsApp,
    PrometheusServer,
    SmtpCapture,
    assert_listens_only_on_loopback,
    leftover_pids,
    pid_alive,
    require_binary,
    rewrite_alertmanager_config,
    rewrite_prometheus_config,
)
from tests.harness.net import http_request
from tests.harness.rewrite import FileWriter

PROMETHEUS_CONFIG = """
global:
  scrape_interval: 30s
  evaluation_interval: 30s
rule_files: [rules/*.yml]
scrape_configs:
  - job_name: app
    scrape_interval: 15s
    static_configs:
      - targets: ["app.internal:8000"]
        labels: {team: core}
"""

ALERT_RULES = """
groups:
  - name: harness
    rules:
      - alert: HarnessAlwaysFiring
        expr: vector(1) > 0
        for: 0s
        labels: {severity: page}
        annotations: {summary: always firing}
"""

ALERTMANAGER_CONFIG = """
global:
  smtp_from: alerts@example.org
  slack_api_url: https://hooks.slack.com/services/T000/B000/XXX
route:
  receiver: team-webhook
  group_by: [alertname]
  group_wait: 30s
  routes:
    - matchers: ['severity="page"']
      receiver: team-webhook
      continue: true
    - matchers: ['severity="page"']
      receiver: team-slack
      continue: true
    - matchers: ['severity="page"']
      receiver: team-mail
receivers:
  - name: team-webhook
    webhook_configs:
      - url: https://hooks.example.org/alerts
  - name: team-slack
    slack_configs:
      - api_url_file: /etc/alertmanager/slack-url
        channel: "#alerts"
  - name: team-mail
    email_configs:
      - to: oncall@example.org
        smarthost: smtp.example.org:587
"""

METRICS_MODULE = """
from prometheus_client import Counter

EVENTS = Counter("harness_events", "Events recorded by the harness self-test", ["kind"])


def record(kind: str, amount: float = 1.0) -> float:
    EVENTS.labels(kind=kind).inc(amount)
    return EVENTS.labels(kind=kind)._value.get()
"""


def _assert_stopped(pids: list[int]) -> None:
    assert pids
    assert not [pid for pid in pids if pid_alive(pid)]
    assert not set(pids) & set(leftover_pids())


@pytest.fixture
def stopped_afterwards() -> Iterator[list[int]]:
    """Collects PIDs; asserts after the later-requested fixtures tore down that all died."""
    pids: list[int] = []
    yield pids
    _assert_stopped(pids)


def _write_module(directory: Path) -> Path:
    path = directory / "harness_metrics.py"
    path.write_text(textwrap.dedent(METRICS_MODULE))
    return path


# --- config transforms ------------------------------------------------------------------


def test_prometheus_rewrite_targets_only_loopback(tmp_path: Path) -> None:
    source: dict[str, Any] = {
        "global": {"scrape_interval": "1m", "scrape_timeout": "30s"},
        "remote_write": [{"url": "https://metrics.example.org/write"}],
        "scrape_configs": [
            {
                "job_name": "app",
                "kubernetes_sd_configs": [{"role": "pod"}],
                "relabel_configs": [
                    {"source_labels": ["__meta_x"], "target_label": "__address__"},
                    {"source_labels": ["__meta_y"], "target_label": "pod"},
                ],
                "basic_auth": {"username": "u", "password_file": "/run/secret"},
            },
            {"job_name": "other", "static_configs": [{"targets": ["db:9100"]}]},
        ],
        "alerting": {"alertmanagers": [{"dns_sd_configs": [{"names": ["am.example.org"]}]}]},
    }
    out = rewrite_prometheus_config(
        source,
        scrape_targets={"app": ["127.0.0.1:1234"]},
        alertmanagers=["127.0.0.1:9093"],
        rule_paths=[tmp_path / "r.yml"],
        writer=FileWriter(tmp_path / "secrets"),
    )
    assert out["global"] == {
        "scrape_interval": "1s",
        "scrape_timeout": "1s",
        "evaluation_interval": "1s",
    }
    assert "remote_write" not in out
    [job] = out["scrape_configs"]
    assert job["static_configs"] == [{"targets": ["127.0.0.1:1234"]}]
    assert "kubernetes_sd_configs" not in job
    assert [r["target_label"] for r in job["relabel_configs"]] == ["pod"]
    assert Path(job["basic_auth"]["password_file"]).read_text() == "dummy-secret"
    [manager] = out["alerting"]["alertmanagers"]
    assert manager["static_configs"] == [{"targets": ["127.0.0.1:9093"]}]
    assert out["rule_files"] == [str(tmp_path / "r.yml")]
    assert source["global"]["scrape_interval"] == "1m"


def test_alertmanager_rewrite_redirects_every_receiver(tmp_path: Path) -> None:
    source: dict[str, Any] = {
        "global": {"slack_api_url_file": "/etc/slack", "smtp_smarthost": "smtp.example.org:25"},
        "route": {"receiver": "s", "group_wait": "30s", "routes": [{"receiver": "w"}]},
        "receivers": [
            {"name": "s", "slack_configs": [{"api_url_file": "/etc/s", "channel": "#a"}]},
            {"name": "w", "webhook_configs": [{"url": "https://x.example.org/hook"}]},
            {"name": "p", "pagerduty_configs": [{"routing_key_file": "/etc/pd"}]},
            {"name": "o", "opsgenie_configs": [{"api_key_file": "/etc/og"}]},
            {"name": "t", "msteams_configs": [{"webhook_url": "https://teams.example.org/"}]},
            {"name": "m", "email_configs": [{"to": "a@example.org", "smarthost": "mx:25"}]},
        ],
    }
    out = rewrite_alertmanager_config(
        source,
        http_base="http://127.0.0.1:5000",
        smtp_address="127.0.0.1:2525",
        writer=FileWriter(tmp_path),
        route_timing=FAST_ROUTE_TIMING,
    )
    receivers = {r["name"]: r for r in out["receivers"]}
    slack = receivers["s"]["slack_configs"][0]
    assert Path(slack["api_url_file"]).read_text() == "http://127.0.0.1:5000/slack/s"
    assert receivers["w"]["webhook_configs"][0]["url"] == "http://127.0.0.1:5000/webhook/w"
    pagerduty = receivers["p"]["pagerduty_configs"][0]
    assert pagerduty["url"] == "http://127.0.0.1:5000/pagerduty/p"
    assert Path(pagerduty["routing_key_file"]).read_text() == "dummy-secret"
    assert receivers["o"]["opsgenie_configs"][0]["api_url"] == "http://127.0.0.1:5000/opsgenie/o/"
    teams = receivers["t"]["msteams_configs"][0]
    assert teams["webhook_url"] == "http://127.0.0.1:5000/msteams/t"
    mail = receivers["m"]["email_configs"][0]
    assert (mail["smarthost"], mail["require_tls"]) == ("127.0.0.1:2525", False)
    assert mail["headers"][RECEIVER_HEADER] == "m"
    assert out["global"]["smtp_smarthost"] == "127.0.0.1:2525"
    assert out["route"]["group_wait"] == "0s"
    assert "group_wait" not in out["route"]["routes"][0]
    with pytest.raises(ValueError, match="pushover"):
        rewrite_alertmanager_config(
            {"receivers": [{"name": "x", "pushover_configs": [{}]}]},
            http_base="http://127.0.0.1:5000",
            smtp_address=None,
            writer=FileWriter(tmp_path),
        )


def test_require_binary_skips_locally_and_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    missing = "monitorgen-no-such-binary"
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception):
        require_binary(missing)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception):
        require_binary(missing)


def test_capture_servers_record_requests_and_mail(
    capture_server: CaptureServer, smtp_capture: SmtpCapture
) -> None:
    http_request(f"{capture_server.url}/webhook/team%20a", method="POST", body={"x": 1})
    [request] = capture_server.wait_for_requests(1, timeout=5, receiver="team a")
    assert (request.kind, request.json) == ("webhook", {"x": 1})
    with smtplib.SMTP(LOOPBACK, smtp_capture.port, local_hostname="localhost") as client:
        client.sendmail("a@example.org", ["b@example.org"], f"{RECEIVER_HEADER}: m\n\nbody")
    [mail] = smtp_capture.wait_for_messages(1, timeout=5)
    assert (mail.receiver, mail.rcpt_tos) == ("m", ["b@example.org"])


# --- live servers -----------------------------------------------------------------------


@pytest.mark.e2e
def test_alertmanager_delivers_to_capture_servers(
    capture_server: CaptureServer, smtp_capture: SmtpCapture
) -> None:
    require_binary("prometheus-alertmanager")
    with AlertmanagerServer(
        ALERTMANAGER_CONFIG, capture_server, smtp_capture, route_timing=FAST_ROUTE_TIMING
    ) as am:
        assert_listens_only_on_loopback(am.pid)
        am.post_alerts([{"labels": {"alertname": "Direct", "severity": "page"}}])
        assert am.wait_for(lambda: am.alerts(), timeout=5)[0]["labels"]["alertname"] == "Direct"
        [hook] = capture_server.wait_for_requests(1, receiver="team-webhook", kind="webhook")
        assert hook.json["alerts"][0]["labels"]["alertname"] == "Direct"
        capture_server.wait_for_requests(1, receiver="team-slack", kind="slack")
        [mail] = smtp_capture.wait_for_messages(1, receiver="team-mail")
        assert mail.rcpt_tos == ["oncall@example.org"]
    _assert_stopped([am.pid])


@pytest.mark.e2e
def test_prometheus_alert_reaches_webhook(capture_server: CaptureServer) -> None:
    require_binary("prometheus")
    require_binary("prometheus-alertmanager")
    am_config = {
        "route": {"receiver": "hook", "group_by": ["alertname"]},
        "receivers": [{"name": "hook", "webhook_configs": [{"url": "http://ignored/"}]}],
    }
    with ExitStack() as stack:
        am = stack.enter_context(
            AlertmanagerServer(am_config, capture_server, route_timing=FAST_ROUTE_TIMING)
        )
        prom = stack.enter_context(
            PrometheusServer(
                PROMETHEUS_CONFIG, {"harness.yml": ALERT_RULES}, alertmanagers=[am.address]
            )
        )
        for pid in (am.pid, prom.pid):
            assert_listens_only_on_loopback(pid)
        assert prom.rules()[0]["rules"][0]["name"] == "HarnessAlwaysFiring"
        [hook] = capture_server.wait_for_requests(1, timeout=25, receiver="hook")
        assert hook.json["alerts"][0]["labels"]["alertname"] == "HarnessAlwaysFiring"
        assert prom.alerts()[0]["state"] == "firing"
    _assert_stopped([am.pid, prom.pid])


@pytest.mark.e2e
def test_metrics_app_is_scraped_by_prometheus(
    stopped_afterwards: list[int],
    tmp_path: Path,
    metrics_app_factory: Callable[[Path], MetricsApp],
    prometheus_factory: Callable[..., PrometheusServer],
) -> None:
    app = metrics_app_factory(_write_module(tmp_path))
    assert app.call("record", kind="login", amount=2) == 2.0
    assert 'harness_events_total{kind="login"} 2.0' in app.metrics_text()
    prom = prometheus_factory(PROMETHEUS_CONFIG, scrape_targets=[app.address])
    assert prom.config["scrape_configs"][0]["static_configs"][0]["labels"] == {"team": "core"}
    app.call("record", kind="login")
    expr = 'harness_events_total{job="app",kind="login",team="core"}'
    value: Any = prom.wait_for(lambda: prom.query_value(expr), timeout=25, message=expr)
    assert value == 3.0
    for pid in (app.pid, prom.pid):
        assert_listens_only_on_loopback(pid)
    stopped_afterwards.extend([app.pid, prom.pid])


@pytest.mark.e2e
def test_alertmanager_cluster_forms_and_notifies(
    stopped_afterwards: list[int],
    capture_server: CaptureServer,
    alertmanager_cluster_factory: Callable[..., list[AlertmanagerServer]],
) -> None:
    config = {
        "route": {"receiver": "hook", "group_by": ["alertname"]},
        "receivers": [{"name": "hook", "webhook_configs": [{"url": "http://ignored/"}]}],
    }
    members = alertmanager_cluster_factory(
        config,
        capture=capture_server,
        route_timing=FAST_ROUTE_TIMING,
        extra_args=FAST_CLUSTER_ARGS,
    )
    first = members[0]
    assert first.wait_for(lambda: len(first.status()["cluster"]["peers"]) == 2, timeout=10)
    for member in members:
        sockets = assert_listens_only_on_loopback(member.pid)
        assert {"tcp", "udp"} <= {s.protocol for s in sockets}
        member.post_alerts([{"labels": {"alertname": "HaAlert"}}])
    [hook] = capture_server.wait_for_requests(1, timeout=20, receiver="hook")
    assert hook.json["alerts"][0]["labels"]["alertname"] == "HaAlert"
    stopped_afterwards.extend(member.pid for member in members)
