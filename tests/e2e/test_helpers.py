"""The end-to-end tests' own machinery, checked without servers: the time compression
keeps every rule's structure, and notifications parse back into labels and texts."""

from __future__ import annotations

import json
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitorgen import pipeline, promql
from tests.harness import CapturedMail, CapturedRequest

from .checks import expand_panel_expr
from .notifications import FIRING, RESOLVED, from_mail, from_request, template_pattern
from .overrides import (
    EVALUATION_INTERVAL,
    FOR,
    compress_rules,
    compression_changes,
    shrink_expr,
    shrink_window,
)
from .stack import condition_inputs, openmetrics_yesterday

REPO = Path(__file__).resolve().parents[2]
SPECS = (REPO / "specs" / "llm.yaml", REPO / "tests" / "specs" / "http_api.yaml")


def _built_rules(spec: Path) -> dict[str, Any]:
    result = pipeline.build([spec])
    [artifact] = [a for a in result.tree[spec.stem] if a.path == "prometheus/rules.yml"]
    rules: dict[str, Any] = yaml.safe_load(artifact.content)
    return rules


@pytest.mark.parametrize("spec", SPECS, ids=[s.stem for s in SPECS])
def test_compression_changes_only_windows_for_and_intervals(spec: Path) -> None:
    original = _built_rules(spec)
    compressed = compress_rules(original)
    pairs = [
        (old, new)
        for old_group, new_group in zip(original["groups"], compressed["groups"], strict=True)
        for old, new in zip(old_group["rules"], new_group["rules"], strict=True)
    ]
    assert {g["interval"] for g in compressed["groups"]} == {EVALUATION_INTERVAL}
    for old, new in pairs:
        assert compression_changes(old["expr"], new["expr"]) == []
        assert {k: v for k, v in old.items() if k not in ("expr", "for")} == {
            k: v for k, v in new.items() if k not in ("expr", "for")
        }
        assert new.get("for", FOR) == FOR
    windows = {s.range for _, new in pairs for s in promql.inspect(new["expr"]).selectors}
    assert max(w for w in windows if w) <= promql.parse_duration("2h24m")


def test_shrunk_windows_keep_their_ratios() -> None:
    assert [shrink_window(w) for w in ("5m", "30m", "1h", "6h", "3d")] == [
        "10s",
        "1m",
        "2m",
        "12m",
        "2h24m",
    ]
    with pytest.raises(ValueError):
        shrink_window("45s")
    with pytest.raises(ValueError):
        shrink_expr("max_over_time(rate(x[5m])[1h:1m])")


def test_compression_changes_notices_other_edits() -> None:
    original = 'sum by (job) (rate(x_total{a="b"}[5m])) > 1'
    assert compression_changes(original, 'sum by (job) (rate(x_total{a="b"}[10s])) > 1') == []
    for edited in (
        'sum by (job) (rate(x_total{a="b"}[5s])) > 1',
        'sum by (job) (rate(y_total{a="b"}[10s])) > 1',
        'sum by (job) (rate(x_total{a="c"}[10s])) > 1',
        'sum by (env) (rate(x_total{a="b"}[10s])) > 1',
        'sum by (job) (irate(x_total{a="b"}[10s])) > 1',
    ):
        assert compression_changes(original, edited), edited


def test_condition_inputs() -> None:
    assert condition_inputs("sum(rate(x[10s])) / sum(rate(y[10s])) > 0.05") == [
        "sum(rate(x{}[10s])) / sum(rate(y{}[10s]))"
    ]
    assert condition_inputs("absent(x)") == ["x{}"]
    burn = 'a{slo="s"} > 1 and b{slo="s"} > 1'
    assert condition_inputs(f"({burn}) or (c > 2)") == ['a{slo="s"}', 'b{slo="s"}', "c{}"]


def test_panel_expressions_are_expanded_like_grafana() -> None:
    expr = 'sum(rate(x{a=~"$task_type",b=~"${model}"}[$__rate_interval])) + increase(x[$__range])'
    expanded = expand_panel_expr(expr, 90)
    assert expanded == 'sum(rate(x{a=~".*",b=~".*"}[4s])) + increase(x[90s])'
    promql.parse(expanded)


def test_yesterday_samples_are_openmetrics_a_day_old() -> None:
    text = openmetrics_yesterday([("g", {"a": "x"}, 0.5)], "job1", now=200_000.0)
    lines = text.splitlines()
    assert lines[0] == "# TYPE g gauge" and lines[-1] == "# EOF"
    stamps = [float(line.rsplit(" ", 1)[1]) for line in lines[1:-1]]
    assert min(stamps) == 200_000 - 86_400 - 900 and max(stamps) == 200_000 - 86_400 + 900
    assert lines[1].startswith('g{a="x",job="job1"} 0.5 ')


def test_template_pattern_renders_labels_and_accepts_any_value() -> None:
    pattern = template_pattern(
        "{{ $value | humanizePercentage }} of calls for {{ $labels.task_type }} fail.",
        {"task_type": "a.b"},
    )
    assert pattern.fullmatch("12.5% of calls for a.b fail.")
    assert not pattern.fullmatch("12.5% of calls for axb fail.")
    assert not pattern.fullmatch(" of calls for a.b fail.")


def _request(kind: str, receiver: str, body: Any) -> CapturedRequest:
    return CapturedRequest("POST", f"/{kind}/{receiver}", {}, json.dumps(body).encode())


def test_slack_text_parses_into_alerts() -> None:
    text = (
        "*HighCost*: High cost\nCost is $12\n<https://r/highcost|Runbook>\n"
        "`alertname=HighCost` `severity=critical` \n\n"
        "*Resolved:*\n*Other*: x\n`alertname=Other` `severity=warning` \n\n"
    )
    body = {"attachments": [{"title": "t", "text": text}]}
    notification = from_request(_request("slack", "slack", body))
    assert notification.receiver == "slack"
    [cost] = notification.about("HighCost", "critical")
    assert cost.labels == {"alertname": "HighCost", "severity": "critical"}
    assert "Cost is $12" in cost.text
    assert notification.about("Other", status=RESOLVED) and not notification.about("Other")


def test_pagerduty_details_parse_into_alerts() -> None:
    firing = (
        "Labels:\n - alertname = A\n - route = /x\nAnnotations:\n - summary = S\nSource: u\n"
        "Labels:\n - alertname = A\n - route = /y\nAnnotations:\n - summary = S\nSource: u\n"
    )
    body = {"payload": {"custom_details": {"firing": firing, "resolved": ""}}}
    alerts = from_request(_request("pagerduty", "pager", body)).about("A")
    assert [a.labels["route"] for a in alerts] == ["/x", "/y"]
    assert alerts[0].annotations == {"summary": "S"}


def test_mail_text_parses_into_alerts() -> None:
    message = EmailMessage()
    message["X-Test-Receiver"] = "team-email"
    message.set_content(
        "Firing:\n\nHighCost: High cost\nCost is $12\nRunbook: https://r\n"
        "Labels: alertname=HighCost service=llm \n"
    )
    message.add_alternative("<p>html</p>", subtype="html")
    notification = from_mail(CapturedMail("a@x", ["b@x"], message.as_bytes()))
    [alert] = notification.about("HighCost")
    assert (notification.receiver, alert.status) == ("team-email", FIRING)
    assert alert.labels == {"alertname": "HighCost", "service": "llm"}
