"""What amtool accepted, remembered between runs of `monitorgen check`.

`check` runs on every commit, and most commits leave the Alertmanager config as it
was; asking amtool again about the same bytes gives the same answer. A verdict is kept
under a key made of the amtool binary (path, size, modification time) and every byte of
the config folder amtool reads, so a changed config or another amtool asks again. Only
acceptances are kept: a refusal is always the tool's fresh word. They live in the
cache folder (`cache_folder.py`), which `check --no-cache` neither reads nor writes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

from monitorgen.cache_folder import prune, replace_file
from monitorgen.targets.base import Artifact

#: Bumped when what a verdict means changes.
FORMAT = "monitorgen-amtool-verdicts-1"

RouteQuestion = tuple[tuple[tuple[str, str], ...], tuple[str, ...]]
"""The labels amtool routes and the receivers it is asked to confirm."""


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
            replace_file(self.file, json.dumps(data, separators=(",", ":")).encode())
            prune(self.file.parent, "*.json")
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
