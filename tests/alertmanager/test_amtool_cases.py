"""`monitorgen check` asks amtool once per distinct routing situation, not once per alert."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from monitorgen import routing, tools
from monitorgen.pipeline import compile_spec
from tests.harness import require_binary

FLAGSHIP = Path(__file__).resolve().parents[2] / "specs" / "llm.yaml"


@pytest.mark.tools
def test_cases_that_route_alike_share_one_amtool_run(monkeypatch: pytest.MonkeyPatch) -> None:
    require_binary("amtool")
    (compiled, *_) = compile_spec(FLAGSHIP)
    spec = compiled.spec
    assert spec is not None and spec.routing is not None
    calls: list[tuple[tuple[str, str], ...]] = []
    real = tools.amtool_routes

    def counting(amtool: str, config: Path, labels: Any, expected: Any) -> Any:
        calls.append(tuple(labels))
        return real(amtool, config, labels, expected)

    monkeypatch.setattr(tools, "amtool_routes", counting)
    assert tools.alertmanager_findings(spec) == []
    cases = routing.routing_cases(spec)
    names = routing.routed_labels(spec.routing)
    situations = {
        (
            routing.routing_key(c.labels, names),
            c.expected or routing.receivers(spec.routing, dict(c.labels)),
        )
        for c in cases
    }
    assert names == ("severity",)
    assert len(calls) == len(situations) < len(cases)


def test_routing_key_sees_only_labels_routes_read() -> None:
    labels = (("alertname", "A"), ("severity", "warning"), ("team", "x"))
    assert routing.routing_key(labels, ("severity", "zone")) == (
        ("severity", "warning"),
        ("zone", None),
    )
