"""Dashboard lint: each check fires on a spec or JSON that has the problem, at the spec
line to change, and the bundled specs are clean."""

from __future__ import annotations

import copy
import textwrap
from pathlib import Path
from typing import Any

import pytest

from benchmarks.synthetic import generate
from monitorgen.diagnostics import Diagnostic, Severity
from monitorgen.lint import FAMILIES, dashboards
from monitorgen.lint.dashboards import (
    check_dashboard_json,
    referenced_variables,
    window_uses,
)
from monitorgen.pipeline import compile_spec
from monitorgen.promql import ExprFacts, inspect
from monitorgen.targets.grafana import dashboard_data

from .helpers import FLAGSHIP, SPEC_FILES, SPEC_IDS, Json, spec_of

HEAD = """\
version: 1
service: shop
metrics:
  - name: orders_total
    type: counter
    help: Orders.
    labels: [region, status]
  - name: queue_depth
    type: gauge
    help: Waiting orders.
    labels: [region]
alerts:
  - name: Backlog
    severity: warning
    summary: Orders wait
    condition: {metric: queue_depth, function: value, above: 100}
  - name: Stuck
    severity: critical
    summary: Orders are stuck
    expr: absent(queue_depth)
dashboards:
  - uid: shop
    title: Shop
    variables: [region]
    rows:
      - title: Orders
        panels:
"""


def lint(tmp_path: Path, panels: str) -> list[Diagnostic]:
    path = tmp_path / "shop.yaml"
    path.write_text(HEAD + textwrap.indent(textwrap.dedent(panels), " " * 10))
    (compiled,) = compile_spec(path)
    assert compiled.spec is not None, [str(d) for d in compiled.diagnostics]
    return [d for d in compiled.diagnostics if d.code.startswith("dashboards/")]


def codes(found: list[Diagnostic]) -> list[str]:
    return [d.code for d in found]


GOOD = """\
- title: Orders
  description: Orders per second.
  unit: ops
  queries:
    - {metric: orders_total, function: rate}
"""


def test_dashboards_is_a_lint_family() -> None:
    assert "dashboards" in FAMILIES


@pytest.mark.parametrize("path", SPEC_FILES, ids=SPEC_IDS)
def test_bundled_specs_have_no_dashboard_findings_but_missing_units(path: Path) -> None:
    (compiled, *_) = compile_spec(path)
    found = [d.code for d in compiled.diagnostics if d.code.startswith("dashboards/")]
    assert set(found) <= {"dashboards/missing-unit"}


def test_flagship_is_lint_clean() -> None:
    (compiled,) = compile_spec(FLAGSHIP)
    assert [d for d in compiled.diagnostics if d.code.startswith("dashboards/")] == []


def test_a_clean_panel_has_no_findings(tmp_path: Path) -> None:
    assert lint(tmp_path, GOOD) == []


def test_unknown_unit_is_an_error_with_a_suggestion_at_the_unit_line(tmp_path: Path) -> None:
    (found,) = lint(tmp_path, GOOD.replace("unit: ops", "unit: seconds"))
    assert (found.code, found.severity) == ("dashboards/unknown-unit", Severity.ERROR)
    assert found.field_path == "dashboards[0].rows[0].panels[0].unit"
    assert found.span.line == HEAD.count("\n") + 3
    assert found.hint == "did you mean 's'?"


def test_missing_unit_and_description_are_warnings(tmp_path: Path) -> None:
    found = lint(
        tmp_path,
        GOOD.replace("  unit: ops\n", "").replace("  description: Orders per second.\n", ""),
    )
    assert sorted(codes(found)) == ["dashboards/missing-description", "dashboards/missing-unit"]
    assert {d.severity for d in found} == {Severity.WARNING}


def test_a_fixed_short_rate_window_is_a_warning(tmp_path: Path) -> None:
    panels = GOOD.replace("function: rate}", "function: rate, window: 5m}")
    (found,) = lint(tmp_path, panels)
    assert found.code == "dashboards/rate-interval" and "fixed 5m" in found.message
    assert found.field_path == "dashboards[0].rows[0].panels[0].queries[0]"


def test_long_windows_are_deliberate(tmp_path: Path) -> None:
    assert lint(tmp_path, GOOD.replace("function: rate}", "function: increase, window: 1d}")) == []


