"""An independent check of the dashboard structure: grafana-foundation-sdk's Dashboard
model must read every key of every generated dashboard and write it back unchanged."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.cog.plugins import register_default_plugins
from grafana_foundation_sdk.models import dashboard as sdk
from grafana_foundation_sdk.models import prometheus, stat, timeseries
from grafanalib import core
from grafanalib._gen import DashboardEncoder

from .helpers import SPEC_FILES, SPEC_IDS, Json, dashboards_of, panels

#: Display settings of a Prometheus annotation query. Grafana reads them, but the SDK's
#: generic AnnotationQuery has no field for them; they are the only keys let through.
PROMETHEUS_ANNOTATION_KEYS = frozenset({"titleFormat", "textFormat", "tagKeys"})

register_default_plugins()


def round_trip(board: Json) -> Json:
    data: Json = json.loads(json.dumps(sdk.Dashboard.from_json(board), cls=JSONEncoder))
    return data


def differences(original: Any, back: Any, path: str = "") -> Iterator[str]:
    """Keys the SDK dropped and values it changed (keys it adds as defaults are fine)."""
    if isinstance(original, dict) and isinstance(back, dict):
        for key, value in original.items():
            if key not in back:
                yield f"{path}.{key} unknown to the SDK"
            else:
                yield from differences(value, back[key], f"{path}.{key}")
    elif isinstance(original, list) and isinstance(back, list) and len(original) == len(back):
        for index, (item, other) in enumerate(zip(original, back, strict=True)):
            yield from differences(item, other, f"{path}[{index}]")
    elif original != back:
        yield f"{path}: {original!r} became {back!r}"


def unexpected(board: Json) -> list[str]:
    allowed = {
        f".annotations.list[{i}].{key}"
        for i in range(len(board.get("annotations", {}).get("list", [])))
        for key in PROMETHEUS_ANNOTATION_KEYS
    }
    return [d for d in differences(board, round_trip(board)) if d.split(" ")[0] not in allowed]


@pytest.mark.parametrize("path", SPEC_FILES, ids=SPEC_IDS)
def test_every_generated_dashboard_round_trips_through_the_sdk(path: Path) -> None:
    boards = dashboards_of(path)
    assert boards
    for uid, board in boards.items():
        assert unexpected(board) == [], uid


@pytest.mark.parametrize("path", SPEC_FILES, ids=SPEC_IDS)
def test_the_sdk_reads_panels_and_queries_as_their_typed_models(path: Path) -> None:
    for board in dashboards_of(path).values():
        model = sdk.Dashboard.from_json(board)
        assert model.uid == board["uid"] and model.schema_version == 39
        assert model.panels is not None
        typed = [p for p in model.panels if isinstance(p, sdk.Panel)]
        assert len(typed) == sum(1 for p in board["panels"] if p["type"] != "row")
        for panel in typed:
            assert panel.targets
            assert all(isinstance(t, prometheus.Dataquery) for t in panel.targets)
            if panel.type_val == "timeseries":
                assert isinstance(panel.options, timeseries.Options)
            if panel.type_val == "stat":
                assert isinstance(panel.options, stat.Options)


def test_the_check_catches_raw_grafanalib_output() -> None:
    raw = core.Dashboard(
        title="t",
        uid="t",
        panels=[
            core.TimeSeries(
                title="p",
                dataSource={"type": "prometheus", "uid": "x"},
                gridPos=core.GridPos(h=8, w=12, x=0, y=0),
            )
        ],
    )
    found = unexpected(json.loads(json.dumps(raw, cls=DashboardEncoder)))
    assert any(d.startswith(".rows ") for d in found)
    assert any(d.startswith(".style ") for d in found)
    assert any(".panels[0].span " in d for d in found)


def test_the_check_catches_a_legacy_target_key() -> None:
    board = next(iter(dashboards_of(SPEC_FILES[0]).values()))
    board = json.loads(json.dumps(board))
    target = next(panels(board))["targets"][0]
    target["step"] = 10
    assert any(d.endswith(".step unknown to the SDK") for d in unexpected(board))
