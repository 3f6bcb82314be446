"""The only code that touches `generated/`: atomic writes, and drift checks for `check`.

A build writes every spec's files into a staging folder beside the output, then
swaps each spec folder in with renames, so a failed run leaves the output as it was.
It replaces or removes only spec output folders it wrote (a file in them or in their
subfolders starts with the generated-file header): pointed at a folder that holds
others (`-o .`), it leaves them alone, and refuses a spec whose output folder would
replace one.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from monitorgen.immutable import immutable
from monitorgen.line_diff import unified_diff
from monitorgen.targets.base import GENERATED_MARK, Artifact

Tree = Mapping[str, Sequence[Artifact]]
"""Output folder name (one per spec and environment) -> its files."""


class NotGenerated(OSError):
    """An output folder to replace is not one monitorgen wrote."""


def write_tree(root: Path, tree: Tree, *, prune: bool) -> None:
    """Replace each folder of `tree` under `root`; with `prune`, remove the spec output
    folders not in it. NotGenerated, before anything is written, when a folder of
    `tree` exists, holds something and is not a spec output folder."""
    for name in sorted(tree):
        target = root / name
        if (target.is_symlink() or target.exists()) and not _replaceable(target):
            raise NotGenerated(
                f"{target}/ is not a folder monitorgen wrote: move it, or choose another "
                "output folder"
            )
    root.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=".monitorgen-stage-", dir=root))
    try:
        for name, artifacts in tree.items():
            _write_folder(stage / name, artifacts)
        _swap_in(root, stage, sorted(tree))
        if prune:
            for stale in sorted(_spec_folders(root) - set(tree)):
                shutil.rmtree(root / stale)
    finally:
        _remove_stage(stage)


def _remove_stage(stage: Path) -> None:
    """Remove the staging folder, with the old folders moved into it: made writable
    where one was read-only, so no `.monitorgen-stage-*` stays behind."""

    def writable_then_again(function: Callable[[str], object], path: str, _: object) -> None:
        try:
            os.chmod(os.path.dirname(path), 0o700)
            if os.path.isdir(path) and not os.path.islink(path):
                os.chmod(path, 0o700)
            function(path)
        except OSError:
            pass  # what cannot go stays; the build itself succeeded

    shutil.rmtree(stage, onerror=writable_then_again)


def _spec_folders(root: Path) -> set[str]:
    """The folders under `root` a build wrote for a spec (not hidden ones, links or
    other folders, which a full build leaves alone and a full check ignores)."""
    return {
        p.name
        for p in root.iterdir()
        if not p.name.startswith(".") and not p.is_symlink() and _is_spec_folder(p)
    }


_MARK = GENERATED_MARK.encode()
#: The generated header sits in the first lines of every file that has one.
_HEAD_BYTES = 4096


def _replaceable(folder: Path) -> bool:
    """An empty folder, or one a build wrote for a spec."""
    return (
        folder.is_dir()
        and not folder.is_symlink()
        and (not any(folder.iterdir()) or _is_spec_folder(folder))
    )


def _is_spec_folder(folder: Path) -> bool:
    """Whether a file in `folder` or in one of its subfolders (prometheus/, schedule/,
    ...) starts with the generated header: a spec output folder. (An output folder
    holding spec folders has its files a level deeper, and is not one.)"""
    if not folder.is_dir():
        return False
    for child in sorted(folder.iterdir()):
        if child.is_symlink():
            continue
        files = [child] if child.is_file() else sorted(child.iterdir()) if child.is_dir() else []
        if any(f.is_file() and not f.is_symlink() and _MARK in _head(f) for f in files):
            return True
    return False


def _head(path: Path) -> bytes:
    try:
        with path.open("rb") as handle:
            return handle.read(_HEAD_BYTES)
    except OSError:
        return b""  # unreadable: not known to be generated


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


@immutable
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
        extra.extend(f"{name}/" for name in sorted(_spec_folders(root) - set(tree)))
    return Drift(tuple(changed), tuple(missing), tuple(extra))


#: What `check` compares a symbolic link with: never the file it points to, which may
#: be anything readable (a CI log would print it in the diff).
_LINK = b"(a symbolic link, not a generated file)\n"


def _files_under(root: Path, name: str) -> dict[str, bytes]:
    """The files under `root/name` by path; OSError when one cannot be read."""
    folder = root / name
    if folder.is_symlink():
        return {f"{name}": _LINK}
    if not folder.is_dir():
        return {}
    return {
        str(p.relative_to(root)): _LINK if p.is_symlink() else p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if (p.is_symlink() or p.is_file()) and not _bytecode(p, folder)
    }


def _bytecode(path: Path, folder: Path) -> bool:
    """Python's cache of the generated module, made by importing it in place: not
    output, and the next build replaces the folder without it."""
    return "__pycache__" in path.relative_to(folder).parts


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