def test_window_uses_tell_macros_from_fixed_windows() -> None:
    uses = window_uses(
        "rate(a[$__rate_interval]) + irate(b[5m]) + increase(c[$__range])"
        " + rate(d[${__interval}]) + avg_over_time(e[5m])"
    )
    assert [(u.function, u.macro, u.window.total_seconds()) for u in uses][1] == (
        "irate",
        None,
        300.0,
    )
    assert [u.macro for u in uses] == ["rate_interval", None, "range", "interval"]


@pytest.mark.parametrize(
    "expr",
    [
        # the expansion the semantic checks parse serves as the second stand-in parse
        "rate(a[$__rate_interval]) + irate(b[5m]) + increase(c[$__range])",
        # a braced macro outside a range expands to `.*` there: parsed with stand-ins
        "rate(a[$__rate_interval] offset ${__interval}) + irate(b[5m]) + increase(c[${__range}])",
    ],
)
def test_window_uses_whichever_second_parse(expr: str) -> None:
    uses = window_uses(expr)
    assert [(u.function, u.macro) for u in uses] == [
        ("rate", "rate_interval"),
        ("irate", None),
        ("increase", "range"),
    ]
    assert uses[1].window.total_seconds() == 300


@pytest.mark.parametrize(
    "expr",
    [
        'sum by (r) (rate(a{r=~"$r"}[$__rate_interval])) / sum(rate(a[$__rate_interval]))',
        "increase(a[${__range}]) + irate(b[${__range}])",
        "rate(a[$__interval]) + rate(b[$__interval] offset $__range)",
        "rate(a[$__rate_interval]) + rate(b[$__interval])",
        "rate(a[$__rate_interval]) + rate(b[5m])",
        'rate(a{x=~"[0-9]+"}[$__rate_interval])',
        "max_over_time(rate(a[$__rate_interval])[1h:])",
        "rate(a[$__rate_interval] offset ${__interval})",
        "rate(a[${__rate_interval]) + rate(b[$__rate_interval}])",
        "rate(a[$__rate_interval]) +",
        "avg_over_time(a[$__rate_interval]) + a",
        "a + b",
    ],
)
def test_one_parse_finds_what_two_parses_find(expr: str) -> None:
    """Queries whose ranges are all one macro are read from the expanded parse alone;
    every query gets the uses the two stand-in parses find."""
    assert window_uses(expr) == dashboards._compared_windows(expr, dashboards._second_text(expr))


def test_a_query_whose_ranges_are_one_macro_is_parsed_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    parsed: list[str] = []

    def recording(text: str) -> ExprFacts:
        parsed.append(text)
        return inspect(text)

    monkeypatch.setattr(dashboards, "inspect", recording)
    uses = window_uses('sum(rate(a{r=~"$r"}[$__rate_interval])) / sum(rate(a[$__rate_interval]))')
    assert parsed == ['sum(rate(a{r=~".*"}[5m])) / sum(rate(a[5m]))']
    assert [(u.function, u.macro, u.window.total_seconds()) for u in uses] == [
        ("rate", "rate_interval", 660.0),
        ("rate", "rate_interval", 660.0),
    ]


def test_interval_macro_in_rate_is_a_warning(tmp_path: Path) -> None:
    panels = GOOD.replace(
        "- {metric: orders_total, function: rate}",
        '- expr: sum(rate(orders_total{region=~"$region"}[$__interval]))',
    )
    (found,) = lint(tmp_path, panels)
    assert found.code == "dashboards/rate-interval" and "$__interval" in found.message


def test_undeclared_variable_is_an_error_and_unused_one_a_warning(tmp_path: Path) -> None:
    panels = GOOD.replace(
        "- {metric: orders_total, function: rate}",
        '- expr: sum(rate(orders_total{region=~"$region",status=~"$state"}[$__rate_interval]))',
    )
    assert codes(lint(tmp_path, panels)) == ["dashboards/unknown-variable"]
    panels = GOOD.replace(
        "- {metric: orders_total, function: rate}",
        "- expr: sum(rate(orders_total[$__rate_interval]))",
    )
    assert sorted(codes(lint(tmp_path, panels))) == [
        "dashboards/unused-variable",
        "dashboards/variable-not-applied",
    ]


