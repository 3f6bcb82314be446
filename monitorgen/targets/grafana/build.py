"""The dashboard as grafanalib objects, one builder per panel type.

Fields grafanalib 0.7.1 cannot express (modern gauge, bar gauge and heatmap options,
non-integer bounds) go through its `extraJson` escape hatch; what it gets wrong in
its own output is fixed afterwards by `normalize`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from grafanalib import core

from monitorgen.model import Dashboard, Matcher, Panel, PanelQuery, PanelType, Spec, Variable
from monitorgen.panel_ids import panel_ids, row_ids
from monitorgen.promql import PromQLError, expand_grafana, inspect, selector
from monitorgen.targets.base import header_lines
from monitorgen.targets.grafana.datasource import (
    DATASOURCE,
    DATASOURCE_VARIABLE,
    DEFAULT_DATASOURCE_UID,
)
from monitorgen.targets.grafana.layout import Box, layout
from monitorgen.targets.grafana.thresholds import (
    AlertLine,
    Step,
    alert_lines,
    alert_steps,
    explicit_steps,
)

BUILTIN_ANNOTATION = {
    "builtIn": 1,
    "datasource": {"type": "grafana", "uid": "-- Grafana --"},
    "enable": True,
    "hide": True,
    "iconColor": "rgba(0, 211, 255, 1)",
    "name": "Annotations & Alerts",
    "type": "dashboard",
}
TIMESERIES_LEGEND_CALCS = ["mean", "max", "lastNotNull"]
ALERT_THRESHOLD_STYLE = "dashed+area"

PanelBuilder = Callable[[Panel, tuple[AlertLine, ...], dict[str, Any]], Any]


def build_dashboard(spec: Spec, dashboard: Dashboard) -> core.Dashboard:
    return core.Dashboard(
        title=dashboard.title,
        uid=dashboard.uid,
        description=_dashboard_description(spec, dashboard),
        tags=list(dashboard.tags),
        editable=False,
        graphTooltip=core.GRAPH_TOOLTIP_MODE_SHARED_CROSSHAIR,
        refresh=dashboard.refresh,
        time=core.Time(f"now-{dashboard.time}", "now"),
        # UTC, so that a panel's `now/d` or `now/M` is the day or month PromQL's
        # day_of_month() and time() see.
        timezone="utc",
        templating=core.Templating(_variables(dashboard)),
        annotations=core.Annotations([BUILTIN_ANNOTATION, firing_alerts_annotation(spec)]),
        panels=_panels(spec, dashboard),
    )


def _dashboard_description(spec: Spec, dashboard: Dashboard) -> str:
    """The dashboard's description, and (JSON having no comments) the generated-file notice."""
    text = dashboard.description or spec.description
    notice = " ".join(header_lines(spec))
    return f"{text}\n\n{notice}" if text else notice


def firing_alerts_annotation(spec: Spec) -> dict[str, Any]:
    expr = selector(
        "ALERTS", (Matcher("alertstate", ("firing",)), Matcher("service", (spec.service,)))
    )
    return {
        "datasource": DATASOURCE,
        "enable": True,
        "expr": expr,
        "iconColor": "red",
        "name": "Firing alerts",
        "titleFormat": "{{alertname}}",
        "textFormat": "{{severity}}",
        "tagKeys": "alertname,severity",
    }


# ---------------------------------------------------------------- variables


def _variables(dashboard: Dashboard) -> list[core.Template]:
    return [_datasource_variable(), *(_query_variable(v) for v in dashboard.variables)]


def _datasource_variable() -> core.Template:
    template = core.Template(
        name=DATASOURCE_VARIABLE,
        label="Data source",
        type="datasource",
        query="prometheus",
        regex="",
    )
    # grafanalib derives `current` from `default` as text and value alike; Grafana stores
    # the data source's name as text and its uid as value.
    template._current = {"selected": True, "text": "Prometheus", "value": DEFAULT_DATASOURCE_UID}
    return template


def variable_query(variable: Variable) -> str:
    return f"label_values({variable.metric}, {variable.name})"


def _query_variable(variable: Variable) -> core.Template:
    template = core.Template(
        name=variable.name,
        label=variable.label,
        query=variable_query(variable),
        dataSource=DATASOURCE,
        refresh=core.REFRESH_ON_TIME_RANGE_CHANGE,
        multi=variable.multi,
        includeAll=variable.include_all,
        allValue=".*" if variable.include_all else None,
        sort=core.SORT_ALPHA_ASC,
        regex="",
    )
    if variable.include_all:
        text, value = ("All", "$__all")
        template._current = {
            "selected": True,
            "text": [text] if variable.multi else text,
            "value": [value] if variable.multi else value,
        }
    return template


