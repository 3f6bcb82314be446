"""The one step that corrects what grafanalib 0.7.1 emits, applied to the JSON data
its `DashboardEncoder` produces. Each function fixes one known defect:

- `schemaVersion` 12, which makes Grafana migrate the dashboard on every load;
- the first threshold step's value, the string "null" instead of JSON null, and
  the graph-era keys (`op`, `yaxis`, `line`, `index`) on every step;
- `maxDataPoints: 100` on every panel, which thins out every series;
- `steps: ""` on stat panels built without thresholds;
- `noValue: "none"`, which prints the word "none" instead of "No data";
- null-valued keys, and legacy keys Grafana no longer reads: dashboard `rows`,
  `style`, `hideControls`, `sharedCrosshair`, panel `span`/`height`/`error`,
  target `intervalFactor`/`step`/`query`, the old gauge, bar gauge, heatmap and
  table fields, and a row panel's panel-only fields.

Integer-only bounds (grafanalib's `valueMin`/`valueMax` validators, and the 0..100
it invents for gauges) are avoided at build time: bounds always go through
`extraJson`, and the nulls for unset bounds are dropped here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

SCHEMA_VERSION = 39
GRAFANALIB_MAX_DATA_POINTS = 100
BASE_COLOR = "green"

Json = dict[str, Any]

_DASHBOARD_LEGACY = ("rows", "style", "hideControls", "sharedCrosshair", "__inputs")
_PANEL_LEGACY = ("editable", "error", "height", "span", "minSpan")
_TARGET_LEGACY = ("intervalFactor", "step", "query", "target", "metric")
_VARIABLE_LEGACY = ("useTags", "tagsQuery", "tagValuesQuery")
_INTERVAL_ONLY = ("auto", "auto_min", "auto_count")
_ROW_KEYS = frozenset({"type", "id", "title", "collapsed", "gridPos", "panels", "repeat"})
#: Pre-Grafana-8 fields each grafanalib panel class still writes, by panel type.
_TYPE_LEGACY: dict[str, tuple[tuple[str, ...], ...]] = {
    "table": (("color",), ("columns",), ("fontSize",), ("mappings",), ("styles",)),
    "gauge": (
        ("fieldConfig", "defaults", "calcs"),
        ("fieldConfig", "defaults", "limit"),
        ("fieldConfig", "defaults", "override"),
        ("fieldConfig", "defaults", "values"),
        ("fieldConfig", "defaults", "title"),
        ("fieldConfig", "showThresholdLabels"),
        ("fieldConfig", "showThresholdMarkers"),
    ),
    "bargauge": (
        ("options", "fieldOptions"),
        ("options", "showThresholdLabels"),
        ("options", "showThresholdMarkers"),
    ),
    "heatmap": tuple(
        (key,)
        for key in (
            "cards",
            "color",
            "dataFormat",
            "heatmap",
            "hideZeroBuckets",
            "highlightCards",
            "legend",
            "reverseYBuckets",
            "tooltip",
            "xAxis",
            "xBucketNumber",
            "xBucketSize",
            "yAxis",
            "yBucketBound",
            "yBucketNumber",
            "yBucketSize",
        )
    ),
}


def normalize(board: Json) -> Json:
    """A corrected copy of grafanalib's dashboard data (JSON values: dicts, lists and
    scalars). `drop_nulls` rebuilds every dict and list, so the fixes below never touch
    the input."""
    return fix_in_place(drop_nulls(board))


def fix_in_place(board: Json) -> Json:
    """`normalize` of data that has no nulls yet and is the caller's to change."""
    fix_schema_version(board)
    drop_dashboard_legacy(board)
    for panel in iter_panels(board):
        fix_panel(panel)
    for variable in board.get("templating", {}).get("list", []):
        fix_variable(variable)
    return board


def iter_panels(board: Json) -> Iterator[Json]:
    """Every panel, rows included, and the panels inside collapsed rows."""
    for panel in board.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def drop_nulls(value: Any) -> Any:
    """The value without null-valued keys (lists keep their items)."""
    if isinstance(value, dict):
        return {k: drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [drop_nulls(item) for item in value]
    return value


def fix_schema_version(board: Json) -> None:
    board["schemaVersion"] = SCHEMA_VERSION


def drop_dashboard_legacy(board: Json) -> None:
    for key in _DASHBOARD_LEGACY:
        board.pop(key, None)
    board.get("timepicker", {}).pop("time_options", None)


def fix_panel(panel: Json) -> None:
    if panel.get("type") == "row":
        _keep_row_keys(panel)
        return
    _drop_default_max_data_points(panel)
    for key in _PANEL_LEGACY:
        panel.pop(key, None)
    for path in _TYPE_LEGACY.get(panel.get("type", ""), ()):
        _pop_path(panel, path)
    defaults = panel.get("fieldConfig", {}).get("defaults", {})
    fix_threshold_steps(defaults)
    if defaults.get("noValue") == "none":
        del defaults["noValue"]
    for target in panel.get("targets", []):
        fix_target(target)


def _keep_row_keys(panel: Json) -> None:
    for key in set(panel) - _ROW_KEYS:
        del panel[key]


def _drop_default_max_data_points(panel: Json) -> None:
    if panel.get("maxDataPoints") == GRAFANALIB_MAX_DATA_POINTS:
        del panel["maxDataPoints"]


def _pop_path(data: Json, path: tuple[str, ...]) -> None:
    *parents, last = path
    for key in parents:
        data = data.get(key, {})
    data.pop(last, None)


def fix_threshold_steps(defaults: Json) -> None:
    """Steps as Grafana stores them: `{color, value}`, the first with a null value.
    A stat panel built without thresholds has `steps: ""`; it gets a plain base."""
    thresholds = defaults.get("thresholds")
    if thresholds is None:
        return
    steps = thresholds.get("steps")
    if not isinstance(steps, list) or not steps:
        steps = [{"color": BASE_COLOR}]
    fixed = [{"color": step["color"], "value": step.get("value")} for step in steps]
    fixed[0]["value"] = None
    thresholds["steps"] = fixed


def fix_target(target: Json) -> None:
    for key in _TARGET_LEGACY:
        target.pop(key, None)
    if target.get("interval") == "":
        del target["interval"]


def fix_variable(variable: Json) -> None:
    for key in _VARIABLE_LEGACY:
        variable.pop(key, None)
    if variable.get("type") != "interval":
        for key in _INTERVAL_ONLY:
            variable.pop(key, None)
    current = variable.get("current")
    if isinstance(current, dict):
        current.pop("tags", None)
