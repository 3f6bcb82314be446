"""The real amtool accepts the generated configs and routes exactly as monitorgen does."""

from __future__ import annotations

import itertools
import json
import subprocess
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from monitorgen import routing, tools
from monitorgen.cli import main
from monitorgen.model import (
    GrafanaSettings,
    PrometheusSettings,
    Receiver,
    Route,
    RouteMatcher,
    Routing,
    Spec,
)
from monitorgen.pipeline import ExtraChecks
from monitorgen.targets import alertmanager
from tests.alertmanager.helpers import (
    SPEC_FILES,
    base_document,
    codes,
    compile_one,
    spec_models,
    write_spec,
)
from tests.harness import require_binary

pytestmark = pytest.mark.tools


@pytest.fixture(scope="module")
def amtool() -> str:
    return require_binary("amtool")


@pytest.fixture(scope="module")
def specs() -> list[Spec]:
    return spec_models()


def _ask_amtool(
    amtool: str, config_file: Path, label_sets: Sequence[dict[str, str]]
) -> list[tuple[str, ...]]:
    def ask(labels: dict[str, str]) -> tuple[str, ...]:
        result, answer = tools.amtool_routes(amtool, config_file, sorted(labels.items()), ())
        assert answer, result.output
        return answer

    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(ask, label_sets))


def test_amtool_check_config_accepts_every_spec(amtool: str, specs: list[Spec]) -> None:
    assert {spec.name for spec in specs} >= {p.stem for p in SPEC_FILES}
    for spec in specs:
        with tools.written(alertmanager.render(spec), alertmanager.CONFIG_PATH) as config:
            result = tools.amtool_check_config(amtool, config)
            assert result.ok, result.output
            assert "1 templates" in result.output
            if spec.routing and spec.routing.inhibit_rules:
                assert f"{len(alertmanager.inhibit_rules(spec))} inhibit rules" in result.output


def test_every_alert_routes_as_amtool_says(amtool: str, specs: list[Spec]) -> None:
    for spec in specs:
        assert spec.routing is not None
        cases = routing.routing_cases(spec)
        assert len(cases) >= len(spec.alerts)
        label_sets = [dict(case.labels) for case in cases]
        with tools.written(alertmanager.render(spec), alertmanager.CONFIG_PATH) as config:
            answers = _ask_amtool(amtool, config, label_sets)
        for case, labels, answer in zip(cases, label_sets, answers, strict=True):
            ours = routing.receivers(spec.routing, labels)
            assert ours == answer, (spec.name, case.title)
            if case.expected is not None:
                assert answer == case.expected, (spec.name, case.title)


def _matcher_values(route: Route) -> Iterator[tuple[str, str]]:
    for node in routing.walk(route):
        for matcher in node.matchers:
            yield matcher.label, matcher.value


def test_every_combination_of_routed_label_values(amtool: str, specs: list[Spec]) -> None:
    """Beyond the spec's alerts: each label the routes look at, set to every value they
    name, to something else, or left out."""
    for spec in specs:
        assert spec.routing is not None
        values: dict[str, set[str]] = {}
        for label, value in _matcher_values(spec.routing.root):
            values.setdefault(label, set()).update(value.split("|"))
        names = sorted(values)
        choices = [[*sorted(values[n]), "other", None] for n in names]
        label_sets = [
            {n: v for n, v in zip(names, combo, strict=True) if v is not None}
            for combo in itertools.product(*choices)
        ]
        with tools.written(alertmanager.render(spec), alertmanager.CONFIG_PATH) as config:
            answers = _ask_amtool(amtool, config, label_sets)
        for labels, answer in zip(label_sets, answers, strict=True):
            assert routing.receivers(spec.routing, labels) == answer, (spec.name, labels)


def test_the_routes_only_copy_routes_as_the_whole_config(amtool: str, specs: list[Spec]) -> None:
    """`check` asks the route tests on the copy: every alert's labels, and every
    combination of routed values, get the same receivers from it as from the config."""
    for spec in specs:
        assert spec.routing is not None
        label_sets = [dict(case.labels) for case in routing.routing_cases(spec)]
        label_sets += [{}, {"severity": "critical"}, {"severity": "info", "team": "other"}]
        artifacts = [*alertmanager.render(spec), tools.routes_only_artifact(spec)]
        with tools.written(artifacts) as root:
            copy = root / tools.ROUTES_ONLY_PATH
            assert tools.amtool_check_config(amtool, copy).ok
            whole = _ask_amtool(amtool, root / alertmanager.CONFIG_PATH, label_sets)
            assert _ask_amtool(amtool, copy, label_sets) == whole, spec.name


def test_the_routes_only_copy_keeps_the_route_tree_and_the_receiver_names(
    specs: list[Spec],
) -> None:
    for spec in specs:
        config = alertmanager.config(spec)
        copy = yaml.safe_load(tools.routes_only_artifact(spec).content)
        assert copy["route"] == config["route"]
        assert copy["receivers"] == [{"name": r["name"]} for r in config["receivers"]]
        assert copy.get("time_intervals") == config.get("time_intervals")
        assert "inhibit_rules" in config and "inhibit_rules" not in copy
        assert "templates" not in copy


