"""A raw ratio of two counters' summed rates (errors over requests, the usual way to
write an error rate by hand) gets promtool tests: a share just past and just short of
the threshold, and one that reaches it only as its window fills."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from monitorgen.model import Comparison, QueryFunction
from monitorgen.rule_inputs import duration_seconds
from monitorgen.structured_form import counter_ratio_form
from monitorgen.targets.promtool_tests import render as render_tests

from .helpers import spec_from_text, write_prometheus_files
from .test_promtool import pass_then_fail_once_edited

_SPEC = """\
version: 1
service: jobs
prometheus: {scrape_interval: 15s, evaluation_interval: 1m}
metrics:
  - {name: jobs_failed_total, type: counter, help: Failed jobs., labels: [queue]}
  - name: jobs_total
    type: counter
    help: Jobs run.
    labels: [queue, {name: kind, values: [batch, stream]}]
  - {name: jobs_ok_total, type: counter, help: Jobs that went well., labels: [queue]}
  - {name: jobs_depth, type: gauge, help: Jobs waiting., labels: [queue]}
alerts:
  - name: FailShare
    severity: warning
    for: 5m
    summary: "{{ $labels.queue }} fails {{ $value | humanizePercentage }} of its jobs"
    expr: >-
      sum by (queue) (rate(jobs_failed_total[10m]))
      / sum by (queue) (rate(jobs_total{kind="batch"}[10m])) > 0.1
  - name: FewGoodJobs
    severity: info
    summary: Few jobs go well
    expr: sum(increase(jobs_ok_total[30m])) / sum(increase(jobs_total[30m])) < 0.5
"""


def test_a_ratio_of_two_counters_is_read_with_each_side_as_a_query(tmp_path: Path) -> None:
    spec = spec_from_text(tmp_path, _SPEC)
    form = counter_ratio_form(spec, spec.alerts[0].expr)
    assert form is not None
    assert (form.part.metric, form.whole.metric) == ("jobs_failed_total", "jobs_total")
    assert form.part.function is form.whole.function is QueryFunction.RATE
    assert form.part.by == form.whole.by == ("queue",)
    assert [(m.label, m.values) for m in form.whole.where] == [("kind", ("batch",))]
    assert (form.threshold.comparison, form.threshold.value) == (Comparison.ABOVE, 0.1)
    spaced = "(sum(rate(jobs_failed_total[5m])))/(sum(rate(jobs_total[5m])))>0.2"
    assert counter_ratio_form(spec, spaced) is not None


@pytest.mark.parametrize(
    "expr",
    [
        # one counter's share is a structured ratio, read by `structured_form`
        'sum(rate(jobs_total{kind="batch"}[5m])) / sum(rate(jobs_total[5m])) > 0.1',
        "sum(rate(jobs_failed_total[5m])) / sum(rate(jobs_total[10m])) > 0.1",
        "sum by (queue) (rate(jobs_failed_total[5m])) / sum(rate(jobs_total[5m])) > 0.1",
        "sum(rate(jobs_failed_total[5m])) / sum(increase(jobs_total[5m])) > 0.1",
        "max(rate(jobs_failed_total[5m])) / max(rate(jobs_total[5m])) > 0.1",
        "sum(rate(jobs_failed_total[5m])) / on() sum(rate(jobs_total[5m])) > 0.1",
        "sum(rate(jobs_failed_total[5m])) / sum(rate(jobs_total[5m])) >= 0.1",
        "sum(jobs_depth) / sum(rate(jobs_total[5m])) > 0.1",
    ],
)
def test_other_divisions_are_not_read_as_a_ratio_of_two_counters(tmp_path: Path, expr: str) -> None:
    assert counter_ratio_form(spec_from_text(tmp_path, _SPEC), expr) is None


def _groups(tmp_path: Path, alert: str) -> list[dict[str, Any]]:
    data = yaml.safe_load(render_tests(spec_from_text(tmp_path, _SPEC))[0].content)
    return [t for t in data["tests"] if t["name"].startswith(f"{alert} ")]


def _per_sample(values: str) -> int:
    """The increase per sample of `0+NxM` (after any `_xK` of missing samples)."""
    return int(values.split()[-1].split("+")[1].split("x")[0])


def test_the_shares_sit_just_beside_the_threshold_on_series_that_group_alike(
    tmp_path: Path,
) -> None:
    firing, silent, _filling = _groups(tmp_path, "FailShare")
    shares = []
    for group in (firing, silent):
        failed, total = group["input_series"]
        assert failed["series"].startswith("jobs_failed_total{")
        assert total["series"].startswith("jobs_total{") and 'kind="batch"' in total["series"]
        assert 'queue="queue-1"' in failed["series"] and 'queue="queue-1"' in total["series"]
        shares.append(_per_sample(failed["values"]) / _per_sample(total["values"]))
    assert shares[0] > 0.1 > shares[1]
    assert shares[0] - shares[1] <= 0.0002  # a step of the knob either side
    (fired,) = firing["alert_rule_test"][-1]["exp_alerts"]
    assert fired["exp_labels"] == {"queue": "queue-1", "service": "jobs", "severity": "warning"}
    assert "10" in fired["exp_annotations"]["summary"]


@pytest.mark.parametrize(
    ("alert", "late", "window", "hold"),
    [("FailShare", "jobs_failed_total", 600, 300), ("FewGoodJobs", "jobs_total", 1800, 0)],
)
def test_the_share_first_crosses_as_the_window_fills_with_the_late_events(
    tmp_path: Path, alert: str, late: str, window: int, hold: int
) -> None:
    """`above`: the part's events begin a window late; `below`: the whole's."""
    (filling,) = [g for g in _groups(tmp_path, alert) if "fill its" in g["name"]]
    (delayed,) = [s for s in filling["input_series"] if s["values"].startswith("_x")]
    assert delayed["series"].startswith(late + "{")
    begins = int(delayed["values"].split()[0].removeprefix("_x")) * 15
    before, first = (duration_seconds(c["eval_time"]) for c in filling["alert_rule_test"])
    assert first - before == 60
    assert begins + window // 2 < first - hold <= begins + window


@pytest.mark.parametrize(
    ("original", "edited"),
    [
        ("> 0.1", "> 0.11"),
        ("rate(jobs_failed_total[10m])", "rate(jobs_failed_total[5m])"),
        ("[10m]", "[20m]"),
        ("[30m]", "[15m]"),
        ("< 0.5", "< 0.45"),
        ('jobs_total{kind="batch"}', 'jobs_total{kind="stream"}'),
        ("jobs_ok_total", "jobs_failed_total"),
    ],
    ids=[
        "threshold",
        "part-window",
        "both-windows",
        "below-windows",
        "below-threshold",
        "other-whole",
        "other-part",
    ],
)
@pytest.mark.tools
def test_the_ratio_tests_pass_and_fail_once_the_rule_is_edited(
    tmp_path: Path, original: str, edited: str
) -> None:
    folder = write_prometheus_files(spec_from_text(tmp_path, _SPEC), tmp_path)
    pass_then_fail_once_edited(folder, original, edited)
