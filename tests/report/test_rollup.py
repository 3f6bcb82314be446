"""Rollup of trace logs into durable daily and monthly totals, and raw-log pruning."""

from __future__ import annotations

import gzip
import json
import sqlite3
from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitorgen.cli import main
from monitorgen.report import ModelPrice, Pricing, build_report
from monitorgen.report.rollup import (
    MEASURES,
    RollupError,
    TotalsRow,
    daily_totals,
    monthly_totals,
    prune_raw_traces,
    rollup,
)

FIXTURES = Path(__file__).parent / "fixtures"
FIXTURE_TRACES = sorted(FIXTURES.glob("trace_2026-11-2*.jsonl"))
PRICING = Pricing({"gpt-small": ModelPrice(input=1.0, output=2.0, cached_input=0.5)})


def call(
    when: str,
    *,
    task: str = "chat",
    model: str = "m1",
    tokens: tuple[int, int] = (100, 10),
    cost: float | None = 0.5,
    status: str = "ok",
    latency_ms: float = 100.0,
) -> dict[str, object]:
    return {
        "type": "llm_call",
        "timestamp": when,
        "task_type": task,
        "model": model,
        "input_tokens": tokens[0],
        "output_tokens": tokens[1],
        "cost_usd": cost,
        "latency_ms": latency_ms,
        "status": status,
    }


