"""Daily and monthly totals from trace logs, kept in a SQLite file for good.

The design keeps raw trace logs for 7 days but monthly figures forever. `rollup`
folds trace files into per (day, task type, model) totals and stores them in a
durable database; `prune_raw_traces` may then delete raw files past retention.

Re-running is safe. Totals are stored per trace file (named by its file name,
without ``.gz``), and each run replaces what the named files contributed before,
so rolling up the same file twice -- or a file that has grown since -- never
counts an entry twice, while a UTC day spread over two files sums both.
``daily_totals`` and ``monthly_totals`` are recomputed from those contributions
for every day and month a run touched.

The database is not generated configuration, so it does not go through
`monitorgen.writer`: it is appended to over years rather than replaced whole.
SQLite's transaction gives each run the same all-or-nothing guarantee that the
writer's atomic rename gives a generated file, and `_store` is the one function
that writes it.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from monitorgen.immutable import immutable
from monitorgen.report.aggregate import (
    ModelPrice,
    TraceCall,
    parse_llm_call,
    read_trace_lines,
)

DEFAULT_RAW_DAYS = 7
SCHEMA_VERSION = 1
TRACE_FILE = re.compile(r"^trace_(\d{4}-\d{2}-\d{2})\.jsonl(?:\.gz)?$")

#: Summed measures, in table column order.
MEASURES = (
    "requests",
    "ok",
    "errors",
    "timeouts",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "reasoning_tokens",
    "total_tokens",
    "cost_usd",
    "unpriced_requests",
    "latency_ms_total",
)
_REAL_MEASURES = frozenset({"cost_usd", "latency_ms_total"})


def _columns() -> str:
    return ", ".join(
        f"{name} {'REAL' if name in _REAL_MEASURES else 'INTEGER'} NOT NULL DEFAULT 0"
        for name in MEASURES
    )


_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS trace_files (
    source TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL,
    lines INTEGER NOT NULL,
    calls INTEGER NOT NULL,
    skipped_lines INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS file_day_totals (
    source TEXT NOT NULL REFERENCES trace_files (source),
    day TEXT NOT NULL,
    task_type TEXT NOT NULL,
    model TEXT NOT NULL,
    {_columns()},
    PRIMARY KEY (source, day, task_type, model)
);
CREATE TABLE IF NOT EXISTS daily_totals (
    day TEXT NOT NULL,
    task_type TEXT NOT NULL,
    model TEXT NOT NULL,
    {_columns()},
    PRIMARY KEY (day, task_type, model)
);
CREATE TABLE IF NOT EXISTS monthly_totals (
    month TEXT NOT NULL,
    task_type TEXT NOT NULL,
    model TEXT NOT NULL,
    {_columns()},
    PRIMARY KEY (month, task_type, model)
);
"""

_SUMS = ", ".join(f"SUM({name})" for name in MEASURES)
_NAMES = ", ".join(MEASURES)


class RollupError(ValueError):
    """A rollup that cannot run as asked (the message says why)."""


# --- folding ----------------------------------------------------------------


@dataclass
class Tally:
    """Summed measures of the calls of one (day, task type, model)."""

    requests: int = 0
    ok: int = 0
    errors: int = 0
    timeouts: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    reasoning_tokens: int = 0
    total_tokens: int = 0
    cost_usd: float = 0.0
    unpriced_requests: int = 0
    latency_ms_total: float = 0.0

    def add(self, call: TraceCall) -> None:
        self.requests += 1
        self.ok += call.status == "ok"
        self.errors += call.status == "error"
        self.timeouts += call.status == "timeout"
        self.input_tokens += call.input_tokens
        self.output_tokens += call.output_tokens
        self.cached_input_tokens += call.cached_input_tokens
        self.reasoning_tokens += call.reasoning_tokens
        self.total_tokens += call.total_tokens
        if call.cost_usd is None:
            self.unpriced_requests += 1
        else:
            self.cost_usd += call.cost_usd
        self.latency_ms_total += call.latency_ms

    def values(self) -> tuple[int | float, ...]:
        return tuple(getattr(self, name) for name in MEASURES)


GroupKey = tuple[str, str, str]
"""(ISO day or month, task type, model)."""


@dataclass
class TraceFile:
    """One trace file folded into per-day totals, with the digest of what was read."""

    path: Path
    source: str
    sha256: str = ""
    lines: int = 0
    skipped_lines: int = 0
    groups: dict[GroupKey, Tally] = field(default_factory=dict)

    @property
    def calls(self) -> int:
        return sum(tally.requests for tally in self.groups.values())

    @property
    def days(self) -> frozenset[str]:
        return frozenset(day for day, _, _ in self.groups)


def source_name(path: Path) -> str:
    """How the database names a trace file: its file name without ``.gz``."""
    return path.name.removesuffix(".gz")


