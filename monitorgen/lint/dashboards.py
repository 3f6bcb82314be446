"""Dashboard lint: what Grafana's dashboard-linter checks, plus grid and threshold sanity.

Two layers. Checks on the spec's panels point at the spec line to change (units,
descriptions, rate windows, variables). Checks on dashboard JSON (`check_dashboard_json`:
data source references, ids, grid, threshold steps) catch what only exists there. Of
those, only the threshold steps can follow from a spec (two thresholds of one value),
so the lint checks the steps the Grafana target writes without building the dashboards
(which takes grafanalib); the rest would be faults of the target, which its tests check
on every dashboard it writes. Counters outside rate()/increase() are a semantic check
(`promql/counter-outside-rate`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import timedelta
from typing import Any

from monitorgen.diagnostics import Diagnostic, Severity
from monitorgen.immutable import immutable
from monitorgen.model import Dashboard, Panel, PanelQuery, PanelType, Path, Spec
from monitorgen.panel_ids import numbered_panels
from monitorgen.promql import ExprFacts, PromQLError, expand_grafana, inspect
from monitorgen.targets.grafana.datasource import DATASOURCE, DATASOURCE_VARIABLE
from monitorgen.targets.grafana.layout import GRID_WIDTH
from monitorgen.targets.grafana.thresholds import (
    OK_COLOR,
    Step,
    alert_lines,
    alert_steps,
    explicit_steps,
)
from monitorgen.targets.grafana.units import is_known_unit, suggest_unit

Json = dict[str, Any]

RATE_FUNCTIONS = frozenset({"rate", "irate", "increase"})
#: Fixed windows at least this long are deliberate (an hourly or daily total).
INTENTIONAL_WINDOW = timedelta(hours=1)
_MACRO = re.compile(r"\$\{?__(rate_interval|interval|range)\b\}?")
#: Two sets of stand-ins for the window macros: a window that differs between the
#: two parses is a macro, and its first value says which one.
_STANDINS = (
    {"rate_interval": "11m", "interval": "13m", "range": "17m"},
    {"rate_interval": "19m", "interval": "23m", "range": "29m"},
)
#: The stand-in `expand_grafana` writes for every macro: when it alone makes a query
#: parseable, the parse the semantic checks made of the expanded query is the second.
_EXPANDED = {"rate_interval": "5m", "interval": "5m", "range": "5m"}
_MACRO_BY_WINDOW = {timedelta(minutes=int(v[:-1])): k for k, v in _STANDINS[0].items()}
_WINDOW_BY_MACRO = {macro: window for window, macro in _MACRO_BY_WINDOW.items()}
#: A range written as a macro alone: `[$__rate_interval]`, `[${__range}]`.
_MACRO_RANGE = re.compile(r"\[\$\{?__(rate_interval|interval|range)\b\}?\]")
_VARIABLE_REF = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]")


def check(spec: Spec) -> Iterator[Diagnostic]:
    for dashboard in spec.dashboards:
        yield from _variables(dashboard)
        for panel in dashboard.panels():
            yield from _panel(spec, dashboard, panel)
        yield from _written_thresholds(spec, dashboard)


# ---------------------------------------------------------------- spec panels


def _panel(spec: Spec, dashboard: Dashboard, panel: Panel) -> Iterator[Diagnostic]:
    yield from _unit(panel)
    if not panel.description:
        yield Diagnostic(
            "dashboards/missing-description",
            f"panel '{panel.title}' has no description",
            path=panel.path,
            severity=Severity.WARNING,
            hint="say what the panel shows and what a bad value means",
        )
    for index, query in enumerate(panel.queries):
        path = (*panel.path, "queries", index)
        yield from _rate_windows(query.expr, path)
        yield from _variables_applied(spec, dashboard, query.expr, path)
        if panel.type is PanelType.HEATMAP:
            yield from _heatmap_of_buckets(query, path)
    yield from _panel_thresholds(spec, panel)


def _heatmap_of_buckets(query: PanelQuery, path: Path) -> Iterator[Diagnostic]:
    """A heatmap draws how values are distributed, which a histogram's buckets give;
    a structured query of anything else draws one line as a strip of colour."""
    if query.query is None or query.distribution:
        return
    yield Diagnostic(
        "dashboards/heatmap-without-buckets",
        f"a heatmap of {query.query.function.value} of {query.query.metric} has no "
        "buckets to spread: it draws a single strip of colour",
        path=path,
        severity=Severity.WARNING,
        hint="show a histogram (rate or quantile, drawn as its bucket rates), "
        "or use type: timeseries",
    )


def _unit(panel: Panel) -> Iterator[Diagnostic]:
    if panel.unit is None:
        yield Diagnostic(
            "dashboards/missing-unit",
            f"panel '{panel.title}' has no unit, so Grafana shows bare numbers",
            path=panel.path,
            severity=Severity.WARNING,
            hint="set `unit`, e.g. s, percentunit, reqps, short or currencyUSD",
        )
    elif not is_known_unit(panel.unit):
        suggestion = suggest_unit(panel.unit)
        yield Diagnostic(
            "dashboards/unknown-unit",
            f"'{panel.unit}' is not a Grafana unit id: Grafana would print it as plain text "
            "after each number",
            path=(*panel.path, "unit"),
            hint=f"did you mean '{suggestion}'?" if suggestion else "see Grafana's unit list",
        )


@immutable
class WindowUse:
    """The range of one rate(), irate() or increase(): a macro name or a fixed window."""

    function: str
    macro: str | None
    window: timedelta


def window_uses(expr: str) -> tuple[WindowUse, ...]:
    """How each rate-like function of a dashboard query picks its window."""
    second_text = _second_text(expr)
    macro = _only_macro_ranges(expr) if second_text == expand_grafana(expr) else None
    if macro is None:
        return _compared_windows(expr, second_text)
    try:
        return _macro_windows(inspect(second_text), macro)
    except PromQLError:
        return ()


def _compared_windows(expr: str, second_text: str) -> tuple[WindowUse, ...]:
    """The windows of two parses, with different stand-ins: those that differ are macros."""
    try:
        first = inspect(expand_grafana(_with_standins(expr, _STANDINS[0])))
        second = inspect(second_text)
    except PromQLError:
        return ()
    uses = []
    for one, other in zip(first.selectors, second.selectors, strict=True):
        if one.range is None or one.function not in RATE_FUNCTIONS:
            continue
        macro = None if one.range == other.range else _MACRO_BY_WINDOW[one.range]
        uses.append(WindowUse(one.function, macro, one.range))
    return tuple(uses)


def _only_macro_ranges(expr: str) -> str | None:
    """The macro every range of the query is, when all its ranges are one same macro
    (the usual `[$__rate_interval]`). Then the parse of the expanded query tells all, and
    the parse with the first stand-ins (a regex compiled per matcher) can be spared."""
    if "[" in _MACRO_RANGE.sub("", expr):
        return None
    macros = set(_MACRO_RANGE.findall(expr))
    return macros.pop() if len(macros) == 1 else None


def _macro_windows(facts: ExprFacts, macro: str) -> tuple[WindowUse, ...]:
    """The uses `window_uses` finds when every range is `macro`, from the one parse."""
    window = _WINDOW_BY_MACRO[macro]
    return tuple(
        WindowUse(use.function, macro, window)
        for use in facts.selectors
        if use.range is not None and use.function in RATE_FUNCTIONS
    )


def _with_standins(expr: str, standins: dict[str, str]) -> str:
    return _MACRO.sub(lambda match: standins[match[1]], expr)


def _second_text(expr: str) -> str:
    """The query with the second stand-ins: as `expand_grafana` writes it, already parsed,
    unless that differs from the macros replaced alone (`${__interval}` outside a range)."""
    expanded = expand_grafana(expr)
    if expand_grafana(_with_standins(expr, _EXPANDED)) == expanded:
        return expanded
    return expand_grafana(_with_standins(expr, _STANDINS[1]))


def _rate_windows(expr: str, path: Path) -> Iterator[Diagnostic]:
    for use in window_uses(expr):
        if use.macro == "interval":
            yield Diagnostic(
                "dashboards/rate-interval",
                f"{use.function}() over $__interval can cover fewer than two scrapes and "
                "return nothing when zoomed in",
                path=path,
                severity=Severity.WARNING,
                hint="use [$__rate_interval]",
            )
        elif use.macro is None and use.window < INTENTIONAL_WINDOW:
            yield Diagnostic(
                "dashboards/rate-interval",
                f"{use.function}() over a fixed {_duration(use.window)} window: too short "
                "for the scrape interval, or smoothing away detail, depending on the zoom",
                path=path,
                severity=Severity.WARNING,
                hint="use [$__rate_interval] (windows of 1h and more are kept as deliberate)",
            )


def _duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    return f"{seconds // 60}m" if seconds % 60 == 0 else f"{seconds}s"


def referenced_variables(expr: str) -> set[str]:
    """Template variables a query uses (`$x`, `${x}`, `${x:fmt}`, `[[x]]`), Grafana's
    own `$__...` macros left out."""
    names = {next(g for g in m.groups() if g) for m in _VARIABLE_REF.finditer(expr)}
    return {n for n in names if not n.startswith("__")}


def _variables(dashboard: Dashboard) -> Iterator[Diagnostic]:
    declared = {v.name for v in dashboard.variables} | {DATASOURCE_VARIABLE}
    used: set[str] = set()
    for panel in dashboard.panels():
        for index, query in enumerate(panel.queries):
            names = referenced_variables(query.expr)
            used |= names
            for name in sorted(names - declared):
                yield Diagnostic(
                    "dashboards/unknown-variable",
                    f"${name} is not a variable of dashboard '{dashboard.uid}': Grafana "
                    "would send it to Prometheus as it is",
                    path=(*panel.path, "queries", index),
                    hint=f"add {name} to the dashboard's variables",
                )
    for index, variable in enumerate(dashboard.variables):
        if variable.name not in used:
            yield Diagnostic(
                "dashboards/unused-variable",
                f"variable ${variable.name} filters no panel",
                path=(*dashboard.path, "variables", index),
                severity=Severity.WARNING,
            )


def _variables_applied(
    spec: Spec, dashboard: Dashboard, expr: str, path: Path
) -> Iterator[Diagnostic]:
    """A selector on a metric that has a variable's label but ignores the variable shows
    data the viewer has filtered out."""
    try:
        facts = inspect(expand_grafana(expr))
    except PromQLError:
        return
    # A label one selector of a metric filters is one the query splits the metric by (a
    # ratio's part filters it, its total must not): the variable does not apply there.
    filtered: dict[str, set[str]] = {}
    for use in facts.selectors:
        metric = spec.metric_for_series(use.name) if use.name else None
        if metric is not None:
            filtered.setdefault(metric.name, set()).update(label for label, *_ in use.labels)
    reported: set[tuple[str, str]] = set()
    for use in facts.selectors:
        metric = spec.metric_for_series(use.name) if use.name else None
        if metric is None:
            continue
        for variable in dashboard.variables:
            key = (metric.name, variable.name)
            ignored = (
                variable.name in metric.label_names and variable.name not in filtered[metric.name]
            )
            if ignored and key not in reported:
                reported.add(key)
                yield Diagnostic(
                    "dashboards/variable-not-applied",
                    f"{use.name} has label '{variable.name}' but this query ignores "
                    f"${variable.name}",
                    path=path,
                    severity=Severity.WARNING,
                    hint=f'add {variable.name}=~"${variable.name}" to the selector',
                )


def _panel_thresholds(spec: Spec, panel: Panel) -> Iterator[Diagnostic]:
    lines = alert_lines(spec, panel)
    if panel.thresholds and lines:
        yield Diagnostic(
            "dashboards/thresholds-overridden",
            f"panel '{panel.title}' draws its alerts' thresholds, so its own `thresholds` "
            "are not used",
            path=(*panel.path, "thresholds"),
            severity=Severity.WARNING,
        )
    drawn = {line.alert.name for line in lines}
    for index, name in enumerate(panel.alerts):
        if spec.alert(name) is not None and name not in drawn:
            yield Diagnostic(
                "dashboards/alert-threshold",
                f"alert {name} has no simple threshold (`<query> > <number>`) to draw on "
                f"panel '{panel.title}'",
                path=(*panel.path, "alerts", index),
                severity=Severity.INFO,
            )


# ---------------------------------------------------------------- generated JSON


@immutable
class JsonFinding:
    """A problem in generated dashboard JSON; `panel_id` None means the dashboard."""

    code: str
    message: str
    panel_id: int | None = None
    severity: Severity = Severity.ERROR


def _written_thresholds(spec: Spec, dashboard: Dashboard) -> Iterator[Diagnostic]:
    """Each panel's threshold steps as the Grafana target writes them, checked as in
    its JSON and reported as the JSON check would be."""
    for panel_id, panel in numbered_panels(dashboard):
        for finding in _threshold_steps(panel_id, _written_steps(spec, panel)):
            yield Diagnostic(
                finding.code,
                f"generated dashboard '{dashboard.uid}': {finding.message}",
                path=panel.path,
                severity=finding.severity,
            )


def _written_steps(spec: Spec, panel: Panel) -> list[Json]:
    """The alerts' thresholds, else the panel's own, else a plain base; values as the
    JSON floats they become, the base's null."""
    steps = alert_steps(alert_lines(spec, panel)) or explicit_steps(panel)
    return [
        {"color": step.color, "value": float(step.value or 0.0) if index else None}
        for index, step in enumerate(steps or (Step(None, OK_COLOR),))
    ]


