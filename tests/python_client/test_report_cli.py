"""`monitorgen report`: the daily report with the spec's prices and baseline, the previous
day found next to the given trace file, output to a file, archive and e-mail."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from monitorgen.cli import main
from tests.harness import SmtpCapture

SPEC = """\
version: 1
service: bot
title: Bot
metrics:
  - name: bot_tokens_total
    type: counter
    help: Tokens.
events:
  - name: llm_call
    fields:
      - {name: input_tokens, type: int}
    updates:
      - {metric: bot_tokens_total, inc: input_tokens}
pricing:
  models:
    gpt-4o: {input: 2.5, output: 10}
baseline:
  tokens_per_request: 1500
"""
MAIL = """\
report:
  title: Bot daily
  mail:
    to: [team@example.com]
    from: reports@example.com
    smarthost: "{smarthost}"
    require_tls: false
"""


def call(**fields: Any) -> str:
    entry = {"type": "llm_call", "provider": "openai", "status": "ok", **fields}
    return json.dumps(entry)


TODAY = [
    call(timestamp="2026-11-26T08:00:00+00:00", task_type="chat", model="gpt-4o",
         input_tokens=1000, output_tokens=200, cost_usd=None, latency_ms=100.0),
    call(timestamp="2026-11-26T09:00:00+00:00", task_type="chat", model="gpt-4o-mini",
         input_tokens=2000, output_tokens=100, cost_usd=0.01, latency_ms=300.0, status="error"),
    "{not json",
    call(timestamp="2026-11-26T10:00:00+00:00", task_type="summarize", model="mystery",
         input_tokens=500, output_tokens=50, latency_ms=200.0),
    json.dumps({"type": "quality_score", "timestamp": "2026-11-26T10:00:00+00:00", "score": 1}),
]  # fmt: skip
YESTERDAY = [
    call(timestamp="2026-11-25T08:00:00+00:00", task_type="chat", model="gpt-4o",
         input_tokens=100, output_tokens=10, cost_usd=0.001, latency_ms=50.0),
]  # fmt: skip
GPT_4O_CALL = (1000 * 2.5 + 200 * 10) / 1e6


@pytest.fixture
def logs(tmp_path: Path) -> Path:
    folder = tmp_path / "logs"
    folder.mkdir()
    (folder / "trace_2026-11-26.jsonl").write_text("\n".join(TODAY) + "\n")
    (folder / "trace_2026-11-25.jsonl").write_text("\n".join(YESTERDAY) + "\n")
    return folder


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    path = tmp_path / "bot.yaml"
    path.write_text(SPEC)
    return path


def run(*args: str | Path) -> Any:
    return CliRunner().invoke(main, ["report", *map(str, args)], catch_exceptions=False)


def report_json(*args: str | Path) -> dict[str, Any]:
    result = run(*args, "--format", "json")
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_prices_and_baseline_come_from_the_spec(logs: Path, spec: Path) -> None:
    data = report_json(logs / "trace_2026-11-26.jsonl", "--spec", spec)
    totals = data["totals"]
    assert data["day"] == "2026-11-26"
    assert (totals["requests"], totals["ok"], totals["errors"]) == (3, 2, 1)
    assert (totals["input_tokens"], totals["output_tokens"], totals["total_tokens"]) == (
        3500,
        350,
        3850,
    )
    assert totals["cost_usd"] == pytest.approx(GPT_4O_CALL + 0.01)
    assert (totals["computed_cost_requests"], totals["unpriced_requests"]) == (1, 1)
    optimisation = data["optimisation"]
    assert optimisation["baseline_tokens"] == 3 * 1500
    assert optimisation["tokens_saved"] == 3 * 1500 - 3850
    quality = data["data_quality"]
    assert quality["malformed_lines"] == 1
    assert [ref["line"] for ref in quality["malformed_refs"]] == [3]
    assert quality["other_events"] == 1
    assert [(m["name"], m["count"]) for m in quality["unpriced_models"]] == [("mystery", 1)]


def test_without_a_spec_nothing_is_priced_and_there_is_no_baseline(logs: Path) -> None:
    data = report_json(logs / "trace_2026-11-26.jsonl")
    assert data["totals"]["cost_usd"] == pytest.approx(0.01)
    assert data["totals"]["computed_cost_requests"] == 0
    assert data["optimisation"] is None


def test_the_previous_day_is_found_next_to_the_trace(logs: Path, spec: Path) -> None:
    data = report_json(logs / "trace_2026-11-26.jsonl", "--spec", spec)
    assert data["previous_day"] == "2026-11-25"
    changes = {c["metric"]: c for c in data["changes"]}
    assert (changes["requests"]["current"], changes["requests"]["previous"]) == (3, 1)
    (logs / "trace_2026-11-25.jsonl").unlink()
    alone = report_json(logs / "trace_2026-11-26.jsonl", "--spec", spec)
    assert alone["changes"] is None and alone["previous_day"] is None


def test_date_filters_a_trace_of_any_name(logs: Path, tmp_path: Path) -> None:
    mixed = tmp_path / "all.jsonl"
    mixed.write_text("\n".join(YESTERDAY + TODAY) + "\n")
    data = report_json(mixed, "--date", "2026-11-25")
    assert data["day"] == "2026-11-25"
    assert data["totals"]["requests"] == 1
    assert data["data_quality"]["outside_day"] == 4  # the 26th: three calls, one other event
    unfiltered = report_json(mixed)
    assert unfiltered["day"] is None and unfiltered["totals"]["requests"] == 4


def test_markdown_to_a_file(logs: Path, spec: Path, tmp_path: Path) -> None:
    target = tmp_path / "reports" / "daily.md"
    result = run(logs / "trace_2026-11-26.jsonl", "--spec", spec, "-o", target)
    assert result.exit_code == 0 and result.stdout == ""
    text = target.read_text()
    assert text.startswith("# Bot — Daily Report\n")  # the spec's title
    assert "**Date**: 2026-11-26" in text
    assert "| chat | 2 |" in text
    assert text == run(logs / "trace_2026-11-26.jsonl", "--spec", spec).stdout


def test_an_empty_day_is_a_report_not_an_error(tmp_path: Path) -> None:
    empty = tmp_path / "trace_2026-11-27.jsonl"
    empty.write_text("")
    data = report_json(empty)
    assert data["totals"]["requests"] == 0
    assert data["data_quality"]["lines"] == 0


def test_an_invalid_spec_exits_1_with_its_findings(logs: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(SPEC.replace("tokens_per_request: 1500", "tokens_per_request: -1"))
    result = run(logs / "trace_2026-11-26.jsonl", "--spec", broken)
    assert result.exit_code == 1
    assert "baseline.tokens_per_request" in result.stderr
    assert result.stdout == ""


def test_a_missing_trace_is_a_usage_error(tmp_path: Path) -> None:
    result = run(tmp_path / "trace_2026-11-26.jsonl")
    assert result.exit_code == 2
    assert "does not exist" in result.stderr


def test_archive_stores_the_report_and_its_index(logs: Path, spec: Path, tmp_path: Path) -> None:
    archive = tmp_path / "reports"
    result = run(logs / "trace_2026-11-26.jsonl", "--spec", spec, "--archive", archive)
    assert result.exit_code == 0, result.output
    assert (archive / "daily_report_2026-11-26.md").read_text() == result.stdout
    assert "daily_report_2026-11-26.md" in (archive / "index.md").read_text()


def test_archive_needs_a_day(logs: Path, tmp_path: Path) -> None:
    other = tmp_path / "calls.jsonl"
    other.write_text("\n".join(TODAY))
    result = run(other, "--archive", tmp_path / "reports")
    assert result.exit_code == 2
    assert "--archive and --send need --date" in result.stderr


def test_send_without_mail_settings_is_a_usage_error(logs: Path, spec: Path) -> None:
    result = run(logs / "trace_2026-11-26.jsonl", "--spec", spec, "--send")
    assert result.exit_code == 2
    assert "report: section has mail:" in result.stderr


def test_send_mails_the_report(logs: Path, tmp_path: Path, smtp_capture: SmtpCapture) -> None:
    spec = tmp_path / "mailing.yaml"
    spec.write_text(SPEC + MAIL.format(smarthost=smtp_capture.address))
    result = run(logs / "trace_2026-11-26.jsonl", "--spec", spec, "--send")
    assert result.exit_code == 0, result.output
    (mail,) = smtp_capture.wait_for_messages(1)
    message = mail.message
    assert message["Subject"] == "Bot daily: 2026-11-26"
    assert mail.rcpt_tos == ["team@example.com"]
    body = message.get_body(("plain",))
    assert body is not None
    assert body.get_content().replace("\r\n", "\n") == result.stdout
    assert result.stdout.startswith("# Bot daily")


def test_a_missing_trace_is_a_day_without_calls_with_missing_ok(tmp_path: Path) -> None:
    result = run(tmp_path / "trace_2026-11-26.jsonl", "--missing-ok")
    assert result.exit_code == 0, result.output
    assert "**Date**: 2026-11-26" in result.stdout
    assert "- Requests: 0 — no requests were recorded for this period." in result.stdout
