"""Each grafanalib 0.7.1 defect: its raw output has it, the normalised output does not."""

from __future__ import annotations

import json
from typing import Any

import pytest
from grafanalib import core
from grafanalib._gen import DashboardEncoder

from monitorgen.model import Panel, PanelQuery, PanelType
from monitorgen.targets.grafana import dashboard_data
from monitorgen.targets.grafana.build import build_panel
from monitorgen.targets.grafana.layout import Box
from monitorgen.targets.grafana.normalize import SCHEMA_VERSION, normalize

from .helpers import FLAGSHIP, spec_of, walk

Json = dict[str, Any]
TARGET = core.Target(expr="up", refId="A")


def encoded(obj: Any) -> Json:
    """What grafanalib writes: to_json_data() through its DashboardEncoder."""
    data: Json = json.loads(json.dumps(obj, cls=DashboardEncoder))
    return data


def board_with(*panels: Any) -> Json:
    return encoded(core.Dashboard(title="t", uid="t", panels=list(panels)))


def test_schema_version_12_becomes_current() -> None:
    raw = board_with()
    assert raw["schemaVersion"] == 12
    assert normalize(raw)["schemaVersion"] == SCHEMA_VERSION == 39


def test_first_threshold_step_string_null_becomes_json_null() -> None:
    steps = [core.Threshold("green", 0, 0.0), core.Threshold("red", 1, 5.0)]
    raw = board_with(core.TimeSeries(title="p", targets=[TARGET], thresholds=steps))
    raw_steps = raw["panels"][0]["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert raw_steps[0]["value"] == "null"
    assert {"op", "yaxis", "line", "index"} <= set(raw_steps[0])
    fixed = normalize(raw)["panels"][0]["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert fixed == [{"color": "green", "value": None}, {"color": "red", "value": 5.0}]


def test_max_data_points_100_is_removed_from_every_panel() -> None:
    raw = board_with(core.RowPanel(title="r"), core.Stat(title="s", targets=[TARGET]))
    assert [p["maxDataPoints"] for p in raw["panels"]] == [100, 100]
    assert all("maxDataPoints" not in p for p in normalize(raw)["panels"])


def test_empty_string_steps_on_a_stat_without_thresholds_become_a_base_step() -> None:
    raw = board_with(core.Stat(title="s", targets=[TARGET]))
    assert raw["panels"][0]["fieldConfig"]["defaults"]["thresholds"]["steps"] == ""
    fixed = normalize(raw)["panels"][0]["fieldConfig"]["defaults"]["thresholds"]
    assert fixed["steps"] == [{"color": "green", "value": None}]


def test_no_value_none_is_removed() -> None:
    raw = board_with(core.Stat(title="s", targets=[TARGET]))
    assert raw["panels"][0]["fieldConfig"]["defaults"]["noValue"] == "none"
    assert "noValue" not in normalize(raw)["panels"][0]["fieldConfig"]["defaults"]


def test_null_valued_keys_are_removed_except_the_threshold_base() -> None:
    raw = board_with(core.TimeSeries(title="p", targets=[TARGET]))
    raw_nulls = {path for path, value in walk(raw) if value is None}
    assert {".id", ".gnetId", ".panels[0].cacheTimeout", ".panels[0].datasource"} <= raw_nulls
    fixed_nulls = [path for path, value in walk(normalize(raw)) if value is None]
    assert fixed_nulls == [".panels[0].fieldConfig.defaults.thresholds.steps[0].value"]


def test_legacy_dashboard_keys_are_removed() -> None:
    raw = board_with()
    legacy = {"rows", "style", "hideControls", "sharedCrosshair", "__inputs"}
    assert legacy <= set(raw)
    assert "time_options" in raw["timepicker"]
    fixed = normalize(raw)
    assert not legacy & set(fixed)
    assert "time_options" not in fixed["timepicker"]


def test_legacy_target_keys_are_removed() -> None:
    raw = board_with(core.TimeSeries(title="p", targets=[TARGET]))
    target = raw["panels"][0]["targets"][0]
    legacy = {"intervalFactor", "step", "query", "target", "metric"}
    assert legacy <= set(target)
    fixed = normalize(raw)["panels"][0]["targets"][0]
    assert not legacy & set(fixed)
    assert fixed["expr"] == "up" and fixed["refId"] == "A"


def test_legacy_panel_keys_are_removed() -> None:
    raw = board_with(core.TimeSeries(title="p", targets=[TARGET]))
    legacy = {"editable", "error", "span", "minSpan", "height"}
    assert legacy <= set(raw["panels"][0]) | {k for k, v in raw["panels"][0].items() if v is None}
    assert not legacy & set(normalize(raw)["panels"][0])


def test_row_panels_keep_only_row_fields() -> None:
    raw = board_with(core.RowPanel(title="r", gridPos=core.GridPos(h=1, w=24, x=0, y=0)))
    assert {"targets", "fieldConfig", "links", "transformations"} <= set(raw["panels"][0])
    row = normalize(raw)["panels"][0]
    assert set(row) == {"type", "title", "collapsed", "gridPos", "panels"}


@pytest.mark.parametrize(
    ("panel", "legacy"),
    [
        (core.GaugePanel(title="g", targets=[TARGET]), ("fieldConfig", "defaults", "calcs")),
        (core.BarGauge(title="b", targets=[TARGET]), ("options", "fieldOptions")),
        (core.Heatmap(title="h", targets=[TARGET]), ("xBucketSize",)),
        (core.Heatmap(title="h", targets=[TARGET]), ("cards",)),
        (core.Table(title="t", targets=[TARGET]), ("columns",)),
    ],
    ids=["gauge", "bargauge", "heatmap-buckets", "heatmap-cards", "table"],
)
def test_pre_grafana_8_panel_fields_are_removed(panel: Any, legacy: tuple[str, ...]) -> None:
    raw = board_with(panel)["panels"][0]
    assert _has_path(raw, legacy)
    assert not _has_path(normalize(board_with(panel))["panels"][0], legacy)


def _has_path(data: Json, path: tuple[str, ...]) -> bool:
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return False
        data = data[key]
    return True


def test_grafanalib_bounds_are_integers_only_and_gauges_invent_0_to_100() -> None:
    with pytest.raises(TypeError):
        core.TimeSeries(title="p", valueMin=0.5)  # type: ignore[arg-type]
    gauge = board_with(core.GaugePanel(title="g", targets=[TARGET]))["panels"][0]
    assert (gauge["fieldConfig"]["defaults"]["min"], gauge["fieldConfig"]["defaults"]["max"]) == (
        0,
        100,
    )


@pytest.mark.parametrize("kind", [PanelType.TIMESERIES, PanelType.GAUGE, PanelType.BARGAUGE])
def test_built_panels_carry_the_specs_bounds_exactly(kind: PanelType) -> None:
    spec = spec_of(FLAGSHIP)
    bounded = Panel("p", kind, (PanelQuery("up"),), min=0.5, max=1.5)
    unbounded = Panel("q", kind, (PanelQuery("up"),))
    box = Box(0, 0, 12, 8)
    data = board_with(build_panel(spec, bounded, 1, box), build_panel(spec, unbounded, 2, box))
    first, second = (p["fieldConfig"]["defaults"] for p in normalize(data)["panels"])
    assert (first["min"], first["max"]) == (0.5, 1.5)
    assert "min" not in second and "max" not in second


def test_the_target_output_is_the_normalised_grafanalib_output() -> None:
    spec = spec_of(FLAGSHIP)
    board = dashboard_data(spec, spec.dashboards[0])
    assert board["schemaVersion"] == SCHEMA_VERSION
    assert not [path for path, value in walk(board) if value == "null"]
    assert normalize(board) == board, "normalising is idempotent"


def test_normalising_leaves_the_raw_data_untouched() -> None:
    steps = [core.Threshold("green", 0, 0.0), core.Threshold("red", 1, 5.0)]
    raw = board_with(
        core.RowPanel(title="r"),
        core.TimeSeries(title="p", targets=[TARGET], thresholds=steps),
        core.Stat(title="s", targets=[TARGET]),
    )
    before = json.dumps(raw, sort_keys=True)
    fixed = normalize(raw)
    assert fixed != raw
    assert json.dumps(raw, sort_keys=True) == before