def check_dashboard_json(board: Json, checked_exprs: Iterable[str] = ()) -> Iterator[JsonFinding]:
    """Lint Grafana dashboard JSON. Expressions in `checked_exprs` were parsed already
    (the spec's own queries) and are not reported twice."""
    checked = frozenset(checked_exprs)
    yield from _datasource_variable(board)
    panels = list(_all_panels(board))
    yield from _unique_ids(panels)
    for panel in panels:
        yield from _json_panel(panel, checked)
    for annotation in board.get("annotations", {}).get("list", []):
        if "expr" in annotation:
            yield from _parses(annotation["expr"], None, f"annotation '{annotation.get('name')}'")


def _all_panels(board: Json) -> Iterator[Json]:
    for panel in board.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def _datasource_variable(board: Json) -> Iterator[JsonFinding]:
    variables = board.get("templating", {}).get("list", [])
    if not any(
        v.get("type") == "datasource" and v.get("name") == DATASOURCE_VARIABLE for v in variables
    ):
        yield JsonFinding(
            "dashboards/datasource-variable",
            f"no '{DATASOURCE_VARIABLE}' variable of type datasource: the dashboard is tied "
            "to one Prometheus",
        )
    for variable in variables:
        if variable.get("type") == "query" and variable.get("datasource") != DATASOURCE:
            yield JsonFinding(
                "dashboards/datasource-variable",
                f"variable '{variable.get('name')}' does not query the ${DATASOURCE_VARIABLE} "
                "data source",
            )