def write_trace(
    path: Path, entries: Iterable[Mapping[str, object]], *, append: bool = False
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a" if append else "w") as handle:
        for entry in entries:
            handle.write(json.dumps(entry) + "\n")
    return path


def by_key(rows: list[TotalsRow]) -> dict[tuple[str, str, str], Mapping[str, int | float]]:
    return {(row.period, row.task_type, row.model): row.totals for row in rows}


def day_sum(rows: list[TotalsRow], period: str, measure: str) -> float:
    return sum(row.totals[measure] for row in rows if row.period == period)


# --- agreement with the report ----------------------------------------------


@pytest.mark.parametrize("day", [date(2026, 11, 25), date(2026, 11, 26)])
def test_daily_totals_agree_with_the_daily_report(tmp_path: Path, day: date) -> None:
    db = tmp_path / "rollup.sqlite"
    rollup(FIXTURE_TRACES, db, pricing=PRICING)
    report = build_report(FIXTURE_TRACES, day=day, pricing=PRICING)
    rows = daily_totals(db)
    period = day.isoformat()
    totals = report.totals
    assert day_sum(rows, period, "requests") == totals.requests
    assert day_sum(rows, period, "errors") == totals.errors
    assert day_sum(rows, period, "timeouts") == totals.timeouts
    assert day_sum(rows, period, "input_tokens") == totals.input_tokens
    assert day_sum(rows, period, "output_tokens") == totals.output_tokens
    assert day_sum(rows, period, "total_tokens") == totals.total_tokens
    assert day_sum(rows, period, "cached_input_tokens") == totals.cached_input_tokens
    assert day_sum(rows, period, "cost_usd") == pytest.approx(totals.cost_usd)
    assert day_sum(rows, period, "unpriced_requests") == totals.unpriced_requests
    assert totals.avg_latency_ms is not None
    assert day_sum(rows, period, "latency_ms_total") == pytest.approx(
        totals.avg_latency_ms * totals.requests
    )
    for group in report.by_task_type:
        task_rows = [r for r in rows if r.period == period and r.task_type == group.name]
        assert sum(r.totals["total_tokens"] for r in task_rows) == group.total_tokens
        assert sum(r.totals["cost_usd"] for r in task_rows) == pytest.approx(group.cost_usd)


def test_monthly_totals_sum_the_days_of_each_month(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    write_trace(logs / "trace_2026-01-31.jsonl", [call("2026-01-31T10:00:00Z", tokens=(10, 1))])
    write_trace(
        logs / "trace_2026-02-01.jsonl",
        [
            call("2026-02-01T10:00:00Z", tokens=(20, 2), cost=1.25),
            call("2026-02-01T11:00:00Z", tokens=(30, 3), status="timeout", cost=None),
        ],
    )
    write_trace(logs / "trace_2026-02-02.jsonl", [call("2026-02-02T10:00:00Z", tokens=(40, 4))])
    db = tmp_path / "r.sqlite"
    rollup(sorted(logs.iterdir()), db)
    months = by_key(monthly_totals(db))
    assert set(months) == {("2026-01", "chat", "m1"), ("2026-02", "chat", "m1")}
    february = months["2026-02", "chat", "m1"]
    assert february["requests"] == 3
    assert february["input_tokens"] == 20 + 30 + 40
    assert february["timeouts"] == 1
    assert february["unpriced_requests"] == 1
    assert february["cost_usd"] == pytest.approx(1.25 + 0.5)
    days = daily_totals(db)
    for measure in MEASURES:
        assert february[measure] == pytest.approx(
            sum(r.totals[measure] for r in days if r.period.startswith("2026-02"))
        )


# --- idempotence ------------------------------------------------------------


def snapshot(db: Path) -> tuple[list[TotalsRow], list[TotalsRow]]:
    return daily_totals(db), monthly_totals(db)


def test_rerunning_on_the_same_files_changes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "r.sqlite"
    first = rollup(FIXTURE_TRACES, db, pricing=PRICING)
    before = snapshot(db)
    assert before[0]
    again = rollup(FIXTURE_TRACES, db, pricing=PRICING)
    rollup(FIXTURE_TRACES[:1], db, pricing=PRICING)
    assert snapshot(db) == before
    assert again.calls == first.calls


def test_a_grown_file_replaces_its_earlier_totals(tmp_path: Path) -> None:
    trace = write_trace(tmp_path / "trace_2026-03-01.jsonl", [call("2026-03-01T01:00:00Z")])
    db = tmp_path / "r.sqlite"
    rollup([trace], db)
    write_trace(trace, [call("2026-03-01T02:00:00Z", tokens=(7, 3))], append=True)
    rollup([trace], db)
    rollup([trace], db)
    (row,) = daily_totals(db)
    assert row.totals["requests"] == 2
    assert row.totals["input_tokens"] == 107
    assert row.totals["total_tokens"] == 110 + 10


def test_a_day_spread_over_two_files_sums_both_even_when_rolled_up_apart(
    tmp_path: Path,
) -> None:
    # Files cut at local midnight hold the evening of the previous UTC day.
    first = write_trace(
        tmp_path / "trace_2026-03-01.jsonl",
        [call("2026-03-01T20:00:00Z", model="a"), call("2026-03-01T21:00:00Z", model="b")],
    )
    second = write_trace(
        tmp_path / "trace_2026-03-02.jsonl",
        [call("2026-03-01T23:30:00Z", model="a"), call("2026-03-02T08:00:00Z", model="a")],
    )
    db = tmp_path / "r.sqlite"
    rollup([first], db)
    rollup([second], db)
    rollup([first], db)
    days = by_key(daily_totals(db))
    assert days["2026-03-01", "chat", "a"]["requests"] == 2
    assert days["2026-03-01", "chat", "b"]["requests"] == 1
    assert days["2026-03-02", "chat", "a"]["requests"] == 1
    assert by_key(monthly_totals(db))["2026-03", "chat", "a"]["requests"] == 3


def test_a_day_that_left_a_file_is_recomputed(tmp_path: Path) -> None:
    trace = write_trace(tmp_path / "trace_2026-03-05.jsonl", [call("2026-03-04T23:00:00Z")])
    db = tmp_path / "r.sqlite"
    rollup([trace], db)
    write_trace(trace, [call("2026-03-05T01:00:00Z")])
    result = rollup([trace], db)
    assert [row.period for row in daily_totals(db)] == ["2026-03-05"]
    assert result.recomputed_days == ("2026-03-04", "2026-03-05")


def test_compressed_copy_counts_as_the_same_file(tmp_path: Path) -> None:
    plain = write_trace(tmp_path / "a" / "trace_2026-03-01.jsonl", [call("2026-03-01T01:00:00Z")])
    packed = tmp_path / "b" / "trace_2026-03-01.jsonl.gz"
    packed.parent.mkdir()
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    db = tmp_path / "r.sqlite"
    rollup([plain], db)
    rollup([packed], db)
    assert [row.totals["requests"] for row in daily_totals(db)] == [1]


def test_two_files_of_one_name_in_one_run_are_refused(tmp_path: Path) -> None:
    one = write_trace(tmp_path / "a" / "trace_2026-03-01.jsonl", [call("2026-03-01T01:00:00Z")])
    two = write_trace(tmp_path / "b" / "trace_2026-03-01.jsonl", [call("2026-03-01T02:00:00Z")])
    with pytest.raises(RollupError, match=r"trace_2026-03-01\.jsonl"):
        rollup([one, two], tmp_path / "r.sqlite")


def test_nothing_is_stored_when_one_trace_cannot_be_read(tmp_path: Path) -> None:
    good = write_trace(tmp_path / "trace_2026-03-01.jsonl", [call("2026-03-01T01:00:00Z")])
    db = tmp_path / "r.sqlite"
    with pytest.raises(OSError):
        rollup([good, tmp_path / "trace_2026-03-02.jsonl"], db)
    assert not db.exists() or daily_totals(db) == []


def test_a_database_of_another_schema_version_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "r.sqlite"
    with sqlite3.connect(db) as connection:
        connection.execute("PRAGMA user_version = 99")
    trace = write_trace(tmp_path / "trace_2026-03-01.jsonl", [call("2026-03-01T01:00:00Z")])
    with pytest.raises(RollupError, match="version 99"):
        rollup([trace], db)


def test_invalid_lines_are_skipped_and_counted(tmp_path: Path) -> None:
    trace = write_trace(
        tmp_path / "trace_2026-03-01.jsonl",
        [call("2026-03-01T01:00:00Z"), {"type": "feedback"}, {"type": "llm_call"}],
    )
    with trace.open("a") as handle:
        handle.write("not json\n\n")
    result = rollup([trace], tmp_path / "r.sqlite")
    assert (result.calls, result.skipped_lines) == (1, 3)


# --- pruning ----------------------------------------------------------------


def test_prune_deletes_only_old_rolled_up_unchanged_files(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    today = date(2026, 4, 20)

    def dated(days_ago: int) -> Path:
        day = today - timedelta(days=days_ago)
        return write_trace(logs / f"trace_{day}.jsonl", [call(f"{day}T12:00:00Z")])

    old_done, edge, recent = dated(9), dated(7), dated(1)
    old_missing, old_changed = dated(10), dated(8)
    other = write_trace(logs / "notes_2026-01-01.jsonl", [call("2026-01-01T00:00:00Z")])
    db = tmp_path / "r.sqlite"
    rollup([old_done, edge, recent, old_changed], db)
    write_trace(old_changed, [call("2026-04-12T13:00:00Z")], append=True)

    result = prune_raw_traces([logs], db, today=today, raw_days=7)

    assert result.cutoff == date(2026, 4, 13)
    assert result.deleted == (old_done,)
    assert set(result.not_rolled_up) == {old_missing, old_changed}
    assert not old_done.exists()
    assert all(p.exists() for p in (edge, recent, old_missing, old_changed, other))
    assert daily_totals(db)[0].period == "2026-04-11"


# --- command ----------------------------------------------------------------


def test_command_rolls_up_and_prunes_from_the_newest_day_seen(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    old = write_trace(logs / "trace_2026-05-01.jsonl", [call("2026-05-01T10:00:00Z")])
    new = write_trace(logs / "trace_2026-05-10.jsonl", [call("2026-05-10T10:00:00Z")])
    db = tmp_path / "rollup.sqlite"
    runner = CliRunner()
    args = ["rollup", str(old), str(new), "--db", str(db)]

    first = runner.invoke(main, args)
    assert first.exit_code == 0, first.output
    assert "rolled up 2 call(s) from 2 file(s)" in first.output
    assert old.exists()

    pruned = runner.invoke(main, ["rollup", str(new), "--db", str(db), "--prune"])
    assert pruned.exit_code == 0, pruned.output
    assert "deleted 1 raw trace file(s) dated before 2026-05-03" in pruned.output
    assert not old.exists() and new.exists()
    assert [row.period for row in daily_totals(db)] == ["2026-05-01", "2026-05-10"]


def test_command_prune_needs_a_day(tmp_path: Path) -> None:
    trace = write_trace(tmp_path / "events.jsonl", [{"type": "feedback"}])
    result = CliRunner().invoke(
        main, ["rollup", str(trace), "--db", str(tmp_path / "r.sqlite"), "--prune"]
    )
    assert result.exit_code == 2
    assert "--today" in result.output


def test_command_reports_an_unusable_database_without_a_traceback(tmp_path: Path) -> None:
    trace = write_trace(tmp_path / "trace_2026-03-01.jsonl", [call("2026-03-01T01:00:00Z")])
    db = tmp_path / "not-a-db.sqlite"
    db.write_text("plain text, not SQLite " * 100)
    result = CliRunner().invoke(main, ["rollup", str(trace), "--db", str(db)])
    assert result.exit_code == 1
    assert "Error:" in result.output
    assert "Traceback" not in result.output


def test_command_prices_entries_without_cost_from_the_spec(tmp_path: Path) -> None:
    spec = tmp_path / "priced.yaml"
    spec.write_text(
        "version: 1\nservice: priced\n"
        "metrics:\n  - {name: priced_calls_total, type: counter, help: Calls.}\n"
        "pricing:\n  models:\n    m1: {input: 2, output: 10}\n"
    )
    trace = write_trace(
        tmp_path / "trace_2026-06-01.jsonl",
        [call("2026-06-01T10:00:00Z", tokens=(1_000_000, 100_000), cost=None)],
    )
    db = tmp_path / "r.sqlite"
    result = CliRunner().invoke(main, ["rollup", str(trace), "--db", str(db), "--spec", str(spec)])
    assert result.exit_code == 0, result.output
    (row,) = daily_totals(db)
    assert row.totals["cost_usd"] == pytest.approx(2.0 + 1.0)
    assert row.totals["unpriced_requests"] == 0
