"""The only code that touches `generated/`: atomic writes, and drift checks for `check`.

A build writes every spec's files into a staging folder beside the output, then
swaps each spec folder in with renames, so a failed run leaves the output as it was.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from monitorgen.line_diff import unified_diff
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
                changed.append((path, unified_diff(path, on_disk[path], content)))
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
