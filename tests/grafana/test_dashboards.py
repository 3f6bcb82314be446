"""The meaning of every generated dashboard: panel types, queries, variables, thresholds,
links and layout, for the flagship, the test specs and the panel-type spec."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitorgen.model import Comparison, PanelType, Severity, Spec
from monitorgen.panel_ids import numbered_panels, row_ids
from monitorgen.promql import expand_grafana, inspect
from monitorgen.semantic.promql_usage import BUILTIN_SERIES
from monitorgen.targets import render_all
from monitorgen.targets.grafana import DASHBOARDS_DIR, dashboard_json, render
from monitorgen.targets.grafana.build import DATASOURCE
from monitorgen.targets.grafana.thresholds import SEVERITY_COLORS, alert_lines
from monitorgen.targets.grafana.units import is_known_unit

from .helpers import SPEC_FILES, SPEC_IDS, Json, dashboards_of, files_of, panels, spec_of, walk

MODERN_TYPES = {t.value for t in PanelType} | {"row"}
LEGACY_KEYS = {
    "rows",
    "style",
    "hideControls",
    "sharedCrosshair",
    "intervalFactor",
    "step",
    "maxDataPoints",
    "span",
    "minSpan",
    "fieldOptions",
    "useTags",
}
COLOR_RANK = {"green": 0, "blue": 1, "orange": 2, "red": 3}
spec_files = pytest.mark.parametrize("path", SPEC_FILES, ids=SPEC_IDS)


def boards(path: Path) -> list[tuple[Spec, Any, Json]]:
    spec = spec_of(path)
    by_uid = dashboards_of(path)
    return [(spec, d, by_uid[d.uid]) for d in spec.dashboards]


def known_series(spec: Spec) -> set[str]:
    names = {s for m in spec.metrics for s in m.series_names()}
    return names | {r.record for r in spec.recording_rules} | set(spec.external_metrics)


@spec_files
def test_one_file_per_dashboard_named_by_its_uid(path: Path) -> None:
    spec = spec_of(path)
    names = {n for n in files_of(path) if n.startswith(DASHBOARDS_DIR)}
    assert names == {f"{DASHBOARDS_DIR}/{d.uid}.json" for d in spec.dashboards}
    for dashboard in spec.dashboards:
        assert dashboards_of(path)[dashboard.uid]["uid"] == dashboard.uid
    assert set(dashboard_json(spec)) == {d.uid for d in spec.dashboards}


@spec_files
def test_output_is_deterministic(path: Path) -> None:
    spec = spec_of(path)
    assert render(spec) == render(spec)
    for uid, text in dashboard_json(spec).items():
        assert text == json.dumps(json.loads(text), sort_keys=True, indent=2) + "\n"
        assert files_of(path)[f"{DASHBOARDS_DIR}/{uid}.json"] == text.encode()


@spec_files
def test_only_modern_panel_types_matching_the_spec(path: Path) -> None:
    for _spec, dashboard, board in boards(path):
        assert {p["type"] for p in board["panels"]} <= MODERN_TYPES
        by_id = {p["id"]: p for p in panels(board)}
        for panel_id, panel in numbered_panels(dashboard):
            assert by_id[panel_id]["type"] == panel.type.value
            assert by_id[panel_id]["title"] == panel.title


@spec_files
def test_no_legacy_keys_and_no_string_nulls(path: Path) -> None:
    for _spec, _dashboard, board in boards(path):
        for node_path, value in walk(board):
            key = node_path.rsplit(".", 1)[-1]
            assert key not in LEGACY_KEYS, node_path
            assert value != "null", node_path
            if value is None:
                assert re.fullmatch(r".*thresholds\.steps\[0\]\.value", node_path), node_path
        assert board["schemaVersion"] == 39


@spec_files
def test_every_query_parses_and_uses_only_declared_series(path: Path) -> None:
    for spec, _dashboard, board in boards(path):
        allowed = known_series(spec)
        exprs = [t["expr"] for p in panels(board) for t in p["targets"]]
        exprs += [a["expr"] for a in board["annotations"]["list"] if "expr" in a]
        assert exprs
        for expr in exprs:
            facts = inspect(expand_grafana(expr))
            assert set(facts.metric_names) <= allowed | BUILTIN_SERIES, expr


@spec_files
def test_every_panel_and_query_reads_the_datasource_variable(path: Path) -> None:
    for _spec, _dashboard, board in boards(path):
        (variable,) = [v for v in board["templating"]["list"] if v["type"] == "datasource"]
        assert variable["name"] == "datasource"
        assert variable["query"] == "prometheus"
        assert variable["current"]["value"] == "prometheus"
        for panel in panels(board):
            assert (
                panel["datasource"] == DATASOURCE == {"type": "prometheus", "uid": "${datasource}"}
            )
            assert all(t["datasource"] == DATASOURCE for t in panel["targets"])
            assert len({t["refId"] for t in panel["targets"]}) == len(panel["targets"])


@spec_files
def test_query_variables_come_from_label_values_and_filter_the_queries(path: Path) -> None:
    for spec, dashboard, board in boards(path):
        variables = {v["name"]: v for v in board["templating"]["list"] if v["type"] == "query"}
        assert list(variables) == [v.name for v in dashboard.variables]
        for model in dashboard.variables:
            variable = variables[model.name]
            assert variable["query"] == f"label_values({model.metric}, {model.name})"
            assert (variable["multi"], variable["includeAll"]) == (model.multi, model.include_all)
            assert variable["current"]["value"] == (["$__all"] if model.multi else "$__all")
            assert variable["refresh"] == 2, "refresh on time range change"
            assert variable["datasource"] == DATASOURCE
            label_metrics = {m.name for m in spec.metrics if model.name in m.label_names}
            used = False
            for panel in panels(board):
                for target in panel["targets"]:
                    for use in inspect(expand_grafana(target["expr"])).selectors:
                        metric = spec.metric_for_series(use.name or "")
                        if metric and metric.name in label_metrics:
                            matcher = (model.name, "=~", ".*")
                            assert matcher in use.labels, (panel["title"], target["expr"])
                            assert f'{model.name}=~"${model.name}"' in target["expr"]
                            used = True
            assert used, f"${model.name} filters no query"


@spec_files
def test_structured_rates_use_rate_interval(path: Path) -> None:
    for _spec, dashboard, board in boards(path):
        by_id = {p["id"]: p for p in panels(board)}
        for panel_id, panel in numbered_panels(dashboard):
            for query, target in zip(panel.queries, by_id[panel_id]["targets"], strict=True):
                assert target["expr"] == query.expr
                if query.query and not query.explicit_window and "rate(" in query.expr:
                    assert "[$__rate_interval]" in target["expr"]


@spec_files
def test_alert_thresholds_are_drawn_with_the_same_numbers(path: Path) -> None:
    checked = 0
    for spec, dashboard, board in boards(path):
        by_id = {p["id"]: p for p in panels(board)}
        for panel_id, panel in numbered_panels(dashboard):
            lines = alert_lines(spec, panel)
            if not lines:
                continue
            checked += 1
            generated = by_id[panel_id]
            steps = generated["fieldConfig"]["defaults"]["thresholds"]["steps"]
            assert steps[0]["value"] is None
            assert [s["value"] for s in steps[1:]] == sorted({line.value for line in lines})
            for line in lines:
                color = SEVERITY_COLORS[line.alert.severity]
                index = next(i for i, s in enumerate(steps) if s["value"] == line.value)
                firing_side = (
                    steps[index] if line.comparison is Comparison.ABOVE else steps[index - 1]
                )
                assert firing_side["color"] in {color, "red"}, (panel.title, line.alert.name)
            if generated["type"] == "timeseries":
                custom = generated["fieldConfig"]["defaults"]["custom"]
                assert custom["thresholdsStyle"] == {"mode": "dashed+area"}
            runbooks = {link["url"] for link in generated["links"]}
            assert {line.alert.runbook_url for line in lines if line.alert.runbook_url} <= runbooks
            assert all(line.alert.name in generated["description"] for line in lines)
    assert checked, "some panel draws an alert"


@spec_files
def test_firing_alerts_of_the_service_are_annotations(path: Path) -> None:
    for spec, _dashboard, board in boards(path):
        firing = [a for a in board["annotations"]["list"] if "expr" in a]
        (annotation,) = firing
        (use,) = inspect(annotation["expr"]).selectors
        assert use.name == "ALERTS"
        assert set(use.labels) == {("alertstate", "=", "firing"), ("service", "=", spec.service)}
        assert annotation["datasource"] == DATASOURCE and annotation["enable"] is True


@spec_files
def test_ids_grid_and_rows_follow_the_spec(path: Path) -> None:
    for _spec, dashboard, board in boards(path):
        rows = [p for p in board["panels"] if p["type"] == "row"]
        assert [r["title"] for r in rows] == [r.title for r in dashboard.rows]
        assert [r["id"] for r in rows] == list(row_ids(dashboard))
        assert [r["collapsed"] for r in rows] == [r.collapsed for r in dashboard.rows]
        every = [*rows, *panels(board)]
        ids = [p["id"] for p in every]
        assert sorted(ids) == list(range(1, len(ids) + 1))
        for panel in every:
            grid = panel["gridPos"]
            assert grid["x"] >= 0 and grid["w"] >= 1 and grid["x"] + grid["w"] <= 24
        tops = [p["gridPos"]["y"] for p in board["panels"]]
        assert tops == sorted(tops), "reading order"


@spec_files
def test_panels_have_titles_descriptions_and_known_units(path: Path) -> None:
    for spec, dashboard, board in boards(path):
        assert " ".join(spec.source.split()) in board["description"]
        assert "DO NOT EDIT" in board["description"]
        by_id = {p["id"]: p for p in panels(board)}
        for panel_id, panel in numbered_panels(dashboard):
            generated = by_id[panel_id]
            assert generated["title"] and generated["description"]
            if panel.description:
                assert generated["description"].startswith(panel.description)
            unit = generated["fieldConfig"]["defaults"].get("unit")
            if panel.unit:
                assert unit == panel.unit and is_known_unit(unit)
        for panel in panels(board):
            if panel["type"] == "timeseries":
                legend = panel["options"]["legend"]
                assert legend["displayMode"] == "table" and legend["calcs"]
                assert all(t["legendFormat"] for t in panel["targets"])


@spec_files
def test_alert_dashboard_links_open_the_panel_that_draws_the_alert(path: Path) -> None:
    spec = spec_of(path)
    files = {a.path: a.content for a in render_all(spec)}
    rules = yaml.safe_load(files["prometheus/rules.yml"])
    boards = dashboards_of(path)
    linked = 0
    for group in rules["groups"]:
        for rule in group["rules"]:
            url = rule.get("annotations", {}).get("dashboard")
            if "alert" not in rule or url is None:
                continue
            match = re.search(r"/d/([^/?]+)\?viewPanel=(\d+)$", url)
            assert match, url
            panel = next(p for p in panels(boards[match[1]]) if p["id"] == int(match[2]))
            assert rule["alert"] in panel["description"], (rule["alert"], panel["title"])
            linked += 1
    assert linked or spec.grafana.url is None, "links need grafana.url"


def _files_of_text(tmp_path: Path, name: str, text: str) -> dict[str, bytes]:
    """Every generated file of a spec written out as `text`, by its path."""
    source = tmp_path / f"{name}.yaml"
    source.write_text(text, encoding="utf-8")
    return {a.path: a.content for a in render_all(spec_of(source))}


def test_alerts_sharing_a_name_draw_a_threshold_for_each_severity(tmp_path: Path) -> None:
    files = _files_of_text(
        tmp_path,
        "tiers",
        "version: 1\nservice: tiers\ngrafana: {url: https://grafana.example.com}\n"
        "metrics:\n  - name: tiers_latency_seconds\n    type: histogram\n    help: Latency.\n"
        "    buckets: [0.1, 0.5, 1, 5]\n"
        "alerts:\n"
        "  - name: SlowRequests\n    severity: warning\n    summary: Slow.\n"
        "    condition: {metric: tiers_latency_seconds, quantile: 0.99, above: 0.5}\n"
        "  - name: SlowRequests\n    severity: critical\n    summary: Very slow.\n"
        "    condition: {metric: tiers_latency_seconds, quantile: 0.99, above: 1}\n"
        "dashboards:\n  - uid: tiers\n    title: Tiers\n    rows:\n      - title: Latency\n"
        "        panels:\n          - title: P99\n            description: The 99th percentile.\n"
        "            unit: s\n"
        "            queries: [{metric: tiers_latency_seconds, quantile: 0.99}]\n",
    )
    board = json.loads(files[f"{DASHBOARDS_DIR}/tiers.json"])
    (panel,) = panels(board)
    steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert [(s["value"], s["color"]) for s in steps] == [
        (None, "green"),
        (0.5, SEVERITY_COLORS[Severity.WARNING]),
        (1.0, SEVERITY_COLORS[Severity.CRITICAL]),
    ]
    assert "SlowRequests (warning)" in panel["description"]
    assert "SlowRequests (critical)" in panel["description"]
    rules = yaml.safe_load(files["prometheus/rules.yml"])
    links = [
        r["annotations"]["dashboard"] for g in rules["groups"] for r in g["rules"] if "alert" in r
    ]
    assert links == [f"https://grafana.example.com/d/tiers?viewPanel={panel['id']}"] * 2


def test_a_heatmap_of_a_histogram_records_and_describes_its_buckets_not_a_quantile(
    tmp_path: Path,
) -> None:
    files = _files_of_text(
        tmp_path,
        "heat",
        "version: 1\nservice: heat\n"
        "metrics:\n  - {name: heat_wait_seconds, type: histogram, help: Wait., buckets: [1, 10]}\n"
        "dashboards:\n  - uid: heat\n    title: Heat\n    rows:\n      - title: R\n"
        "        panels:\n          - {title: Wait, type: heatmap, unit: s, "
        "queries: [{metric: heat_wait_seconds}]}\n",
    )
    rules = yaml.safe_load(files["prometheus/rules.yml"])
    recorded = [r["expr"] for g in rules["groups"] for r in g["rules"]]
    assert recorded and not any("histogram_quantile" in expr for expr in recorded)
    assert any("heat_wait_seconds_bucket" in expr for expr in recorded)
    (panel,) = panels(json.loads(files[f"{DASHBOARDS_DIR}/heat.json"]))
    assert panel["description"].startswith("distribution of heat_wait_seconds: Wait.")


def test_an_alert_in_another_scale_is_drawn_in_the_panels(tmp_path: Path) -> None:
    """An error share alerted on in percent (`scale: 100, above: 2`) is drawn at 0.02 on
    a panel of the share, and at 2 on a panel in percent."""
    ratio = "metric: share_requests_total, function: ratio, where: {code: '500'}"
    files = _files_of_text(
        tmp_path,
        "share",
        "version: 1\nservice: share\n"
        "metrics:\n  - {name: share_requests_total, type: counter, help: Requests., "
        "labels: [{name: code, values: ['200', '500']}]}\n"
        "alerts:\n  - name: Errors\n    severity: critical\n    summary: Errors.\n"
        f"    condition: {{{ratio}, scale: 100, above: 2}}\n"
        "dashboards:\n  - uid: share\n    title: Share\n    rows:\n      - title: R\n"
        "        panels:\n"
        f"          - {{title: Share, unit: percentunit, queries: [{{{ratio}}}]}}\n"
        f"          - {{title: Percent, unit: percent, queries: [{{{ratio}, scale: 100}}]}}\n",
    )
    board = json.loads(files[f"{DASHBOARDS_DIR}/share.json"])
    drawn = {
        p["title"]: [s["value"] for s in p["fieldConfig"]["defaults"]["thresholds"]["steps"]]
        for p in panels(board)
    }
    assert drawn == {"Share": [None, 0.02], "Percent": [None, 2]}
