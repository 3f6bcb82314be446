"""Raw alerts on a missing series (`absent`, `absent_over_time`) get promtool tests that
promtool passes and that fail once the rule reads another series, window or `for`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from monitorgen.absence_tests import LOOKBACK, Absence, absence_of
from monitorgen.rule_inputs import NotDerivable, duration_seconds
from monitorgen.targets.promtool_tests import render as render_tests

from .helpers import spec_from_text, write_prometheus_files
from .test_promtool import pass_then_fail_once_edited

_SPEC = """\
version: 1
service: gone
prometheus: {scrape_interval: 15s, evaluation_interval: 1m}
metrics:
  - {name: gone_temperature_celsius, type: gauge, help: T., labels: [zone]}
  - {name: gone_requests_total, type: counter, help: R., labels: [route]}
alerts:
  - name: NoTemperature
    severity: critical
    for: 2m
    summary: "No temperature from zone {{ $labels.zone }}"
    expr: absent(gone_temperature_celsius{zone="attic"})
  - name: NoRequests
    severity: warning
    summary: No requests for 10 minutes
    expr: absent_over_time(gone_requests_total{route="/pay", job="gone"}[10m])
"""


def test_absence_calls_are_read_with_their_labels_and_window() -> None:
    assert absence_of('absent(up{job="api", instance="a:1"})') == Absence(
        "absent", "up", (("instance", "a:1"), ("job", "api")), 0
    )
    assert absence_of("(absent_over_time(x[90s]))") == Absence("absent_over_time", "x", (), 90)
    assert absence_of("absent(x) == 1") is None
    assert absence_of("up == 0") is None
    assert absence_of("present_over_time(x[5m])") is None


@pytest.mark.parametrize(
    "expr",
    ['absent(up{job=~"api|web"})', 'absent(up{job!="x"})', "absent(up offset 5m)"],
)
def test_absence_of_a_selector_whose_series_cannot_be_written_is_not_derived(expr: str) -> None:
    with pytest.raises(NotDerivable):
        absence_of(expr)


def _groups(tmp_path: Path, alert: str) -> list[dict[str, Any]]:
    spec = spec_from_text(tmp_path, _SPEC)
    data = yaml.safe_load(render_tests(spec)[0].content)
    return [t for t in data["tests"] if t["name"].startswith(f"{alert} ")]


def _checks(group: dict[str, Any]) -> list[tuple[int, list[dict[str, Any]]]]:
    return [(duration_seconds(c["eval_time"]), c["exp_alerts"]) for c in group["alert_rule_test"]]


@pytest.mark.parametrize(
    ("alert", "hold", "span", "labels"),
    [
        ("NoTemperature", 120, LOOKBACK, {"zone": "attic", "severity": "critical"}),
        ("NoRequests", 0, 600, {"job": "gone", "route": "/pay", "severity": "warning"}),
    ],
)
def test_an_absence_alert_fires_on_no_series_and_once_the_last_sample_is_too_old(
    tmp_path: Path, alert: str, hold: int, span: int, labels: dict[str, str]
) -> None:
    never, stops = _groups(tmp_path, alert)
    assert never["input_series"] == []
    assert [(at, len(alerts)) for at, alerts in _checks(never)] == (
        [(hold - 60, 0), (hold, 1)] if hold else [(0, 1)]
    )
    (series,) = stops["input_series"]
    last = int(series["values"].split("x")[1]) * 15  # samples 0, 15s, ... up to `last`
    (present, quiet), (gone, fired) = _checks(stops)
    assert quiet == [] and len(fired) == 1
    # Silent while the last sample is within reach, at least until `for` has passed;
    # firing one evaluation past the edge and `for`; neither exactly on the edge, where
    # Prometheus 2 still reads the sample and 3 does not.
    assert last + span + hold - 60 <= present < last + span + hold
    assert last + span + hold < gone <= last + span + hold + 60
    (expected,) = fired
    assert expected["exp_labels"] == {**labels, "service": "gone"}
    assert expected["exp_annotations"]["summary"] == (
        "No temperature from zone attic" if "zone" in labels else "No requests for 10 minutes"
    )


@pytest.mark.parametrize(
    ("original", "edited"),
    [
        ("[10m]", "[5m]"),
        ("[10m]", "[15m]"),
        ('zone="attic"', 'zone="cellar"'),
        ("for: 2m", "for: 3m"),
        (
            'absent(gone_temperature_celsius{zone="attic"})',
            'absent_over_time(gone_temperature_celsius{zone="attic"}[1m])',
        ),
    ],
    ids=["shorter-window", "longer-window", "other-series", "longer-for", "over-time"],
)
@pytest.mark.tools
def test_the_absence_tests_pass_and_fail_once_the_rule_is_edited(
    tmp_path: Path, original: str, edited: str
) -> None:
    folder = write_prometheus_files(spec_from_text(tmp_path, _SPEC), tmp_path)
    pass_then_fail_once_edited(folder, original, edited)