@pytest.mark.parametrize(
    "query",
    [
        "{metric: orders_total, function: ratio, where: {region: eu}}",
        'expr: sum(rate(orders_total{region="eu"}[$__rate_interval]))'
        " / sum(rate(orders_total[$__rate_interval]))",
    ],
    ids=["structured", "raw"],
)
def test_a_query_that_splits_by_the_variables_label_is_not_asked_to_apply_it(
    tmp_path: Path, query: str
) -> None:
    """A ratio's part pins the label and its total must not: `region=~"$region"` on the
    total, as the warning's hint said, would make every share 1."""
    panels = GOOD.replace("- {metric: orders_total, function: rate}", f"- {query}")
    found = lint(tmp_path, panels)
    assert "dashboards/variable-not-applied" not in codes(found)


def test_referenced_variables_know_every_syntax() -> None:
    expr = 'x{a=~"$a", b="${b}", c=~"${c:regex}", d="[[d]]"}[$__rate_interval]'
    assert referenced_variables(expr) == {"a", "b", "c", "d"}


def test_own_thresholds_beside_alert_thresholds_are_reported(tmp_path: Path) -> None:
    panels = """\
    - title: Queue
      description: Waiting orders.
      unit: short
      thresholds: [{value: 5, color: red}]
      alerts: [Backlog, Stuck]
      queries:
        - {metric: queue_depth, function: value}
    """
    found = lint(tmp_path, panels)
    assert codes(found) == ["dashboards/thresholds-overridden", "dashboards/alert-threshold"]
    assert found[1].severity is Severity.INFO
    assert found[1].field_path.endswith("alerts[1]")


# ---------------------------------------------------------------- generated JSON


@pytest.fixture
def board() -> Json:
    spec = spec_of(FLAGSHIP)
    return copy.deepcopy(dashboard_data(spec, spec.dashboards[0]))


def json_codes(board: Json) -> list[str]:
    return [f.code for f in check_dashboard_json(board)]


def first_panel(board: Json) -> Any:
    return next(p for p in board["panels"] if p["type"] != "row")


def test_generated_json_is_clean(board: Json) -> None:
    assert json_codes(board) == []


def test_json_without_the_datasource_variable(board: Json) -> None:
    board["templating"]["list"] = [
        v for v in board["templating"]["list"] if v["type"] != "datasource"
    ]
    assert json_codes(board) == ["dashboards/datasource-variable"]


def test_json_panel_or_query_with_a_fixed_datasource(board: Json) -> None:
    first_panel(board)["targets"][0]["datasource"] = {"type": "prometheus", "uid": "prod"}
    assert json_codes(board) == ["dashboards/panel-datasource"]


def test_json_query_that_does_not_parse(board: Json) -> None:
    first_panel(board)["targets"][0]["expr"] = "sum(rate(x[5m])"
    (finding,) = check_dashboard_json(board)
    assert finding.code == "dashboards/target-promql"
    assert finding.panel_id == first_panel(board)["id"]


def test_json_queries_already_checked_in_the_spec_are_not_reported_twice(board: Json) -> None:
    first_panel(board)["targets"][0]["expr"] = "sum(rate(x[5m])"
    assert list(check_dashboard_json(board, {"sum(rate(x[5m])"})) == []


def test_json_panel_without_queries_title_or_description(board: Json) -> None:
    panel = first_panel(board)
    panel["targets"] = []
    panel["title"] = ""
    del panel["description"]
    assert sorted(json_codes(board)) == [
        "dashboards/missing-description",
        "dashboards/missing-title",
        "dashboards/no-targets",
    ]


def test_json_grid_overflow_and_repeated_ids(board: Json) -> None:
    panel = first_panel(board)
    panel["gridPos"]["x"] = 20
    panel["gridPos"]["w"] = 8
    board["panels"][-1]["id"] = panel["id"]
    panel["targets"].append(dict(panel["targets"][0]))
    assert sorted(json_codes(board)) == [
        "dashboards/grid",
        "dashboards/panel-id",
        "dashboards/ref-id",
    ]