# --- random route trees ------------------------------------------------------------------

LABEL_NAMES = ("a", "b")
VALUES = ("x", "y")
RECEIVERS = ("r1", "r2", "r3")

matchers = st.builds(
    RouteMatcher,
    st.sampled_from(LABEL_NAMES),
    st.sampled_from(("=", "!=", "=~", "!~")),
    st.sampled_from(("x", "y", "", "x|y", "x.*", ".+", ".*", "xy")),
)


def _routes(depth: int) -> st.SearchStrategy[Route]:
    children = st.just(()) if depth == 0 else st.lists(_routes(depth - 1), max_size=3)
    return st.builds(
        Route,
        receiver=st.none() | st.sampled_from(RECEIVERS),
        matchers=st.lists(matchers, max_size=2).map(tuple),
        continue_=st.booleans(),
        routes=children.map(tuple),
    )


def _spec_with(routes: tuple[Route, ...]) -> Spec:
    root = Route(receiver="root", group_by=("alertname",), routes=routes)
    return Spec(
        name="random",
        service="random",
        source="random",
        title="random",
        description="",
        prometheus=PrometheusSettings(job="random", targets=("localhost:1",)),
        grafana=GrafanaSettings(),
        receivers=tuple(Receiver(name) for name in ("root", *RECEIVERS)),
        routing=Routing(root),
    )


ALL_LABEL_SETS = [
    {n: v for n, v in zip(LABEL_NAMES, combo, strict=True) if v is not None}
    for combo in itertools.product([*VALUES, None], repeat=len(LABEL_NAMES))
]