# ---------------------------------------------------------------- panels


def _panels(spec: Spec, dashboard: Dashboard) -> list[Any]:
    panels: list[Any] = []
    rows = zip(
        dashboard.rows, row_ids(dashboard), panel_ids(dashboard), layout(dashboard), strict=True
    )
    for row, row_id, ids, places in rows:
        children = [
            build_panel(spec, panel, panel_id, box)
            for panel, panel_id, box in zip(row.panels, ids, places.panels, strict=True)
        ]
        header = core.RowPanel(
            title=row.title,
            id=row_id,
            gridPos=_grid(places.row),
            collapsed=row.collapsed,
            panels=children if row.collapsed else [],
        )
        panels.append(header)
        if not row.collapsed:
            panels.extend(children)
    return panels


def _grid(box: Box) -> core.GridPos:
    return core.GridPos(h=box.h, w=box.w, x=box.x, y=box.y)


def build_panel(spec: Spec, panel: Panel, panel_id: int, box: Box) -> Any:
    lines = alert_lines(spec, panel)
    common: dict[str, Any] = {
        "title": panel.title,
        "description": panel_description(spec, panel, lines),
        "id": panel_id,
        "gridPos": _grid(box),
        "dataSource": DATASOURCE,
        "targets": _targets(panel),
        "links": _links(panel, lines),
        "thresholds": _thresholds(alert_steps(lines) or explicit_steps(panel)),
        "timeFrom": panel.time_from,
    }
    return _BUILDERS[panel.type](panel, lines, common)


def _thresholds(steps: tuple[Step, ...]) -> list[core.Threshold]:
    steps = steps or (Step(None, "green"),)
    return [
        core.Threshold(step.color, index, float(step.value or 0.0))
        for index, step in enumerate(steps)
    ]


def _threshold_style(panel: Panel, lines: tuple[AlertLine, ...]) -> str:
    if lines:
        return ALERT_THRESHOLD_STYLE
    return "line" if panel.thresholds else "off"


def panel_description(spec: Spec, panel: Panel, lines: tuple[AlertLine, ...]) -> str:
    text = panel.description or _query_summary(spec, panel)
    if lines:
        text += " Alert thresholds: " + "; ".join(line.describe() for line in lines) + "."
    return text


def _query_summary(spec: Spec, panel: Panel) -> str:
    """A description for a panel the spec left undescribed: what its queries measure."""
    parts = []
    for query in panel.queries:
        metric = spec.metric(query.query.metric) if query.query else None
        if query.query and metric:
            what = "distribution" if query.distribution else query.query.function.value
            parts.append(f"{what} of {metric.name}: {metric.help}")
        else:
            parts.append(f"PromQL: {query.expr}")
    return " ".join(parts)


def _links(panel: Panel, lines: tuple[AlertLine, ...]) -> list[core.DataLink]:
    links = [(title, url) for title, url in panel.links]
    links += [
        (f"Runbook: {line.alert.name}", line.alert.runbook_url)
        for line in lines
        if line.alert.runbook_url
    ]
    seen: set[str] = set()
    result = []
    for title, url in links:
        if url not in seen:
            seen.add(url)
            result.append(core.DataLink(title, linkUrl=url, isNewTab=True))
    return result


def _targets(panel: Panel, *, fmt: str = "time_series", instant: bool = False) -> list[Any]:
    return [
        core.Target(
            expr=query.expr,
            legendFormat=_legend(panel, query),
            refId=_ref_id(index),
            datasource=DATASOURCE,
            format=fmt,
            instant=instant,
        )
        for index, query in enumerate(panel.queries)
    ]


def _ref_id(index: int) -> str:
    """A, B, ... Z, then AA, AB, ..."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def _legend(panel: Panel, query: PanelQuery) -> str:
    """The spec's legend; else the panel title for a panel's only query when it returns
    one aggregated series, and Grafana's naming from the labels otherwise."""
    if query.legend:
        return query.legend
    if len(panel.queries) == 1 and _one_series(query):
        return panel.title
    return "__auto"


def _one_series(query: PanelQuery) -> bool:
    if query.query is not None:
        return not query.query.by
    try:
        aggregations = inspect(expand_grafana(query.expr)).aggregations
    except PromQLError:
        return False
    return bool(aggregations) and not any(labels for _op, labels in aggregations)


