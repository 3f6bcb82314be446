"""What amtool accepted, remembered between runs of `monitorgen check`.

`check` runs on every commit, and most commits leave the Alertmanager config as it
was; asking amtool again about the same bytes gives the same answer. A verdict is kept
under a key made of the amtool binary (path, size, modification time) and every byte of
the config folder amtool reads, so a changed config or another amtool asks again. Only
acceptances are kept: a refusal is always the tool's fresh word. The folder is
`$MONITORGEN_CACHE_DIR`, else `$XDG_CACHE_HOME/monitorgen`, else `~/.cache/monitorgen`;
`check --no-cache` neither reads nor writes it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from monitorgen.targets.base import Artifact

#: Bumped when what a verdict means changes.
FORMAT = "monitorgen-amtool-verdicts-1"
#: Files not used for this long are removed when another is written.
KEEP_SECONDS = 30 * 24 * 3600

RouteQuestion = tuple[tuple[tuple[str, str], ...], tuple[str, ...]]
"""The labels amtool routes and the receivers it is asked to confirm."""


def cache_root() -> Path:
    explicit = os.environ.get("MONITORGEN_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "monitorgen"


class AmtoolVerdicts:
    """The verdicts of one amtool binary on one config folder."""

    def __init__(self, file: Path) -> None:
        self.file = file
        self.config_accepted = False
        self.routes: dict[RouteQuestion, tuple[str, ...]] = {}
        self._changed = False
        self._read()

    @classmethod
    def of(cls, amtool: str, config: Sequence[Artifact], root: Path) -> AmtoolVerdicts | None:
        """The verdicts of `amtool` on `config`; None when the binary cannot be told
        apart from another (no file to look at)."""
        try:
            key = _key(amtool, config)
        except OSError:
            return None
        return cls(root / "amtool" / f"{key}.json")

    def accept_config(self) -> None:
        if not self.config_accepted:
            self.config_accepted = self._changed = True

    def accept_route(self, question: RouteQuestion, answer: tuple[str, ...]) -> None:
        if self.routes.get(question) != answer:
            self.routes[question] = answer
            self._changed = True

    def save(self) -> None:
        """Write what is new; a cache that cannot be written is no error of the check."""
        if not self._changed:
            with contextlib.suppress(OSError):
                os.utime(self.file)  # in use: not pruned
            return
        data = {
            "format": FORMAT,
            "config_accepted": self.config_accepted,
            "routes": [
                [list(map(list, labels)), list(expected), list(answer)]
                for (labels, expected), answer in sorted(self.routes.items())
            ],
        }
        with contextlib.suppress(OSError):
            self.file.parent.mkdir(parents=True, exist_ok=True)
            _replace(self.file, json.dumps(data, separators=(",", ":")))
            _prune(self.file.parent)
        self._changed = False

    def _read(self) -> None:
        try:
            data = json.loads(self.file.read_text(encoding="utf-8"))
            if data.get("format") != FORMAT:
                return
            routes = {
                (tuple((str(n), str(v)) for n, v in labels), tuple(map(str, expected))): tuple(
                    map(str, answer)
                )
                for labels, expected, answer in data["routes"]
            }
            accepted = data["config_accepted"] is True
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            return  # absent or damaged: asked again, and written anew
        self.config_accepted, self.routes = accepted, routes


def _key(amtool: str, config: Sequence[Artifact]) -> str:
    binary = Path(amtool).resolve()
    stat = binary.stat()
    digest = hashlib.sha256(f"{FORMAT}\0{binary}\0{stat.st_size}\0{stat.st_mtime_ns}".encode())
    for artifact in sorted(config, key=lambda a: a.path):
        digest.update(f"\0{artifact.path}\0{len(artifact.content)}\0".encode())
        digest.update(artifact.content)
    return digest.hexdigest()


def _replace(file: Path, text: str) -> None:
    """Write `file` whole or not at all (checks of several repositories may share it)."""
    handle, temporary = tempfile.mkstemp(dir=file.parent, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, file)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _prune(folder: Path) -> None:
    cutoff = time.time() - KEEP_SECONDS
    for old in folder.glob("*.json"):
        with contextlib.suppress(OSError):
            if old.stat().st_mtime < cutoff:
                old.unlink()
