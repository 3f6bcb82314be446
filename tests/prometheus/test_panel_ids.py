"""Panel ids follow one rule that the dashboards and the alert links share."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from monitorgen.model import Spec
from monitorgen.panel_ids import alert_panel, numbered_panels, panel_ids, panel_url, row_ids
from monitorgen.pipeline import compile_spec

ROOT = Path(__file__).resolve().parents[2]


def _spec(path: str) -> Spec:
    (compiled,) = compile_spec(ROOT / path)
    assert compiled.spec is not None
    return compiled.spec


def test_rows_and_panels_are_numbered_in_reading_order_from_one() -> None:
    dashboard = _spec("specs/llm.yaml").dashboards[0]
    sizes = [len(row.panels) for row in dashboard.rows]
    assert sizes == [2, 4, 4, 5]
    assert row_ids(dashboard) == (1, 4, 9, 14)
    assert panel_ids(dashboard) == ((2, 3), (5, 6, 7, 8), (10, 11, 12, 13), (15, 16, 17, 18, 19))
    every_id = sorted([*row_ids(dashboard), *(i for ids in panel_ids(dashboard) for i in ids)])
    assert every_id == list(range(1, 20))


def test_an_alert_links_to_the_first_panel_that_lists_it() -> None:
    spec = _spec("specs/llm.yaml")
    found = alert_panel(spec, spec.alerts[0])  # HighTokenUsage
    assert found is not None
    assert (found.panel.title, found.panel_id) == ("Token usage over time", 2)
    by_id = dict(numbered_panels(found.dashboard))
    assert by_id[found.panel_id] is found.panel


def test_an_explicit_dashboard_panel_wins_over_the_panels_alert_lists() -> None:
    spec = _spec("specs/llm.yaml")
    alert = replace(
        spec.alerts[0], dashboard_uid="llm-overview", dashboard_panel="Tokens per request"
    )
    found = alert_panel(spec, alert)
    assert found is not None and found.panel_id == 3


def test_an_alert_no_panel_shows_has_no_link() -> None:
    spec = _spec("tests/specs/queue_worker.yaml")
    worker_stalled = spec.alert("WorkerStalled")
    assert worker_stalled is not None
    assert alert_panel(spec, worker_stalled) is None


def test_panel_url_opens_one_panel() -> None:
    url = panel_url("https://grafana.example.com/", "abc", 7)
    assert url == "https://grafana.example.com/d/abc?viewPanel=7"
