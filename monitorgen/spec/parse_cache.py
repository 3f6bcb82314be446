"""Spec files as parsed, remembered between runs under a key made of their text.

Parsing YAML with the place of every node is the largest step of loading a big spec:
about 0.85 s of CPU for the 2.3 MB of a spec of 5,000 alerts. Most runs of `check` or
`build` follow a commit that changed one of its files, or none. The loader keeps each
file it parsed without a problem as marshal data of plain containers (the form its
include child sends, see `loader._plain`) and rebuilds it, at about a quarter of the
cost, when the same text comes again. The key covers the text, the loader's own source,
the YAML library and the Python version (marshal's format), so nothing but the same
parse is ever reused. A file with a problem is never kept: its findings are always made
afresh. `--no-cache` neither reads nor writes the folder (`cache_folder.py`).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import marshal
import os
import sys
from pathlib import Path

import yaml

from monitorgen.cache_folder import cache_root, prune, replace_file

#: Bumped when what is kept changes in a way the loader's source does not show.
FORMAT = "monitorgen-parsed-1"
_SUFFIX = ".marshal"
#: Every edit of a file adds an entry of about three times its size: beyond this much,
#: the least recently used go first.
MAX_BYTES = 256 * 1024 * 1024


class ParseCache:
    """Parsed documents (as bytes the loader makes and reads) in `folder`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._pruned = False

    @classmethod
    def default(cls) -> ParseCache | None:
        """The cache in the cache folder; None when there is no folder to use."""
        root = cache_root()
        return cls(root / "parsed") if root is not None else None

    def key(self, text: str) -> str:
        digest = hashlib.sha256(_parser_identity())
        digest.update(text.encode("utf-8", "surrogatepass"))
        return digest.hexdigest()

    def has(self, key: str) -> bool:
        return self._file(key).is_file()

    def get(self, key: str) -> bytes | None:
        file = self._file(key)
        try:
            data = file.read_bytes()
        except OSError:
            return None
        with contextlib.suppress(OSError):
            os.utime(file)  # in use: not pruned
        return data

    def put(self, key: str, data: bytes) -> None:
        with contextlib.suppress(OSError):
            self.folder.mkdir(parents=True, exist_ok=True)
            replace_file(self._file(key), data)
            if not self._pruned:
                self._pruned = True
                prune(self.folder, f"*{_SUFFIX}", MAX_BYTES)

    def _file(self, key: str) -> Path:
        return self.folder / f"{key}{_SUFFIX}"


@functools.cache
def _parser_identity() -> bytes:
    """What decides a parse besides the text: the loader's code, the YAML library (and
    whether libyaml runs it) and marshal's format."""
    loader = Path(__file__).with_name("loader.py")
    try:
        source = loader.read_bytes()
    except OSError:  # no source beside the package: its version stands in
        from monitorgen import __version__

        source = __version__.encode()
    libyaml = getattr(yaml, "__with_libyaml__", False)
    parts = (FORMAT, yaml.__version__, str(libyaml), sys.version, str(marshal.version))
    return "\0".join(parts).encode() + b"\0" + hashlib.sha256(source).digest()
