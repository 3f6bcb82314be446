"""The drift diff `monitorgen check` prints: a unified diff that turns the file on disk
into the generated one, found quickly however many places of a long file changed."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitorgen.line_diff import unified_diff


def _patched(old: list[str], diff: str) -> list[str]:
    """`old` with the unified diff applied; every context and removed line must match."""
    if not diff:
        return old
    lines: list[str] = []
    for line in diff.splitlines(keepends=True):
        if line == NO_NEWLINE:  # the line before it ends without a line break
            lines[-1] = lines[-1].removesuffix("\n")
        else:
            lines.append(line)
    assert lines[:2] == ["--- a/f (on disk)\n", "+++ b/f (from spec)\n"]
    result: list[str] = []
    position = 0
    for line in lines[2:]:
        header = re.fullmatch(r"@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@\n", line)
        if header:
            start, length = int(header[1]), int(header[2] or 1)
            first = start - 1 if length else start  # an empty range names the line before
            result += old[position:first]
            position = first
        elif line[0] == "+":
            result.append(line[1:])
        else:
            assert line[0] in " -" and old[position] == line[1:], line
            if line[0] == " ":
                result.append(line[1:])
            position += 1
    return result + old[position:]


NO_NEWLINE = "\\ No newline at end of file\n"


def _diff(before: list[str], after: list[str]) -> str:
    return unified_diff("f", "".join(before).encode(), "".join(after).encode())


def _changed(diff: str) -> list[str]:
    return [line for line in diff.splitlines(keepends=True)[2:] if line[0] in "+-"]


def _longest_common(before: list[str], after: list[str]) -> int:
    """The length of the longest common subsequence, by the textbook table."""
    table = [[0] * (len(after) + 1) for _ in range(len(before) + 1)]
    for i, line in enumerate(before):
        for j, other in enumerate(after):
            table[i + 1][j + 1] = (
                table[i][j] + 1 if line == other else max(table[i][j + 1], table[i + 1][j])
            )
    return table[-1][-1]


@settings(max_examples=200, deadline=None)
@given(
    before=st.lists(st.integers(0, 40), unique=True, max_size=40),
    after=st.lists(st.integers(0, 60), unique=True, max_size=40),
)
def test_without_repeated_lines_the_diff_changes_the_fewest_lines(
    before: list[int], after: list[int]
) -> None:
    old = [f"line {n}\n" for n in before]
    new = [f"line {n}\n" for n in after]
    diff = _diff(old, new)
    assert _patched(old, diff) == new
    assert len(_changed(diff)) == len(old) + len(new) - 2 * _longest_common(old, new)


@settings(max_examples=200, deadline=None)
@given(
    before=st.lists(st.sampled_from(["a\n", "b\n", "c\n", "  - x\n"]), max_size=30),
    edits=st.lists(
        st.tuples(st.integers(0, 30), st.sampled_from(["a\n", "d\n", None])), max_size=5
    ),
)
def test_the_diff_of_repetitive_text_turns_the_old_file_into_the_new(
    before: list[str], edits: list[tuple[int, str | None]]
) -> None:
    after = list(before)
    for index, line in edits:
        if line is None:
            del after[index : index + 1]
        else:
            after.insert(index, line)
    diff = _diff(before, after)
    assert _patched(before, diff) == after
    assert (diff == "") == (before == after)


def _rule(n: int, threshold: int, summary: str = "fires") -> list[str]:
    return [
        f"  - alert: Alert{n}\n",
        f"    expr: rate(x[5m]) > {threshold}\n",
        "    for: 5m\n",
        "    labels:\n",
        "      severity: warning\n",
        "    annotations:\n",
        f"      summary: Alert {n} {summary}\n",
    ]


@settings(max_examples=100, deadline=None)
@given(
    thresholds=st.lists(st.integers(0, 3), min_size=1, max_size=12),
    edits=st.lists(
        st.tuples(st.integers(0, 11), st.sampled_from(["threshold", "summary", "drop", "move"])),
        max_size=6,
    ),
)
def test_the_diff_of_edited_rules_turns_the_old_file_into_the_new(
    thresholds: list[int], edits: list[tuple[int, str]]
) -> None:
    """Rules as the rule files have them: unique names among repeated lines."""
    rules = [_rule(n, t) for n, t in enumerate(thresholds)]
    edited = [list(rule) for rule in rules]
    for index, edit in edits:
        index %= len(edited)
        if edit == "threshold":
            edited[index][1] = "    expr: rate(x[5m]) > 9\n"
        elif edit == "summary":
            edited[index][-1] = edited[index][-1].replace("fires", "fired")
        elif edit == "drop" and len(edited) > 1:
            del edited[index]
        else:
            edited.append(edited.pop(index))
    before = [line for rule in rules for line in rule]
    after = [line for rule in edited for line in rule]
    diff = _diff(before, after)
    assert _patched(before, diff) == after
    assert (diff == "") == (before == after)


def test_an_edit_deep_in_a_large_file_shows_only_that_line_in_context() -> None:
    """A rules file of thousands of alerts, one threshold changed near its end."""
    rules = [
        line
        for n in range(6000)
        for line in (
            f"  - alert: Alert{n}\n",
            f"    expr: rate(x[5m]) > {n % 7}\n",
            "    for: 5m\n",
        )
    ]
    edited = list(rules)
    edited[-5] = "    expr: rate(x[5m]) > 9\n"
    diff = _diff(rules, edited)
    assert _changed(diff) == [f"-{rules[-5]}", f"+{edited[-5]}"]
    assert f"@@ -{len(rules) - 7},7 +{len(rules) - 7},7 @@\n" in diff
    assert _patched(rules, diff) == edited


def test_an_edit_in_every_alert_of_a_large_file_shows_each_changed_line_once() -> None:
    """A summary changed in each of 5,000 alerts and a threshold in every seventh: the
    diff removes and adds exactly those lines, each where its alert is."""
    count = 5000
    rules = [_rule(n, n % 4) for n in range(count)]
    edited = [_rule(n, 9 if n % 7 == 0 else n % 4, "fired") for n in range(count)]
    pairs = [
        pair for old, new in zip(rules, edited, strict=True) for pair in zip(old, new, strict=True)
    ]
    before = [line for rule in rules for line in rule]
    after = [line for rule in edited for line in rule]
    diff = _diff(before, after)
    removed = [line[1:] for line in _changed(diff) if line[0] == "-"]
    added = [line[1:] for line in _changed(diff) if line[0] == "+"]
    assert removed == [old for old, new in pairs if old != new]
    assert added == [new for old, new in pairs if old != new]
    assert len(added) == count + len(range(0, count, 7))
    assert _patched(before, diff) == after


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (["a\n", "b\n", "c"], ["a\n", "b\n", "c\n"]),
        (["a\n", "b\n", "c\n"], ["a\n", "b\n", "c"]),
        (["a\n", "b"], ["a\n", "b\n", "d\n"]),
        (["x\n", "y"], ["x\n", "z"]),
        (["a\x0c", "b"], ["a\x0c", "c\n"]),
    ],
    ids=["disk-lacks-it", "spec-lacks-it", "then-more", "both-lack-it", "form-feed-break"],
)
def test_a_last_line_without_a_line_break_is_marked_and_the_diff_still_applies(
    before: list[str], after: list[str]
) -> None:
    """`diff -u` marks such a line; without the mark it ran into the next line."""
    diff = _diff(before, after)
    assert NO_NEWLINE in diff
    assert all(line.splitlines()[0] != line for line in diff.splitlines(keepends=True))
    assert _patched(before, diff) == after