def fold_trace_file(path: Path, pricing: Mapping[str, ModelPrice] | None = None) -> TraceFile:
    """Read a trace file once, summing its valid ``llm_call`` entries per UTC day,
    task type and model; the digest covers exactly the lines read."""
    folded = TraceFile(path, source_name(path))
    digest = hashlib.sha256()
    for _number, raw in read_trace_lines(path):
        digest.update(raw)
        if not raw.strip():
            continue
        folded.lines += 1
        call = parse_llm_call(raw, pricing)
        if call is None:
            folded.skipped_lines += 1
            continue
        key = (call.day.isoformat(), call.task_type, call.model)
        folded.groups.setdefault(key, Tally()).add(call)
    folded.sha256 = digest.hexdigest()
    return folded


def content_digest(path: Path) -> str:
    """SHA-256 of a trace file's (decompressed) content, as `fold_trace_file` computes it."""
    digest = hashlib.sha256()
    for _number, raw in read_trace_lines(path):
        digest.update(raw)
    return digest.hexdigest()


# --- storing ----------------------------------------------------------------


@immutable
class RollupResult:
    """What one rollup run stored."""

    files: tuple[str, ...]
    calls: int
    skipped_lines: int
    days: tuple[str, ...]
    """ISO days of the entries read (sorted)."""
    recomputed_days: tuple[str, ...]
    """Days whose daily totals were recomputed: ``days`` plus days the files held before."""

    @property
    def newest_day(self) -> date | None:
        return date.fromisoformat(self.days[-1]) if self.days else None

    def summary(self, db: Path) -> str:
        """One line for the command's output."""
        days = f" for {self.days[0]} to {self.days[-1]}" if self.days else ""
        text = f"rolled up {self.calls} call(s) from {len(self.files)} file(s){days} into {db}"
        if self.skipped_lines:
            text += f"; {self.skipped_lines} line(s) were not valid llm_call entries"
        return text


def connect(db: Path) -> sqlite3.Connection:
    """Open (creating when needed) a rollup database with its tables."""
    connection = sqlite3.connect(db)
    connection.executescript(_SCHEMA)
    version = connection.execute("PRAGMA user_version").fetchone()[0]
    if version not in (0, SCHEMA_VERSION):
        connection.close()
        raise RollupError(f"{db} has rollup schema version {version}, not {SCHEMA_VERSION}")
    connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    return connection


def rollup(
    trace_paths: Sequence[Path],
    db: Path,
    *,
    pricing: Mapping[str, ModelPrice] | None = None,
) -> RollupResult:
    """Fold trace files into the database at ``db``; re-running on the same files is
    a no-op, and a file that grew since its last rollup replaces its old totals."""
    folded = [fold_trace_file(Path(path), pricing) for path in trace_paths]
    _refuse_name_clashes(folded)
    with closing(connect(db)) as connection:
        recomputed = _store(connection, folded)
    return RollupResult(
        files=tuple(item.source for item in folded),
        calls=sum(item.calls for item in folded),
        skipped_lines=sum(item.skipped_lines for item in folded),
        days=tuple(sorted(frozenset().union(*(item.days for item in folded)))),
        recomputed_days=tuple(sorted(recomputed)),
    )


def _refuse_name_clashes(folded: Sequence[TraceFile]) -> None:
    seen: dict[str, Path] = {}
    for item in folded:
        other = seen.setdefault(item.source, item.path)
        if other != item.path:
            raise RollupError(
                f"{other} and {item.path} are both stored as {item.source!r}; "
                "roll them up into separate databases or rename one"
            )


def _store(connection: sqlite3.Connection, folded: Sequence[TraceFile]) -> set[str]:
    """Replace the named files' contributions and recompute the totals they touch,
    in one transaction; return the days recomputed."""
    touched: set[str] = set()
    with connection:
        for item in folded:
            touched |= _previous_days(connection, item.source)
            touched |= item.days
            _replace_file(connection, item)
        _recompute_days(connection, touched)
        _recompute_months(connection, {day[:7] for day in touched})
    return touched


def _previous_days(connection: sqlite3.Connection, source: str) -> set[str]:
    rows = connection.execute(
        "SELECT DISTINCT day FROM file_day_totals WHERE source = ?", (source,)
    )
    return {row[0] for row in rows}


def _replace_file(connection: sqlite3.Connection, item: TraceFile) -> None:
    connection.execute("DELETE FROM file_day_totals WHERE source = ?", (item.source,))
    connection.execute(
        "INSERT INTO trace_files (source, sha256, lines, calls, skipped_lines)"
        " VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (source) DO UPDATE SET sha256 = excluded.sha256, lines = excluded.lines,"
        " calls = excluded.calls, skipped_lines = excluded.skipped_lines",
        (item.source, item.sha256, item.lines, item.calls, item.skipped_lines),
    )
    placeholders = ", ".join("?" for _ in range(4 + len(MEASURES)))
    connection.executemany(
        f"INSERT INTO file_day_totals (source, day, task_type, model, {_NAMES})"
        f" VALUES ({placeholders})",
        [(item.source, *key, *tally.values()) for key, tally in sorted(item.groups.items())],
    )