@pytest.mark.parametrize(
    "steps",
    [
        [{"color": "green", "value": 0}, {"color": "red", "value": 5}],
        [
            {"color": "green", "value": None},
            {"color": "red", "value": 5},
            {"color": "x", "value": 1},
        ],
        [{"color": "green", "value": None}, {"color": "red", "value": "null"}],
        [],
    ],
    ids=["base-not-null", "descending", "string-value", "empty"],
)
def test_json_thresholds_must_ascend_from_a_null_base(board: Json, steps: list[Json]) -> None:
    first_panel(board)["fieldConfig"]["defaults"]["thresholds"]["steps"] = steps
    assert json_codes(board) == ["dashboards/thresholds"]


# ------------------------------------------- the lint checks what the JSON would show


def _all_boards(path: Path) -> list[Json]:
    spec = spec_of(path)
    return [dashboard_data(spec, dashboard) for dashboard in spec.dashboards]


@pytest.mark.parametrize("path", SPEC_FILES, ids=SPEC_IDS)
def test_every_generated_dashboard_passes_the_json_checks(path: Path) -> None:
    """The JSON checks the lint leaves out (ids, grid, data sources, titles,
    descriptions, queries) hold for every dashboard the target writes."""
    for board in _all_boards(path):
        assert list(check_dashboard_json(board)) == [], board["uid"]


def test_synthetic_dashboards_pass_the_json_checks(tmp_path: Path) -> None:
    (compiled,) = compile_spec(generate(10).write(tmp_path))
    assert compiled.spec is not None and compiled.spec.dashboards
    for dashboard in compiled.spec.dashboards:
        assert list(check_dashboard_json(dashboard_data(compiled.spec, dashboard))) == []


REPEATED_THRESHOLDS = """\
- title: Repeated
  description: Two thresholds of one value.
  unit: ops
  type: {kind}
  queries:
    - {{metric: orders_total, function: rate}}
  thresholds: [{{value: 5, color: red}}, {{value: 5, color: orange}}, {{value: -1, color: blue}}]
- title: Backlog
  description: The queue.
  unit: short
  alerts: [Backlog]
  thresholds: [{{value: 7, color: red}}, {{value: 7, color: red}}]
  queries:
    - {{metric: queue_depth, function: value}}
"""


@pytest.mark.parametrize("kind", ["timeseries", "stat", "gauge", "bargauge", "table", "heatmap"])
def test_threshold_steps_are_reported_as_the_generated_json_shows_them(
    tmp_path: Path, kind: str
) -> None:
    """Without building the dashboard, the lint finds exactly what the JSON check
    finds in the dashboard the target writes: the repeated value of the first panel
    (the second panel draws its alert's threshold instead of its own)."""
    found = [
        d
        for d in lint(tmp_path, REPEATED_THRESHOLDS.format(kind=kind))
        if d.code == "dashboards/thresholds"
    ]
    spec = compile_spec(tmp_path / "shop.yaml")[0].spec
    assert spec is not None
    (dashboard,) = spec.dashboards
    in_json = list(check_dashboard_json(dashboard_data(spec, dashboard)))
    assert [(d.message, d.severity) for d in found] == [
        (f"generated dashboard 'shop': {f.message}", f.severity) for f in in_json
    ]
    (finding,) = found
    assert finding.message.endswith(
        "threshold values [-1.0, 5.0, 5.0] are not numbers in ascending order"
    )
    assert finding.field_path == "dashboards[0].rows[0].panels[0]"


def test_a_heatmap_without_buckets_to_spread_is_a_warning(tmp_path: Path) -> None:
    heatmap = """\
    - title: Wait
      description: How long orders wait.
      unit: s
      type: heatmap
      queries:
        - {metric: queue_depth}
        - {metric: order_wait_seconds}
        - {metric: order_wait_seconds, quantile: 0.9}
        - {expr: 'sum by (le) (rate(order_wait_seconds_bucket[5m]))'}
    """
    head = HEAD.replace(
        "alerts:",
        "  - {name: order_wait_seconds, type: histogram, help: Wait., buckets: [1, 10]}\nalerts:",
    )
    path = tmp_path / "shop.yaml"
    path.write_text(head + textwrap.indent(textwrap.dedent(heatmap), " " * 10))
    (compiled,) = compile_spec(path)
    found = [d for d in compiled.diagnostics if d.code == "dashboards/heatmap-without-buckets"]
    assert [d.field_path for d in found] == ["dashboards[0].rows[0].panels[0].queries[0]"]
    assert found[0].severity is Severity.WARNING