def _unique_ids(panels: list[Json]) -> Iterator[JsonFinding]:
    seen: set[Any] = set()
    for panel in panels:
        panel_id = panel.get("id")
        if panel_id in seen:
            yield JsonFinding("dashboards/panel-id", f"panel id {panel_id} is used twice", panel_id)
        seen.add(panel_id)


def _json_panel(panel: Json, checked: frozenset[str]) -> Iterator[JsonFinding]:
    panel_id = panel.get("id")
    if not panel.get("title"):
        yield JsonFinding("dashboards/missing-title", f"panel {panel_id} has no title", panel_id)
    yield from _grid(panel)
    if panel.get("type") == "row":
        return
    if not panel.get("description"):
        yield JsonFinding(
            "dashboards/missing-description", f"panel {panel_id} has no description", panel_id
        )
    targets = panel.get("targets", [])
    if not targets:
        yield JsonFinding("dashboards/no-targets", f"panel {panel_id} has no queries", panel_id)
    if panel.get("datasource") != DATASOURCE:
        yield JsonFinding(
            "dashboards/panel-datasource",
            f"panel {panel_id} does not use the ${DATASOURCE_VARIABLE} variable",
            panel_id,
        )
    yield from _targets(panel_id, targets, checked)
    thresholds = panel.get("fieldConfig", {}).get("defaults", {}).get("thresholds")
    if thresholds is not None:
        yield from _threshold_steps(panel_id, thresholds.get("steps"))


