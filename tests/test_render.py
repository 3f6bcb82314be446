"""Findings as text: the source excerpt under the message, cut around the column when
the line is long, and the caret under the character the finding is about."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitorgen.diagnostics import Diagnostic, Span
from monitorgen.render import EXCERPT_WIDTH, LONGEST_HINT, excerpt_of, text


@pytest.mark.parametrize("column", [1, 2, 30, EXCERPT_WIDTH, 500, 2999, 3000])
def test_the_caret_points_at_the_column_in_a_cut_line(column: int) -> None:
    line = "".join(chr(ord("a") + i % 26) for i in range(3000))
    shown, caret = excerpt_of(line, column)
    assert shown[caret] == line[column - 1]
    assert len(shown.strip(".")) <= EXCERPT_WIDTH
    assert shown.startswith("...") == (column > EXCERPT_WIDTH // 4 + 1)
    assert shown.endswith("...") == (column < 3000 - EXCERPT_WIDTH * 3 // 4 + 1)


def test_a_short_line_is_shown_whole() -> None:
    assert excerpt_of("  for: 5 minutes", 8) == ("  for: 5 minutes", 7)


def test_a_long_expression_shows_its_neighbourhood_and_a_cut_hint(tmp_path: Path) -> None:
    expr = " + ".join(f"metric_{n}" for n in range(2000))
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"alerts:\n  - expr: {expr}\n", encoding="utf-8")
    column = 11 + expr.index("metric_1500")
    finding = Diagnostic(
        "promql/syntax",
        "does not parse",
        Span(str(spec), 2, column),
        ("alerts", 0, "expr"),
        hint=f"expression: {expr}",
    )
    _, excerpt, caret, hint = text(finding).splitlines()
    assert excerpt[caret.index("^") :].startswith("metric_1500")
    assert len(excerpt) < EXCERPT_WIDTH + 20
    assert hint == f"    hint: expression: {expr}"[: len("    hint: ") + LONGEST_HINT] + "..."


@pytest.mark.parametrize(
    ("line", "target", "before_caret"),
    [
        ('  - {name: "日本語", severity: urgent}', "urgent", '  - {name: "日本語", severity: '),
        ("  title: 🚀 launch, severity: urgent", "urgent", "  title: 🚀 launch, severity: "),
        ('  - {url: "https://a:b@x.example.com/h", max_alertz: 3}', "max_alertz", None),
    ],
    ids=["wide", "emoji", "redacted-before"],
)
def test_the_caret_sits_under_its_character_on_screen(
    tmp_path: Path, line: str, target: str, before_caret: str | None
) -> None:
    """Wide characters take two columns, and a secret redacted before the column
    changes the line's length: the caret still points at the finding."""
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"version: 1\n{line}\n", encoding="utf-8")
    finding = Diagnostic("x/y", "m", Span(str(spec), 2, line.index(target) + 1), ("a",))
    _, excerpt, caret = text(finding).splitlines()
    on_screen = caret.index("^") - len("    ")
    shown = excerpt[len("    ") :]
    prefix = shown[: shown.index(target)]
    if before_caret is not None:
        assert prefix == before_caret
    wide = sum(1 for ch in prefix if ord(ch) > 0x2E80)
    assert on_screen == len(prefix) + wide
