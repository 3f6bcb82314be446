"""Streaming aggregation of trace logs into a daily report.

Trace files hold one JSON object per line. Only ``llm_call`` entries are
aggregated; other event types are counted. Files are read line by line and
folded into running counters and fixed-size latency sketches, so memory does
not grow with the number of lines.

An ``llm_call`` entry needs ``timestamp``, ``task_type``, ``model``,
``input_tokens``, ``output_tokens`` and ``latency_ms``. Optional fields are
checked too; an entry with a missing or invalid field is left out of every
total and reported in the data-quality section.
"""

from __future__ import annotations

import gzip
import json
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import NamedTuple

from monitorgen.immutable import immutable
from monitorgen.model import LLM_CALL
from monitorgen.report.quantiles import LatencySketch

STATUSES = ("ok", "error", "timeout")
MAX_LINE_REFS = 20
TOKENS_PER_PRICE_UNIT = 1_000_000

_MAX_COUNT = 2**63 - 1
_PRICE_KEYS = frozenset({"input", "output", "cached_input", "reasoning"})


# --- inputs -----------------------------------------------------------------


@immutable
class ModelPrice:
    """USD prices per 1M tokens for one model.

    Cached input defaults to the input price and reasoning to the output price.
    """

    input: float
    output: float
    cached_input: float | None = None
    reasoning: float | None = None

    def __post_init__(self) -> None:
        for name in sorted(_PRICE_KEYS):
            value = getattr(self, name)
            if value is not None and (not math.isfinite(value) or value < 0):
                raise ValueError(f"price {name!r} must be a non-negative number, got {value!r}")

    def cost(
        self,
        *,
        input_tokens: int,
        output_tokens: int,
        cached_input_tokens: int = 0,
        reasoning_tokens: int = 0,
    ) -> float:
        """Return the USD cost of one call.

        Cached tokens are part of ``input_tokens``; reasoning tokens are billed
        in addition to ``output_tokens``.
        """
        cached_price = self.input if self.cached_input is None else self.cached_input
        reasoning_price = self.output if self.reasoning is None else self.reasoning
        per_unit = (
            (input_tokens - cached_input_tokens) * self.input
            + cached_input_tokens * cached_price
            + output_tokens * self.output
            + reasoning_tokens * reasoning_price
        )
        return per_unit / TOKENS_PER_PRICE_UNIT


@immutable(eq=False)
class Pricing(Mapping[str, ModelPrice]):
    """Read-only mapping of model name to `ModelPrice`."""

    models: Mapping[str, ModelPrice] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "models", MappingProxyType(dict(self.models)))

    @classmethod
    def from_mapping(cls, table: Mapping[str, Mapping[str, float]]) -> Pricing:
        """Build from plain data, e.g. ``{"gpt-4o": {"input": 2.5, "output": 10}}``."""
        models: dict[str, ModelPrice] = {}
        for model, prices in table.items():
            unknown = sorted(set(prices) - _PRICE_KEYS)
            if unknown:
                raise ValueError(f"unknown price keys for {model!r}: {', '.join(unknown)}")
            models[model] = ModelPrice(
                input=prices["input"],
                output=prices["output"],
                cached_input=prices.get("cached_input"),
                reasoning=prices.get("reasoning"),
            )
        return cls(models)

    def __getitem__(self, model: str) -> ModelPrice:
        return self.models[model]

    def __iter__(self) -> Iterator[str]:
        return iter(self.models)

    def __len__(self) -> int:
        return len(self.models)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Pricing):
            return NotImplemented
        return dict(self.models) == dict(other.models)

    def __hash__(self) -> int:
        return hash(frozenset(self.models.items()))


@immutable
class Baseline:
    """Declared pre-optimisation usage per request.

    A per-entry ``baseline_tokens`` field wins over ``tokens_per_request``.
    """

    tokens_per_request: float | None = None
    cost_per_request: float | None = None


# --- results ----------------------------------------------------------------


@immutable
class Totals:
    """Totals over every counted request; rates are fractions in [0, 1]."""

    requests: int
    ok: int
    errors: int
    timeouts: int
    input_tokens: int
    output_tokens: int
    total_tokens: int
    cached_input_tokens: int
    reasoning_tokens: int
    cost_usd: float
    priced_requests: int
    computed_cost_requests: int
    unpriced_requests: int
    avg_latency_ms: float | None
    p50_latency_ms: float | None
    p95_latency_ms: float | None
    p99_latency_ms: float | None
    success_rate: float | None
    error_rate: float | None
    timeout_rate: float | None


