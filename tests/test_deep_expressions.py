"""An expression nested deeper than promql_parser survives is a finding, not a crash:
the parser recurses once per level and overflows the stack of the whole process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from monitorgen.promql import MOST_OPERATORS, PromQLError, parse

SPEC = """\
version: 1
service: deep
alerts:
  - name: Deep
    severity: warning
    summary: Deep
    expr: {expr} > 1
"""


def _chain(terms: int) -> str:
    return " + ".join(["up"] * terms)


@pytest.mark.parametrize(
    "expr",
    [_chain(8000), "(" * 12000 + "up" + ")" * 12000, "abs(" * 8000 + "up" + ")" * 8000],
    ids=["operators", "brackets", "calls"],
)
def test_validate_reports_an_expression_too_deep_to_parse(tmp_path: Path, expr: str) -> None:
    spec = tmp_path / "deep.yaml"
    spec.write_text(SPEC.format(expr=expr), encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "monitorgen", "validate", str(spec)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 1, run.stderr[-2000:]
    first = run.stderr.splitlines()[0]
    assert first.startswith(f"{spec}:7:11: alerts[0].expr: PromQL does not parse: ")
    assert f"more than the {MOST_OPERATORS} monitorgen parses" in first
    assert "Traceback" not in run.stderr


def test_an_expression_at_the_limit_parses() -> None:
    parse(_chain(MOST_OPERATORS + 1))  # MOST_OPERATORS additions
    with pytest.raises(PromQLError, match=f"holds {MOST_OPERATORS + 1} operators"):
        parse(_chain(MOST_OPERATORS + 2))


def test_operators_inside_strings_do_not_count() -> None:
    long_value = "+(-" * MOST_OPERATORS
    parse(f"up{{path=\"{long_value}\"}} or up{{path='{long_value}'}} > 1")
    parse(f'label_replace(up, "x", "{long_value}", "job", ".*")')
