"""The only code that touches `generated/`: atomic writes, and drift checks for `check`.

A build writes every spec's files into a staging folder beside the output, then
swaps each spec folder in with renames, so a failed run leaves the output as it was.
"""

from __future__ import annotations

import difflib
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from monitorgen.targets.base import Artifact

Tree = Mapping[str, Sequence[Artifact]]
"""Output folder name (one per spec and environment) -> its files."""


def write_tree(root: Path, tree: Tree, *, prune: bool) -> None:
    """Replace each folder of `tree` under `root`; with `prune`, remove folders not in it."""
    root.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=".monitorgen-stage-", dir=root))
    try:
        for name, artifacts in tree.items():
            _write_folder(stage / name, artifacts)
        _swap_in(root, stage, sorted(tree))
        if prune:
            for stale in sorted(_folders(root) - set(tree)):
                shutil.rmtree(root / stale)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _folders(root: Path) -> set[str]:
    return {p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")}


def _write_folder(folder: Path, artifacts: Sequence[Artifact]) -> None:
    for artifact in artifacts:
        target = folder / artifact.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(artifact.content)
        if artifact.path.endswith(".sh"):
            target.chmod(0o755)


def _swap_in(root: Path, stage: Path, names: list[str]) -> None:
    """Move staged folders over the old ones; undo every swap if one fails."""
    done: list[tuple[Path, Path | None]] = []
    try:
        for name in names:
            target = root / name
            backup: Path | None = None
            if target.exists():
                backup = stage / f".old-{name}"
                os.replace(target, backup)
            # Recorded before the second rename, so a failure there still puts the old
            # folder back instead of leaving it in the stage that is about to be deleted.
            done.append((target, backup))
            os.replace(stage / name, target)
    except OSError:
        for target, backup in reversed(done):
            shutil.rmtree(target, ignore_errors=True)
            if backup is not None:
                os.replace(backup, target)
        raise


@dataclass(frozen=True)
class Drift:
    """How the files on disk differ from what the spec generates."""

    changed: tuple[tuple[str, str], ...]
    """(path, unified diff) of files whose content differs."""
    missing: tuple[str, ...]
    extra: tuple[str, ...]

    @property
    def clean(self) -> bool:
        return not (self.changed or self.missing or self.extra)


def compare_tree(root: Path, tree: Tree, *, whole: bool) -> Drift:
    """Compare generated files with `root`; `whole` also reports folders no spec makes."""
    changed: list[tuple[str, str]] = []
    missing: list[str] = []
    extra: list[str] = []
    for name, artifacts in sorted(tree.items()):
        expected = {f"{name}/{a.path}": a.content for a in artifacts}
        on_disk = _files_under(root, name)
        for path, content in sorted(expected.items()):
            if path not in on_disk:
                missing.append(path)
            elif on_disk[path] != content:
                changed.append((path, _diff(path, on_disk[path], content)))
        extra.extend(sorted(set(on_disk) - set(expected)))
    if whole and root.is_dir():
        extra.extend(f"{name}/" for name in sorted(_folders(root) - set(tree)))
    return Drift(tuple(changed), tuple(missing), tuple(extra))


def _files_under(root: Path, name: str) -> dict[str, bytes]:
    folder = root / name
    if not folder.is_dir():
        return {}
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


CONTEXT_LINES = 3


def _diff(path: str, old: bytes, new: bytes) -> str:
    """A unified diff of the two texts, with `CONTEXT_LINES` of context."""
    before = old.decode(errors="replace").splitlines(keepends=True)
    after = new.decode(errors="replace").splitlines(keepends=True)
    lines: list[str] = []
    for hunk in _EndsMatched(before, after).get_grouped_opcodes(CONTEXT_LINES):
        if not lines:
            lines += [f"--- a/{path} (on disk)\n", f"+++ b/{path} (from spec)\n"]
        (_, first_before, _, first_after, _), (*_, last_before, _, last_after) = hunk[0], hunk[-1]
        lines.append(
            f"@@ -{_lines(first_before, last_before)} +{_lines(first_after, last_after)} @@\n"
        )
        for tag, start_before, end_before, start_after, end_after in hunk:
            if tag == "equal":
                lines += [f" {line}" for line in before[start_before:end_before]]
                continue
            lines += [f"-{line}" for line in before[start_before:end_before]]
            lines += [f"+{line}" for line in after[start_after:end_after]]
    return "".join(lines)


def _lines(start: int, end: int) -> str:
    """A hunk's line range as unified diffs write it: first line (1-based) and count."""
    count = end - start
    if count == 1:
        return str(start + 1)
    return f"{start + 1 if count else start},{count}"


class _EndsMatched(difflib.SequenceMatcher[str]):
    """difflib's alignment of only the lines between those both texts start and end with.

    difflib compares each line with every line like it: one edited line in the rules
    file of 5,000 alerts took 18 s. The common first and last lines are matched as
    they are, which is where difflib puts them too, except in repetitive text where
    either alignment is as short."""

    def __init__(self, before: list[str], after: list[str]) -> None:
        self.before, self.after = before, after
        super().__init__(None, before, after)

    def get_matching_blocks(self) -> list[difflib.Match]:
        before, after = self.before, self.after
        shorter = min(len(before), len(after))
        head = 0
        while head < shorter and before[head] == after[head]:
            head += 1
        tail = 0
        while tail < shorter - head and before[-1 - tail] == after[-1 - tail]:
            tail += 1
        middle = difflib.SequenceMatcher(
            None, before[head : len(before) - tail], after[head : len(after) - tail]
        )
        blocks = [difflib.Match(0, 0, head)] if head else []
        blocks += [difflib.Match(i + head, j + head, n) for i, j, n in middle.get_matching_blocks()]
        blocks.pop()  # the middle's closing (end, end, 0)
        if tail:
            blocks.append(difflib.Match(len(before) - tail, len(after) - tail, tail))
        blocks.append(difflib.Match(len(before), len(after), 0))
        return blocks


def write_file(path: Path, content: bytes) -> None:
    """Atomically write one file (reports and other single outputs)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