@immutable
class GroupStats:
    """One row of the per task type or per model table."""

    name: str
    requests: int
    input_tokens: int
    output_tokens: int
    total_tokens: int
    cost_usd: float
    unpriced_requests: int
    avg_latency_ms: float
    p95_latency_ms: float
    error_rate: float
    timeout_rate: float


@immutable
class Change:
    """One total compared with the previous day; ``delta_pct`` is relative."""

    metric: str
    current: float | None
    previous: float | None
    delta: float | None
    delta_pct: float | None


@immutable
class Optimisation:
    """Token reduction and cost savings against the declared baseline."""

    tokens_per_request: float | None
    cost_per_request: float | None
    covered_requests: int
    baseline_tokens: float
    actual_tokens: int
    tokens_saved: float
    token_reduction_pct: float | None
    baseline_cost_usd: float | None
    actual_cost_usd: float | None
    cost_savings_usd: float | None
    cost_savings_pct: float | None


@immutable
class LineRef:
    """A line of a trace file (1-based)."""

    path: str
    line: int


@immutable
class NamedCount:
    """A name with how often it occurred."""

    name: str
    count: int


@immutable
class DataQuality:
    """Problems met while reading; line refs keep only the first few."""

    lines: int
    malformed_lines: int
    malformed_refs: tuple[LineRef, ...]
    entries_missing_fields: int
    missing_fields: tuple[NamedCount, ...]
    missing_field_refs: tuple[LineRef, ...]
    unpriced_models: tuple[NamedCount, ...]
    other_events: int
    other_event_types: tuple[NamedCount, ...]
    outside_day: int


@immutable
class Report:
    """The daily report; ``day`` is None when no day filter was applied."""

    day: date | None
    first_day: date | None
    last_day: date | None
    totals: Totals
    by_task_type: tuple[GroupStats, ...]
    by_model: tuple[GroupStats, ...]
    previous_day: date | None
    changes: tuple[Change, ...] | None
    optimisation: Optimisation | None
    data_quality: DataQuality


# --- parsing ----------------------------------------------------------------


class _Call(NamedTuple):
    day: date
    task_type: str
    model: str
    status: str
    input_tokens: int
    output_tokens: int
    total_tokens: int
    cached_input_tokens: int
    reasoning_tokens: int
    cost_usd: float | None
    cost_computed: bool
    latency_ms: float
    baseline_tokens: int | None


class _Malformed(ValueError):
    pass