@settings(
    max_examples=8,
    deadline=None,
    derandomize=True,
    # every example runs amtool; a failure reports the first falsifying tree unshrunk
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(routes=st.lists(_routes(2), min_size=1, max_size=3).map(tuple))
def test_random_route_trees_match_amtool(amtool: str, routes: tuple[Route, ...]) -> None:
    spec = _spec_with(routes)
    assert spec.routing is not None
    with tools.written(alertmanager.render(spec), alertmanager.CONFIG_PATH) as config:
        answers = _ask_amtool(amtool, config, ALL_LABEL_SETS)
    for labels, answer in zip(ALL_LABEL_SETS, answers, strict=True):
        assert routing.receivers(spec.routing, labels) == answer, labels


# --- monitorgen check runs amtool ---------------------------------------------------------


def test_check_reports_nothing_for_the_specs(amtool: str) -> None:
    from monitorgen.pipeline import compile_spec

    for path in SPEC_FILES:
        for compiled in compile_spec(path, ExtraChecks(tools=True, amtool_routes="all")):
            assert [
                d.code for d in compiled.diagnostics if d.code.startswith(("tools/", "routing/"))
            ] == []


def test_check_reports_a_disagreement_with_amtool(
    amtool: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Should monitorgen's evaluation ever differ from amtool's, the check says so."""
    real = routing.receivers

    def off_by_one(tree: Routing, labels: routing.Labels) -> tuple[str, ...]:
        answer = real(tree, labels)
        return ("chat",) if labels.get("alertname") == "ShopDown" else answer

    monkeypatch.setattr(routing, "receivers", off_by_one)
    thorough = ExtraChecks(tools=True, amtool_routes="all")
    compiled = compile_one(tmp_path, base_document(), thorough)
    [finding] = [d for d in compiled.diagnostics if d.code == "routing/amtool-disagrees"]
    assert finding.field_path == "alerts[0]"
    assert "to oncall, monitorgen's evaluation to chat" in finding.message
    by_default = compile_one(tmp_path, base_document(), ExtraChecks(tools=True))
    assert codes(by_default.diagnostics, "routing/") == []  # the spec has no routing tests


def test_check_reports_a_disagreement_on_a_routing_test_by_default(
    amtool: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = routing.receivers

    def off_by_one(tree: Routing, labels: routing.Labels) -> tuple[str, ...]:
        answer = real(tree, labels)
        return ("chat",) if labels.get("alertname") == "Checkout" else answer

    monkeypatch.setattr(routing, "receivers", off_by_one)
    document = base_document()
    document["routing"]["tests"] = [
        {"labels": {"alertname": "Checkout", "severity": "critical"}, "receivers": ["chat"]}
    ]
    compiled = compile_one(tmp_path, document, ExtraChecks(tools=True))
    [finding] = [d for d in compiled.diagnostics if d.code.startswith(("routing/", "tools/"))]
    assert finding.code == "routing/amtool-disagrees"
    assert finding.field_path == "routing.tests[0]"
    assert "routing test 1" in finding.message
    assert "to oncall, monitorgen's evaluation to chat" in finding.message


def test_check_reports_a_config_amtool_refuses(
    amtool: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = alertmanager.config

    def with_unknown_receiver(spec: Spec) -> dict[str, object]:
        data = real(spec)
        data["route"] = {**data["route"], "receiver": "nobody"}
        return data

    monkeypatch.setattr(alertmanager, "config", with_unknown_receiver)
    compiled = compile_one(tmp_path, base_document(), ExtraChecks(tools=True))
    [finding] = [d for d in compiled.diagnostics if d.code.startswith("tools/")]
    assert finding.code == "tools/amtool-check-config"
    assert "nobody" in finding.message


def test_tools_are_skipped_without_amtool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("monitorgen.tools.shutil.which", lambda name: None)
    spec = compile_one(tmp_path, base_document()).spec
    assert spec is not None
    assert tools.alertmanager_findings(spec) == []


# --- notification texts ------------------------------------------------------------------

TEMPLATE_DATA = {
    "receiver": "oncall",
    "status": "firing",
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "HighCost", "severity": "critical", "service": "llm"},
            "annotations": {
                "summary": "High LLM cost detected",
                "description": "LLM calls cost $12 over the last hour.",
                "runbook_url": "https://runbooks.example.com/llm/highcost",
            },
            "startsAt": "2025-01-01T00:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus.example.com/graph",
            "fingerprint": "1",
        },
        {
            "status": "resolved",
            "labels": {"alertname": "HighCost", "severity": "critical", "service": "llm"},
            "annotations": {"summary": "Earlier spike"},
            "startsAt": "2025-01-01T00:00:00Z",
            "endsAt": "2025-01-01T01:00:00Z",
            "generatorURL": "",
            "fingerprint": "2",
        },
    ],
    "groupLabels": {"alertname": "HighCost"},
    "commonLabels": {"alertname": "HighCost", "severity": "critical", "service": "llm"},
    "commonAnnotations": {},
    "externalURL": "http://alertmanager.example.com",
}


def _render(amtool: str, folder: Path, text: str, kind: str = "text") -> str:
    data = folder / "data.json"
    data.write_text(json.dumps(TEMPLATE_DATA))
    done = subprocess.run(
        [
            amtool,
            "template",
            "render",
            f"--template.glob={folder / 'templates' / '*.tmpl'}",
            f"--template.text={text}",
            f"--template.type={kind}",
            f"--template.data={data}",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_default_texts_render_summary_description_runbook_and_grouping(
    amtool: str, specs: list[Spec]
) -> None:
    spec = specs[0]
    with tools.written(alertmanager.render(spec), "alertmanager") as folder:
        title = _render(amtool, folder, alertmanager.TITLE)
        assert title == "[FIRING:1] HighCost (critical) on llm"
        for text in (alertmanager.TEXT, alertmanager.SLACK_TEXT):
            body = _render(amtool, folder, text)
            firing, resolved = body.split("Resolved")
            assert "High LLM cost detected" in firing
            assert "LLM calls cost $12 over the last hour." in firing
            assert "https://runbooks.example.com/llm/highcost" in firing
            assert "Earlier spike" in resolved and "Earlier spike" not in firing
        html = _render(amtool, folder, alertmanager.EMAIL_HTML, "html")
        assert '<a href="https://runbooks.example.com/llm/highcost">Runbook</a>' in html
        assert html.count("<h3>") == 2
        assert _render(amtool, folder, alertmanager.PAGERDUTY_SEVERITY) == "critical"
        assert _render(amtool, folder, alertmanager.OPSGENIE_PRIORITY) == "P1"


def test_every_template_string_in_the_configs_renders(amtool: str, specs: list[Spec]) -> None:
    for spec in specs:
        config_artifact = alertmanager.render(spec)[0]
        config = yaml.safe_load(config_artifact.content)
        texts = {
            value
            for receiver in config["receivers"]
            for key, entries in receiver.items()
            if key.endswith("_configs")
            for entry in entries
            for value in [*entry.values(), *entry.get("headers", {}).values()]
            if isinstance(value, str) and "{{" in value
        }
        assert texts
        with tools.written(alertmanager.render(spec), "alertmanager") as folder:
            for text in sorted(texts):
                kind = "html" if "email.html" in text else "text"
                assert _render(amtool, folder, text, kind).strip(), text


def test_check_command_fails_when_amtool_disagrees(
    amtool: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = write_spec(tmp_path, base_document())
    output = tmp_path / "out"
    runner = CliRunner()
    assert runner.invoke(main, ["build", str(spec), "-o", str(output)]).exit_code == 0
    clean = runner.invoke(main, ["check", str(spec), "-o", str(output), "--format", "json"])
    assert clean.exit_code == 0, clean.output

    real = routing.receivers
    monkeypatch.setattr(
        routing, "receivers", lambda tree, labels: (*reversed(real(tree, labels)), "x")
    )
    thorough = ["--amtool-routes", "all"]
    broken = runner.invoke(
        main, ["check", str(spec), "-o", str(output), "--format", "json", *thorough]
    )
    assert broken.exit_code == 1
    found = {d["code"] for d in json.loads(broken.output)["diagnostics"]}
    assert found == {"routing/amtool-disagrees"}
