"""Unified diffs of generated files as they are on disk and as the spec makes them.

difflib compares each line with every line like it, and generated files are long and
repetitive: one changed threshold in the rules of 5,000 alerts took difflib 18 s, and a
changed summary in every alert 83 s. The alignment here is made piece by piece, as
patience diff does: lines that occur once in each text and keep their order anchor it,
the lines between two anchors are aligned the same way on their own, and difflib aligns
only what has no anchor left. Each alert's name, or a line naming it, is such an anchor,
so the edits in every alert cost about as much as one.
"""

from __future__ import annotations

import difflib
from bisect import bisect_left
from collections.abc import Iterator, Sequence

CONTEXT_LINES = 3


def unified_diff(path: str, old: bytes, new: bytes) -> str:
    """A unified diff of the two texts, with `CONTEXT_LINES` of context ("" when equal)."""
    before = old.decode(errors="replace").splitlines(keepends=True)
    after = new.decode(errors="replace").splitlines(keepends=True)
    lines: list[str] = []
    for hunk in AnchoredMatcher(before, after).get_grouped_opcodes(CONTEXT_LINES):
        if not lines:
            lines += [f"--- a/{path} (on disk)\n", f"+++ b/{path} (from spec)\n"]
        (_, first_before, _, first_after, _), (*_, last_before, _, last_after) = hunk[0], hunk[-1]
        lines.append(
            f"@@ -{_lines(first_before, last_before)} +{_lines(first_after, last_after)} @@\n"
        )
        for tag, start_before, end_before, start_after, end_after in hunk:
            if tag == "equal":
                lines += [_line(" ", line) for line in before[start_before:end_before]]
                continue
            lines += [_line("-", line) for line in before[start_before:end_before]]
            lines += [_line("+", line) for line in after[start_after:end_after]]
    return "".join(lines)


def _line(mark: str, line: str) -> str:
    """A line of a hunk; a last line without a line break says so, as `diff -u` does,
    or it would run into the next line of the diff."""
    if line.splitlines()[0] != line:  # ends in a break (splitlines knows more than \n)
        return f"{mark}{line}"
    return f"{mark}{line}\n\\ No newline at end of file\n"


def _lines(start: int, end: int) -> str:
    """A hunk's line range as unified diffs write it: first line (1-based) and count."""
    count = end - start
    if count == 1:
        return str(start + 1)
    return f"{start + 1 if count else start},{count}"


Block = tuple[int, int, int]
"""Lines `before[i:i + n]` equal to `after[j:j + n]`, as (i, j, n)."""
Span = tuple[int, int, int, int]
"""A range of each text still to align: before[alo:ahi] against after[blo:bhi]."""


class AnchoredMatcher(difflib.SequenceMatcher[str]):
    """difflib's SequenceMatcher with the matching blocks found from anchors first; its
    opcodes and grouped opcodes follow from them as difflib's do."""

    def __init__(self, before: Sequence[str], after: Sequence[str]) -> None:
        super().__init__(None, (), ())
        # Set here: difflib would index every line of `after` for a search not used.
        self.a, self.b = before, after

    def get_matching_blocks(self) -> list[difflib.Match]:
        found: list[Block] = []
        pending: list[Span] = [(0, len(self.a), 0, len(self.b))]
        while pending:  # a list, not recursion: nested gaps may go deep
            pending += self._align(*pending.pop(), found)
        blocks = [difflib.Match(i, j, n) for i, j, n in _joined(sorted(found))]
        return [*blocks, difflib.Match(len(self.a), len(self.b), 0)]

    def _align(self, alo: int, ahi: int, blo: int, bhi: int, found: list[Block]) -> list[Span]:
        """Add to `found` what is matched in this span; the gaps left to align."""
        before, after = self.a, self.b
        head, tail = _common_ends(before, alo, ahi, after, blo, bhi)
        if head:
            found.append((alo, blo, head))
        if tail:
            found.append((ahi - tail, bhi - tail, tail))
        alo, ahi, blo, bhi = alo + head, ahi - tail, blo + head, bhi - tail
        if alo == ahi or blo == bhi or set(before[alo:ahi]).isdisjoint(after[blo:bhi]):
            return []  # only one side has lines, or the two have none in common
        anchors = _anchors(before, alo, ahi, after, blo, bhi)
        if not anchors:
            middle = difflib.SequenceMatcher(None, before[alo:ahi], after[blo:bhi])
            found += [(alo + i, blo + j, n) for i, j, n in middle.get_matching_blocks() if n]
            return []
        gaps: list[Span] = []
        previous_i, previous_j = alo, blo
        for i, j in anchors:
            found.append((i, j, 1))
            gaps.append((previous_i, i, previous_j, j))
            previous_i, previous_j = i + 1, j + 1
        gaps.append((previous_i, ahi, previous_j, bhi))
        return [gap for gap in gaps if gap[0] < gap[1] or gap[2] < gap[3]]


def _common_ends(
    before: Sequence[str], alo: int, ahi: int, after: Sequence[str], blo: int, bhi: int
) -> tuple[int, int]:
    """How many lines the two ranges share at their start, and then at their end."""
    head = 0
    while alo + head < ahi and blo + head < bhi and before[alo + head] == after[blo + head]:
        head += 1
    tail = 0
    while (
        alo + head < ahi - tail
        and blo + head < bhi - tail
        and before[ahi - 1 - tail] == after[bhi - 1 - tail]
    ):
        tail += 1
    return head, tail


def _anchors(
    before: Sequence[str], alo: int, ahi: int, after: Sequence[str], blo: int, bhi: int
) -> list[tuple[int, int]]:
    """The lines that occur once in each range, the longest run of them in the same
    order in both: (index in `before`, index in `after`), in order."""
    once_before = _once(before, alo, ahi)
    once_after = _once(after, blo, bhi)
    pairs = [(i, once_after[line]) for line, i in once_before.items() if line in once_after]
    pairs.sort()
    return _longest_increasing(pairs)


def _once(lines: Sequence[str], lo: int, hi: int) -> dict[str, int]:
    """Each line occurring exactly once in lines[lo:hi], with its index."""
    seen: dict[str, int] = {}
    repeated: set[str] = set()
    for index in range(lo, hi):
        line = lines[index]
        if line in seen:
            repeated.add(line)
        else:
            seen[line] = index
    for line in repeated:
        del seen[line]
    return seen


def _longest_increasing(pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The longest subsequence of `pairs` (sorted by their first item) whose second
    items increase too, by patience sorting."""
    tops: list[int] = []  # the second item ending the best run of each length
    ends: list[int] = []  # the index in `pairs` of that run's last pair
    back: list[int] = []  # each pair's predecessor in its run, or -1
    for index, (_, j) in enumerate(pairs):
        length = bisect_left(tops, j)
        if length == len(tops):
            tops.append(j)
            ends.append(index)
        else:
            tops[length] = j
            ends[length] = index
        back.append(ends[length - 1] if length else -1)
    run: list[tuple[int, int]] = []
    index = ends[-1] if ends else -1
    while index >= 0:
        run.append(pairs[index])
        index = back[index]
    return run[::-1]


def _joined(blocks: list[Block]) -> Iterator[Block]:
    """Sorted blocks with those that touch joined into one, as difflib gives them."""
    current: Block | None = None
    for i, j, n in blocks:
        if current is not None and current[0] + current[2] == i and current[1] + current[2] == j:
            current = (current[0], current[1], current[2] + n)
            continue
        if current is not None:
            yield current
        current = (i, j, n)
    if current is not None:
        yield current