def _reject_constant(token: str) -> object:
    raise _Malformed(token)


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def _decode(raw: bytes) -> dict[str, object] | None:
    """Return the JSON object on a line, or None when the line is malformed."""
    try:
        value = _DECODER.decode(raw.decode("utf-8"))
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _parse_timestamp(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


class _Fields:
    """Reads typed fields from an entry, recording the names that fail."""

    def __init__(self, entry: Mapping[str, object]) -> None:
        self.entry = entry
        self.problems: list[str] = []

    def text(self, name: str) -> str:
        value = self.entry.get(name)
        if isinstance(value, str) and value:
            return value
        self.problems.append(name)
        return ""

    def count(self, name: str, *, required: bool) -> int | None:
        value = self.entry.get(name)
        if type(value) is int and 0 <= value <= _MAX_COUNT:
            return value
        if value is None and not required:
            return None
        if isinstance(value, float) and value.is_integer() and 0 <= value <= _MAX_COUNT:
            return int(value)
        self.problems.append(name)
        return None

    def number(self, name: str, *, required: bool) -> float | None:
        value = self.entry.get(name)
        if type(value) is float and 0.0 <= value < math.inf:
            return value
        if value is None and not required:
            return None
        if type(value) is int and 0 <= value <= _MAX_COUNT:
            return float(value)
        self.problems.append(name)
        return None

    def status(self) -> str:
        value = self.entry.get("status")
        if value is None:
            return "ok"
        if isinstance(value, str) and value in STATUSES:
            return value
        self.problems.append("status")
        return "ok"


def _parse_call(entry: Mapping[str, object], moment: datetime | None) -> _Call | list[str]:
    """Return the validated call, or the names of its missing or invalid fields."""
    fields = _Fields(entry)
    if moment is None:
        fields.problems.append("timestamp")
    task_type, model, status = fields.text("task_type"), fields.text("model"), fields.status()
    input_tokens = fields.count("input_tokens", required=True)
    output_tokens = fields.count("output_tokens", required=True)
    total_tokens = fields.count("total_tokens", required=False)
    cached = fields.count("cached_input_tokens", required=False) or 0
    reasoning = fields.count("reasoning_tokens", required=False) or 0
    baseline_tokens = fields.count("baseline_tokens", required=False)
    latency = fields.number("latency_ms", required=True)
    cost = fields.number("cost_usd", required=False)
    if input_tokens is not None and cached > input_tokens:
        fields.problems.append("cached_input_tokens")
    if fields.problems or moment is None or latency is None:
        return fields.problems
    if input_tokens is None or output_tokens is None:
        return fields.problems
    return _Call(
        day=moment.date(),
        task_type=task_type,
        model=model,
        status=status,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        total_tokens=input_tokens + output_tokens if total_tokens is None else total_tokens,
        cached_input_tokens=cached,
        reasoning_tokens=reasoning,
        cost_usd=cost,
        cost_computed=False,
        latency_ms=latency,
        baseline_tokens=baseline_tokens,
    )


def _priced(call: _Call, pricing: Mapping[str, ModelPrice]) -> _Call:
    """Fill in a missing cost from the pricing table when the model is priced."""
    price = pricing.get(call.model)
    if call.cost_usd is not None or price is None:
        return call
    cost = price.cost(
        input_tokens=call.input_tokens,
        output_tokens=call.output_tokens,
        cached_input_tokens=call.cached_input_tokens,
        reasoning_tokens=call.reasoning_tokens,
    )
    return call._replace(cost_usd=cost, cost_computed=True)


def _read_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """Yield (line number, raw line) pairs; ``.gz`` files are decompressed."""
    if path.suffix == ".gz":
        with gzip.open(path, "rb") as compressed:
            yield from enumerate(compressed, start=1)
    else:
        with path.open("rb") as plain:
            yield from enumerate(plain, start=1)


TraceCall = _Call
"""A valid ``llm_call`` entry: UTC ``day``, task type, model, status, token
counts, ``cost_usd`` (None when unpriced) and ``latency_ms``."""


def read_trace_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """Yield (line number, raw line) pairs of a trace file; ``.gz`` files are decompressed."""
    return _read_lines(Path(path))


def parse_llm_call(raw: bytes, pricing: Mapping[str, ModelPrice] | None = None) -> TraceCall | None:
    """The valid ``llm_call`` entry on one trace line, priced like `build_report` prices it.

    None for every line the report leaves out of its totals: blank or malformed
    lines, other event types and entries with missing or invalid fields.
    """
    entry = _decode(raw) if raw.strip() else None
    if entry is None or entry.get("type") != LLM_CALL:
        return None
    parsed = _parse_call(entry, _parse_timestamp(entry.get("timestamp")))
    if isinstance(parsed, list):
        return None
    return _priced(parsed, pricing if pricing is not None else {})


# --- accumulation -----------------------------------------------------------


def _ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


class _Accumulator:
    """Running totals for one set of calls."""

    def __init__(self) -> None:
        self.statuses = dict.fromkeys(STATUSES, 0)
        self.input_tokens = 0
        self.output_tokens = 0
        self.total_tokens = 0
        self.cached_input_tokens = 0
        self.reasoning_tokens = 0
        self.cost_usd = 0.0
        self.priced = 0
        self.computed = 0
        self.latency = LatencySketch()

    @property
    def requests(self) -> int:
        return self.latency.count

    def add(self, call: _Call) -> None:
        self.statuses[call.status] += 1
        self.input_tokens += call.input_tokens
        self.output_tokens += call.output_tokens
        self.total_tokens += call.total_tokens
        self.cached_input_tokens += call.cached_input_tokens
        self.reasoning_tokens += call.reasoning_tokens
        self.latency.add(call.latency_ms)
        if call.cost_usd is not None:
            self.cost_usd += call.cost_usd
            self.priced += 1
            self.computed += int(call.cost_computed)

    def merge(self, other: _Accumulator) -> None:
        for status, count in other.statuses.items():
            self.statuses[status] += count
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.total_tokens += other.total_tokens
        self.cached_input_tokens += other.cached_input_tokens
        self.reasoning_tokens += other.reasoning_tokens
        self.cost_usd += other.cost_usd
        self.priced += other.priced
        self.computed += other.computed
        self.latency.merge(other.latency)

    def totals(self) -> Totals:
        n = self.requests
        return Totals(
            requests=n,
            ok=self.statuses["ok"],
            errors=self.statuses["error"],
            timeouts=self.statuses["timeout"],
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
            total_tokens=self.total_tokens,
            cached_input_tokens=self.cached_input_tokens,
            reasoning_tokens=self.reasoning_tokens,
            cost_usd=self.cost_usd,
            priced_requests=self.priced,
            computed_cost_requests=self.computed,
            unpriced_requests=n - self.priced,
            avg_latency_ms=self.latency.mean(),
            p50_latency_ms=self.latency.quantile(0.50),
            p95_latency_ms=self.latency.quantile(0.95),
            p99_latency_ms=self.latency.quantile(0.99),
            success_rate=_ratio(self.statuses["ok"], n),
            error_rate=_ratio(self.statuses["error"], n),
            timeout_rate=_ratio(self.statuses["timeout"], n),
        )

    def group(self, name: str) -> GroupStats:
        n = self.requests
        return GroupStats(
            name=name,
            requests=n,
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
            total_tokens=self.total_tokens,
            cost_usd=self.cost_usd,
            unpriced_requests=n - self.priced,
            avg_latency_ms=self.latency.total / n,
            p95_latency_ms=self.latency.quantile(0.95) or 0.0,
            error_rate=self.statuses["error"] / n,
            timeout_rate=self.statuses["timeout"] / n,
        )


class _Counter:
    """Counts names and keeps the first few line references."""

    def __init__(self) -> None:
        self.total = 0
        self.names: dict[str, int] = {}
        self.refs: list[LineRef] = []

    def add(self, path: str, line: int, names: Sequence[str] = ()) -> None:
        self.total += 1
        for name in names:
            self.names[name] = self.names.get(name, 0) + 1
        if len(self.refs) < MAX_LINE_REFS:
            self.refs.append(LineRef(path, line))

    def named(self) -> tuple[NamedCount, ...]:
        return tuple(NamedCount(name, count) for name, count in sorted(self.names.items()))


class _BaselineTally:
    """Baseline tokens of the requests a baseline applies to."""

    def __init__(self, baseline: Baseline | None) -> None:
        self.per_request = baseline.tokens_per_request if baseline else None
        self.covered = 0
        self.baseline_tokens = 0.0
        self.actual_tokens = 0

    def add(self, call: _Call) -> None:
        tokens = call.baseline_tokens if call.baseline_tokens is not None else self.per_request
        if tokens is None:
            return
        self.covered += 1
        self.baseline_tokens += tokens
        self.actual_tokens += call.total_tokens


class _Scan:
    """Folds trace lines into totals, groups and data-quality counters."""

    def __init__(self, day: date | None, pricing: Pricing | None, baseline: Baseline | None):
        self.day = day
        self.pricing: Mapping[str, ModelPrice] = pricing if pricing is not None else {}
        self.pairs: dict[tuple[str, str], _Accumulator] = {}
        self.baseline = _BaselineTally(baseline)
        self.lines = 0
        self.outside_day = 0
        self.malformed = _Counter()
        self.missing = _Counter()
        self.other = _Counter()
        self.unpriced = _Counter()
        self.first_day: date | None = None
        self.last_day: date | None = None

    def read(self, path: Path) -> None:
        name = str(path)
        for number, raw in _read_lines(path):
            if raw.strip():
                self.lines += 1
                self.line(raw, name, number)

    def line(self, raw: bytes, path: str, number: int) -> None:
        entry = _decode(raw)
        if entry is None:
            self.malformed.add(path, number)
            return
        moment = _parse_timestamp(entry.get("timestamp"))
        if moment is not None and self.day is not None and moment.date() != self.day:
            self.outside_day += 1
            return
        kind = entry.get("type")
        if kind == LLM_CALL:
            self.call(entry, moment, path, number)
        elif isinstance(kind, str) and kind:
            self.other.add(path, number, (kind,))
        else:
            self.missing.add(path, number, ("type",))

    def call(
        self, entry: Mapping[str, object], moment: datetime | None, path: str, number: int
    ) -> None:
        parsed = _parse_call(entry, moment)
        if isinstance(parsed, list):
            self.missing.add(path, number, parsed)
            return
        parsed = _priced(parsed, self.pricing)
        key = (parsed.task_type, parsed.model)
        pair = self.pairs.get(key)
        if pair is None:
            pair = self.pairs[key] = _Accumulator()
        pair.add(parsed)
        self.baseline.add(parsed)
        if parsed.cost_usd is None:
            self.unpriced.add(path, number, (parsed.model,))
        if self.first_day is None or parsed.day < self.first_day:
            self.first_day = parsed.day
        if self.last_day is None or parsed.day > self.last_day:
            self.last_day = parsed.day

    def merged(self, part: int | None) -> dict[str, _Accumulator]:
        """Merge the (task type, model) accumulators by one key part, or all of them."""
        merged: dict[str, _Accumulator] = {}
        for key, pair in self.pairs.items():
            name = "" if part is None else key[part]
            if name not in merged:
                merged[name] = _Accumulator()
            merged[name].merge(pair)
        return merged

    def totals(self) -> Totals:
        return self.merged(None).get("", _Accumulator()).totals()

    def data_quality(self) -> DataQuality:
        return DataQuality(
            lines=self.lines,
            malformed_lines=self.malformed.total,
            malformed_refs=tuple(self.malformed.refs),
            entries_missing_fields=self.missing.total,
            missing_fields=self.missing.named(),
            missing_field_refs=tuple(self.missing.refs),
            unpriced_models=self.unpriced.named(),
            other_events=self.other.total,
            other_event_types=self.other.named(),
            outside_day=self.outside_day,
        )


def _scan(
    paths: Sequence[Path], day: date | None, pricing: Pricing | None, baseline: Baseline | None
) -> _Scan:
    scan = _Scan(day, pricing, baseline)
    for path in paths:
        scan.read(Path(path))
    return scan


# --- report -----------------------------------------------------------------


def _groups(accumulators: Mapping[str, _Accumulator]) -> tuple[GroupStats, ...]:
    rows = (acc.group(name) for name, acc in accumulators.items())
    return tuple(sorted(rows, key=lambda row: (-row.cost_usd, row.name)))


_CHANGE_METRICS = (
    "requests",
    "input_tokens",
    "output_tokens",
    "total_tokens",
    "cost_usd",
    "avg_latency_ms",
    "p50_latency_ms",
    "p95_latency_ms",
    "p99_latency_ms",
    "success_rate",
    "error_rate",
    "timeout_rate",
)


def _metric(totals: Totals, metric: str) -> float | None:
    value: int | float | None = getattr(totals, metric)
    return None if value is None else float(value)


def _change(metric: str, current: float | None, previous: float | None) -> Change:
    delta = None if current is None or previous is None else current - previous
    pct = None if delta is None or not previous else delta / previous * 100.0
    return Change(metric, current, previous, delta, pct)


def _changes(current: Totals, previous: Totals) -> tuple[Change, ...]:
    return tuple(
        _change(metric, _metric(current, metric), _metric(previous, metric))
        for metric in _CHANGE_METRICS
    )


def _optimisation(scan: _Scan, baseline: Baseline | None, totals: Totals) -> Optimisation | None:
    tally = scan.baseline
    cost_per_request = baseline.cost_per_request if baseline else None
    if not tally.covered and cost_per_request is None:
        return None
    saved = tally.baseline_tokens - tally.actual_tokens
    baseline_cost = actual_cost = savings = savings_pct = None
    if cost_per_request is not None:
        baseline_cost = cost_per_request * totals.priced_requests
        actual_cost = totals.cost_usd
        savings = baseline_cost - actual_cost
        savings_pct = _percent(savings, baseline_cost)
    return Optimisation(
        tokens_per_request=tally.per_request,
        cost_per_request=cost_per_request,
        covered_requests=tally.covered,
        baseline_tokens=tally.baseline_tokens,
        actual_tokens=tally.actual_tokens,
        tokens_saved=saved,
        token_reduction_pct=_percent(saved, tally.baseline_tokens),
        baseline_cost_usd=baseline_cost,
        actual_cost_usd=actual_cost,
        cost_savings_usd=savings,
        cost_savings_pct=savings_pct,
    )


def _percent(part: float, whole: float) -> float | None:
    ratio = _ratio(part, whole)
    return None if ratio is None else ratio * 100.0


def build_report(
    trace_paths: Sequence[Path],
    *,
    day: date | None = None,
    pricing: Pricing | None = None,
    baseline: Baseline | None = None,
    previous_paths: Sequence[Path] = (),
) -> Report:
    """Aggregate trace files into a `Report`.

    With ``day``, only entries whose UTC date is ``day`` count (naive
    timestamps are UTC) and the comparison reads ``previous_paths`` for the
    day before; without it every entry counts. The comparison is omitted when
    ``previous_paths`` is empty. Unreadable lines are counted in the data
    quality section; a file that cannot be opened raises `OSError`.
    """
    scan = _scan(trace_paths, day, pricing, baseline)
    totals = scan.totals()
    previous_day = day - timedelta(days=1) if day is not None and previous_paths else None
    changes = None
    if previous_paths:
        previous = _scan(previous_paths, previous_day, pricing, baseline).totals()
        changes = _changes(totals, previous)
    return Report(
        day=day,
        first_day=scan.first_day,
        last_day=scan.last_day,
        totals=totals,
        by_task_type=_groups(scan.merged(0)),
        by_model=_groups(scan.merged(1)),
        previous_day=previous_day,
        changes=changes,
        optimisation=_optimisation(scan, baseline, totals),
        data_quality=scan.data_quality(),
    )