def _recompute_days(connection: sqlite3.Connection, days: Iterable[str]) -> None:
    for day in sorted(days):
        connection.execute("DELETE FROM daily_totals WHERE day = ?", (day,))
        connection.execute(
            f"INSERT INTO daily_totals (day, task_type, model, {_NAMES})"
            f" SELECT day, task_type, model, {_SUMS} FROM file_day_totals"
            " WHERE day = ? GROUP BY day, task_type, model",
            (day,),
        )


def _recompute_months(connection: sqlite3.Connection, months: Iterable[str]) -> None:
    for month in sorted(months):
        connection.execute("DELETE FROM monthly_totals WHERE month = ?", (month,))
        connection.execute(
            f"INSERT INTO monthly_totals (month, task_type, model, {_NAMES})"
            f" SELECT substr(day, 1, 7), task_type, model, {_SUMS} FROM daily_totals"
            " WHERE substr(day, 1, 7) = ? GROUP BY substr(day, 1, 7), task_type, model",
            (month,),
        )


# --- reading ----------------------------------------------------------------


@immutable
class TotalsRow:
    """One stored row: ``period`` is an ISO day (daily) or ``YYYY-MM`` (monthly)."""

    period: str
    task_type: str
    model: str
    totals: Mapping[str, int | float]


def daily_totals(db: Path) -> list[TotalsRow]:
    """Every daily row, ordered by day, task type and model."""
    return _rows(db, "daily_totals", "day")


def monthly_totals(db: Path) -> list[TotalsRow]:
    """Every monthly row, ordered by month, task type and model."""
    return _rows(db, "monthly_totals", "month")


def _rows(db: Path, table: str, period: str) -> list[TotalsRow]:
    with closing(connect(db)) as connection:
        rows = connection.execute(
            f"SELECT {period}, task_type, model, {_NAMES} FROM {table}"
            f" ORDER BY {period}, task_type, model"
        ).fetchall()
    return [TotalsRow(r[0], r[1], r[2], dict(zip(MEASURES, r[3:], strict=True))) for r in rows]


def rolled_up_digests(db: Path) -> dict[str, str]:
    """Source name -> SHA-256 of the content last rolled up."""
    with closing(connect(db)) as connection:
        return dict(connection.execute("SELECT source, sha256 FROM trace_files").fetchall())


# --- pruning ----------------------------------------------------------------


@immutable
class PruneResult:
    """Raw trace files deleted, and old ones kept because the database lacks them."""

    deleted: tuple[Path, ...]
    not_rolled_up: tuple[Path, ...]
    cutoff: date
    """Files dated before this day are past retention."""


def trace_file_day(path: Path) -> date | None:
    """The day in a ``trace_YYYY-MM-DD.jsonl[.gz]`` name, or None for any other name."""
    match = TRACE_FILE.match(path.name)
    if match is None:
        return None
    try:
        return date.fromisoformat(match.group(1))
    except ValueError:
        return None


def raw_trace_files(directories: Iterable[Path]) -> Iterator[tuple[date, Path]]:
    """(day, path) of every daily trace file in the directories, oldest first."""
    found = []
    for directory in sorted(set(directories)):
        for path in directory.iterdir():
            day = trace_file_day(path)
            if day is not None and path.is_file():
                found.append((day, path))
    yield from sorted(found)


def prune_raw_traces(
    directories: Iterable[Path],
    db: Path,
    *,
    today: date,
    raw_days: int = DEFAULT_RAW_DAYS,
) -> PruneResult:
    """Delete daily trace files more than ``raw_days`` days older than ``today``,
    but only those whose current content is exactly what the database rolled up."""
    if raw_days < 0:
        raise RollupError(f"raw retention must be 0 days or more, not {raw_days}")
    cutoff = today - timedelta(days=raw_days)
    stored = rolled_up_digests(db)
    deleted: list[Path] = []
    kept: list[Path] = []
    for day, path in raw_trace_files(directories):
        if day >= cutoff:
            continue
        if stored.get(source_name(path)) == content_digest(path):
            path.unlink()
            deleted.append(path)
        else:
            kept.append(path)
    return PruneResult(tuple(deleted), tuple(kept), cutoff)


def reference_day(result: RollupResult, trace_paths: Iterable[Path]) -> date | None:
    """The newest day seen: in the entries rolled up or in the trace file names."""
    days = [day for path in trace_paths if (day := trace_file_day(Path(path))) is not None]
    if result.newest_day is not None:
        days.append(result.newest_day)
    return max(days, default=None)
