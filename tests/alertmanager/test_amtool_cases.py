"""Which amtool runs `monitorgen check` makes: once per distinct routing situation, only
the spec's `routing.tests` by default and every alert's situation when asked, a few at
once with findings in a fixed order."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from monitorgen import routing, tools
from monitorgen.model import Spec
from monitorgen.pipeline import AmtoolRoutes, ExtraChecks, build, compile_spec
from monitorgen.tools import ToolRun
from tests.harness import require_binary

ROOT = Path(__file__).resolve().parents[2]
FLAGSHIP = ROOT / "specs" / "llm.yaml"
#: Its alerts reach a routing situation none of its five `routing.tests` covers.
HTTP_API = ROOT / "tests" / "specs" / "http_api.yaml"


def _spec(path: Path = FLAGSHIP) -> Spec:
    (compiled, *_) = compile_spec(path)
    assert compiled.spec is not None and compiled.spec.routing is not None
    return compiled.spec


def _situations(spec: Spec, cases: Sequence[routing.RoutingCase]) -> set[Any]:
    assert spec.routing is not None
    names = routing.routed_labels(spec.routing)
    return {
        (
            routing.routing_key(c.labels, names),
            c.expected or routing.receivers(spec.routing, dict(c.labels)),
        )
        for c in cases
    }


class FakeAmtool:
    """Stands in for the amtool processes (the `tools.run` seam): records each command,
    accepts the config, and answers a routes test with `answer` (by default the
    receivers the command expects). Runs end in random order."""

    def __init__(self, answer: str | None = None, config_ok: bool = True) -> None:
        self.commands: list[tuple[str, ...]] = []
        self.answer = answer
        self.config_ok = config_ok
        self.lock = threading.Lock()
        self.delays = random.Random(8)

    def __call__(self, command: Sequence[str]) -> ToolRun:
        with self.lock:
            self.commands.append(tuple(command))
            delay = self.delays.uniform(0, 0.01)
        time.sleep(delay)
        if command[1] == "check-config":
            return ToolRun(tuple(command), 0 if self.config_ok else 1, "", "refused: test")
        [expected] = [a.split("=", 1)[1] for a in command if a.startswith("--verify.receivers=")]
        return ToolRun(tuple(command), 0, f"{self.answer or expected}\n", "")

    def route_tests(self) -> list[tuple[str, ...]]:
        return [c for c in self.commands if c[1:4] == ("config", "routes", "test")]

    def labels_tested(self) -> set[frozenset[str]]:
        return {frozenset(a for a in c[6:]) for c in self.route_tests()}


@pytest.fixture
def fake_amtool(monkeypatch: pytest.MonkeyPatch) -> FakeAmtool:
    fake = FakeAmtool()
    monkeypatch.setattr(tools, "find_amtool", lambda: "amtool")
    monkeypatch.setattr(tools, "run", fake)
    return fake


def _labels(labels: Sequence[tuple[str, str]]) -> frozenset[str]:
    return frozenset(tools.label_argument(name, value) for name, value in labels)


def test_by_default_only_the_routing_tests_are_confirmed(fake_amtool: FakeAmtool) -> None:
    spec = _spec(HTTP_API)
    assert spec.routing is not None and spec.routing.tests
    assert tools.alertmanager_findings(spec) == []
    assert [c[1] for c in fake_amtool.commands].count("check-config") == 1
    assert fake_amtool.labels_tested() == {_labels(t.labels) for t in spec.routing.tests}
    assert len(fake_amtool.route_tests()) == len(spec.routing.tests)


def test_all_confirms_every_distinct_routing_situation(fake_amtool: FakeAmtool) -> None:
    spec = _spec(HTTP_API)
    assert spec.routing is not None
    cases = routing.routing_cases(spec)
    assert tools.alertmanager_findings(spec, "all") == []
    situations = _situations(spec, cases)
    assert len(fake_amtool.route_tests()) == len(situations) < len(cases)
    assert len(situations) > len(_situations(spec, tools.cases_to_confirm(spec, "tests")))
    assert fake_amtool.labels_tested() <= {_labels(c.labels) for c in cases}
    alerts_only = {_labels(c.labels) for c in cases if c.expected is None}
    assert fake_amtool.labels_tested() & alerts_only


def test_none_only_checks_the_config(fake_amtool: FakeAmtool) -> None:
    assert tools.alertmanager_findings(_spec(), "none") == []
    assert [c[1] for c in fake_amtool.commands] == ["check-config"]


@pytest.mark.parametrize("routes", ["tests", "all"])
def test_findings_follow_the_cases_whatever_order_the_runs_end_in(
    fake_amtool: FakeAmtool, routes: AmtoolRoutes
) -> None:
    fake_amtool.answer = "elsewhere"
    spec = _spec(HTTP_API)
    expected = [c.title for c in tools.cases_to_confirm(spec, routes)]
    for _ in range(3):
        found = tools.alertmanager_findings(spec, routes)
        assert {d.code for d in found} == {"routing/amtool-disagrees"}
        assert [d.message.split(":")[0] for d in found] == expected
        assert all("sends" in d.message and "to elsewhere" in d.message for d in found)


def test_a_refused_config_is_the_only_finding(fake_amtool: FakeAmtool) -> None:
    fake_amtool.config_ok = False
    fake_amtool.answer = "elsewhere"
    [finding] = tools.alertmanager_findings(_spec(), "all")
    assert finding.code == "tools/amtool-check-config"
    assert "refused: test" in finding.message


def test_an_amtool_finding_keeps_the_build_from_rendering(fake_amtool: FakeAmtool) -> None:
    """amtool runs while the files render; what it finds still fails the whole build."""
    fake_amtool.config_ok = False
    result = build([FLAGSHIP], extra=ExtraChecks(tools=True))
    assert result.failed() and result.tree == {}
    assert "tools/amtool-check-config" in {d.code for d in result.diagnostics}
    [direct, *_] = compile_spec(FLAGSHIP, ExtraChecks(tools=True))
    assert direct.diagnostics == result.compiled[0].diagnostics


def test_the_temporary_config_is_removed(
    fake_amtool: FakeAmtool, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(tools.tempfile, "tempdir", str(tmp_path))
    tools.alertmanager_findings(_spec(), "all")
    assert list(tmp_path.iterdir()) == []
    runs = tools.start_amtool(_spec(), "all")
    assert runs is not None
    assert list(tmp_path.iterdir())
    runs.discard()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.tools
def test_cases_that_route_alike_share_one_amtool_run(monkeypatch: pytest.MonkeyPatch) -> None:
    require_binary("amtool")
    spec = _spec()
    assert spec.routing is not None
    calls: list[tuple[tuple[str, str], ...]] = []
    real = tools.amtool_routes
    lock = threading.Lock()

    def counting(amtool: str, config: Path, labels: Any, expected: Any) -> Any:
        with lock:
            calls.append(tuple(labels))
        return real(amtool, config, labels, expected)

    monkeypatch.setattr(tools, "amtool_routes", counting)
    assert tools.alertmanager_findings(spec, "all") == []
    cases = routing.routing_cases(spec)
    assert routing.routed_labels(spec.routing) == ("severity",)
    assert len(calls) == len(_situations(spec, cases)) < len(cases)


def test_routing_key_sees_only_labels_routes_read() -> None:
    labels = (("alertname", "A"), ("severity", "warning"), ("team", "x"))
    assert routing.routing_key(labels, ("severity", "zone")) == (
        ("severity", "warning"),
        ("zone", None),
    )


def test_a_failed_build_stops_amtool_without_waiting_for_the_queued_runs(
    fake_amtool: FakeAmtool, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The runs under way answer only once the build has given up: the queued ones
    must then be dropped, not started."""
    started, given_up = threading.Event(), threading.Event()
    answer = FakeAmtool.__call__
    discard = tools.AmtoolRuns.discard

    def answer_once_given_up(self: FakeAmtool, command: Sequence[str]) -> ToolRun:
        started.set()
        assert given_up.wait(10)
        return answer(self, command)

    def giving_up(self: tools.AmtoolRuns) -> None:
        threading.Timer(0.1, given_up.set).start()
        discard(self)

    def broken_render(*_args: Any, **_kwargs: Any) -> Any:
        assert started.wait(10)
        raise RuntimeError("a target failed")

    monkeypatch.setattr(FakeAmtool, "__call__", answer_once_given_up)
    monkeypatch.setattr(tools.AmtoolRuns, "discard", giving_up)
    monkeypatch.setattr("monitorgen.pipeline.render_all", broken_render)
    monkeypatch.setattr(tools.tempfile, "tempdir", str(tmp_path))
    spec = _spec(HTTP_API)
    situations = len(tools.RoutePlan.of(spec, routing.routing_cases(spec)).examples)
    assert situations + 1 > tools.WORKERS  # some runs wait in the queue
    with pytest.raises(RuntimeError, match="a target failed"):
        build([HTTP_API], extra=ExtraChecks(tools=True, amtool_routes="all"))
    assert given_up.is_set()
    assert len(fake_amtool.commands) == tools.WORKERS  # the queued ones never started
    assert list(tmp_path.iterdir()) == []
