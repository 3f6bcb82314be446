"""The folder where monitorgen remembers what it may reuse between runs.

Two things are kept there, each under a key made of every input that decides it:
spec files as parsed (`spec/parse_cache.py`) and what amtool accepted
(`tool_verdicts.py`). The folder is `$MONITORGEN_CACHE_DIR`, else
`$XDG_CACHE_HOME/monitorgen`, else `~/.cache/monitorgen`; `--no-cache` neither reads
nor writes it. A cache that cannot be read or written is no error: the work is done
again.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from pathlib import Path

#: Files not used for this long are removed when another is written beside them.
KEEP_SECONDS = 30 * 24 * 3600


def cache_root() -> Path | None:
    """The cache folder; None without a home to put it in (a container running as a
    user with none, say): then nothing is remembered."""
    explicit = os.environ.get("MONITORGEN_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME")
    if not base:
        try:
            base = str(Path.home() / ".cache")
        except RuntimeError:  # no HOME and no entry in the password database
            return None
    return Path(base) / "monitorgen"


def replace_file(file: Path, data: bytes) -> None:
    """Write `file` whole or not at all (runs in several repositories may share it)."""
    handle, temporary = tempfile.mkstemp(dir=file.parent, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, file)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def prune(folder: Path, pattern: str, max_bytes: int | None = None) -> None:
    """Remove the files matching `pattern` in `folder` that were not used for
    KEEP_SECONDS, then, while they hold more than `max_bytes`, the least recently used."""
    cutoff = time.time() - KEEP_SECONDS
    kept: list[tuple[float, int, Path]] = []
    for file in folder.glob(pattern):
        with contextlib.suppress(OSError):
            status = file.stat()
            if status.st_mtime < cutoff:
                file.unlink()
            else:
                kept.append((status.st_mtime, status.st_size, file))
    if max_bytes is None:
        return
    total = sum(size for _, size, _ in kept)
    for _, size, file in sorted(kept):
        if total <= max_bytes:
            break
        with contextlib.suppress(OSError):
            file.unlink()
            total -= size