def _field_defaults(panel: Panel, **extra: Any) -> dict[str, Any]:
    """Bounds and decimals as the spec gives them; grafanalib takes only integer bounds
    and invents 0..100 for gauges, so they are always set here (None is dropped later)."""
    return {"min": panel.min, "max": panel.max, "decimals": panel.decimals, **extra}


def _reduce_options() -> dict[str, Any]:
    return {"calcs": ["lastNotNull"], "fields": "", "values": False}


def _timeseries(
    panel: Panel, lines: tuple[AlertLine, ...], common: dict[str, Any]
) -> core.TimeSeries:
    return core.TimeSeries(
        unit=panel.unit or "",
        legendDisplayMode="table",
        legendPlacement="bottom",
        legendCalcs=TIMESERIES_LEGEND_CALCS,
        tooltipMode="multi",
        tooltipSort="desc",
        fillOpacity=30 if panel.stack else 10,
        stacking={"mode": "normal", "group": "A"} if panel.stack else {"mode": "none"},
        thresholdsStyleMode=_threshold_style(panel, lines),
        extraJson={"fieldConfig": {"defaults": _field_defaults(panel)}},
        **common,
    )


def _stat(panel: Panel, lines: tuple[AlertLine, ...], common: dict[str, Any]) -> core.Stat:
    colored = bool(panel.thresholds or lines)
    if panel.time_from:
        # Over its own range (`now/d`, ...) only the value at the end means something.
        common = {**common, "targets": _targets(panel, instant=True)}
    return core.Stat(
        format=panel.unit or "none",
        decimals=panel.decimals,
        reduceCalc="lastNotNull",
        color={"mode": "thresholds"},
        colorMode="value" if colored else "none",
        graphMode="none" if panel.time_from else "area",
        textMode="auto",
        extraJson={"fieldConfig": {"defaults": _field_defaults(panel)}},
        **common,
    )


def _gauge(panel: Panel, lines: tuple[AlertLine, ...], common: dict[str, Any]) -> core.GaugePanel:
    return core.GaugePanel(
        format=panel.unit or "none",
        extraJson={
            "fieldConfig": {"defaults": _field_defaults(panel)},
            "options": {
                "reduceOptions": _reduce_options(),
                "orientation": "auto",
                "showThresholdLabels": False,
                "showThresholdMarkers": True,
            },
        },
        **common,
    )


def _bargauge(panel: Panel, lines: tuple[AlertLine, ...], common: dict[str, Any]) -> core.BarGauge:
    return core.BarGauge(
        displayMode=core.GAUGE_DISPLAY_MODE_GRADIENT,
        extraJson={
            "fieldConfig": {"defaults": _field_defaults(panel, unit=panel.unit or "none")},
            "options": {
                "displayMode": core.GAUGE_DISPLAY_MODE_GRADIENT,
                "orientation": core.ORIENTATION_HORIZONTAL,
                "reduceOptions": _reduce_options(),
                "showUnfilled": True,
                "valueMode": "color",
            },
        },
        **common,
    )


def _table(panel: Panel, lines: tuple[AlertLine, ...], common: dict[str, Any]) -> core.Table:
    common = {**common, "targets": _targets(panel, fmt="table", instant=True)}
    transformations = [{"id": "merge", "options": {}}] if len(panel.queries) > 1 else []
    return core.Table(
        unit=panel.unit or "",
        transformations=transformations,
        extraJson={"fieldConfig": {"defaults": _field_defaults(panel)}},
        **common,
    )


def _heatmap(panel: Panel, lines: tuple[AlertLine, ...], common: dict[str, Any]) -> core.Heatmap:
    common = {**common, "targets": _targets(panel, fmt="heatmap")}
    return core.Heatmap(
        extraJson={
            "fieldConfig": {"defaults": _field_defaults(panel, unit=panel.unit or "none")},
            "options": {
                "calculate": False,
                "cellGap": 1,
                "color": {"mode": "scheme", "scheme": "Oranges", "steps": 64},
                "legend": {"show": True},
                "tooltip": {"mode": "single", "yHistogram": False},
                "yAxis": {"axisPlacement": "left", "unit": panel.unit or "none"},
            },
        },
        **common,
    )


_BUILDERS: dict[PanelType, PanelBuilder] = {
    PanelType.TIMESERIES: _timeseries,
    PanelType.STAT: _stat,
    PanelType.GAUGE: _gauge,
    PanelType.BARGAUGE: _bargauge,
    PanelType.TABLE: _table,
    PanelType.HEATMAP: _heatmap,
}