def _grid(panel: Json) -> Iterator[JsonFinding]:
    panel_id = panel.get("id")
    grid = panel.get("gridPos") or {}
    x, w, h = grid.get("x", -1), grid.get("w", 0), grid.get("h", 0)
    if x < 0 or w < 1 or h < 1 or x + w > GRID_WIDTH:
        yield JsonFinding(
            "dashboards/grid",
            f"panel {panel_id} at x={x} w={w} h={h} does not fit the {GRID_WIDTH}-column grid",
            panel_id,
        )


def _targets(panel_id: Any, targets: list[Json], checked: frozenset[str]) -> Iterator[JsonFinding]:
    ref_ids: set[str] = set()
    for target in targets:
        ref_id = target.get("refId", "")
        if not ref_id or ref_id in ref_ids:
            yield JsonFinding(
                "dashboards/ref-id",
                f"panel {panel_id} has a missing or repeated query refId '{ref_id}'",
                panel_id,
            )
        ref_ids.add(ref_id)
        if target.get("datasource") != DATASOURCE:
            yield JsonFinding(
                "dashboards/panel-datasource",
                f"query {ref_id} of panel {panel_id} does not use the ${DATASOURCE_VARIABLE} "
                "variable",
                panel_id,
            )
        expr = target.get("expr", "")
        if expr not in checked:
            yield from _parses(expr, panel_id, f"query {ref_id} of panel {panel_id}")


def _parses(expr: str, panel_id: Any, what: str) -> Iterator[JsonFinding]:
    try:
        inspect(expand_grafana(expr))
    except PromQLError as exc:
        yield JsonFinding("dashboards/target-promql", f"{what} does not parse: {exc}", panel_id)


def _threshold_steps(panel_id: Any, steps: Any) -> Iterator[JsonFinding]:
    if not isinstance(steps, list) or not steps:
        yield JsonFinding(
            "dashboards/thresholds", f"panel {panel_id} has no threshold steps", panel_id
        )
        return
    if steps[0].get("value") is not None:
        yield JsonFinding(
            "dashboards/thresholds",
            f"panel {panel_id}: the first threshold step must have a null value (the base)",
            panel_id,
        )
    values = [step.get("value") for step in steps[1:]]
    if any(not isinstance(v, int | float) for v in values) or values != sorted(set(values)):
        yield JsonFinding(
            "dashboards/thresholds",
            f"panel {panel_id}: threshold values {values} are not numbers in ascending order",
            panel_id,
        )
