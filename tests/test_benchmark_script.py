"""The benchmark script's side-by-side runs against a baseline revision (not timed)."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from benchmarks.run import (
    ROOT,
    Case,
    baseline,
    command_argv,
    main,
    report_against_baseline,
    this_tree,
)
from benchmarks.synthetic import generate


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=True
    ).stdout


@pytest.fixture(scope="module")
def git_history() -> None:
    if subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], check=False).returncode:
        pytest.skip("not a git checkout")


def test_a_baseline_runs_the_exported_revision_not_the_installed_tree(
    tmp_path: Path, git_history: None
) -> None:
    side = baseline("HEAD", tmp_path)
    exported = (side.root / "monitorgen" / "pipeline.py").read_text(encoding="utf-8")
    assert exported == _git("show", "HEAD:monitorgen/pipeline.py")
    imported = subprocess.run(
        [sys.executable, "-c", "import monitorgen; print(monitorgen.__file__)"],
        cwd=side.work,
        env=side.env(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert Path(imported) == side.root / "monitorgen" / "__init__.py"


def test_an_unknown_revision_stops_with_gits_message(tmp_path: Path, git_history: None) -> None:
    with pytest.raises(SystemExit, match="cannot export no-such-revision"):
        baseline("no-such-revision", tmp_path)


def test_each_side_writes_its_own_output_and_verdict_cache(tmp_path: Path) -> None:
    now = this_tree(tmp_path)
    case = Case(10, tmp_path / "spec.yaml", generate(10))
    base = now.__class__("old", tmp_path, tmp_path / "old", python_path=tmp_path)
    assert command_argv(case, "build", now)[-1] != command_argv(case, "build", base)[-1]
    assert now.env()["MONITORGEN_CACHE_DIR"] != base.env()["MONITORGEN_CACHE_DIR"]
    assert "PYTHONPATH" not in now.env() or now.env()["PYTHONPATH"] != str(tmp_path)
    assert base.env()["PYTHONPATH"] == str(tmp_path)


def test_the_comparison_prints_both_medians_and_their_ratio() -> None:
    case = Case(100, Path("spec.yaml"), generate(10))
    times = {("now", 100, "build"): 1.5, ("old", 100, "build"): 3.0}
    header, row = report_against_baseline([case], ["build"], times, "now", "old")
    assert header.split() == ["size", "command", "now", "old", "ratio"]
    assert row.split() == ["100", "build", "1.50s", "3.00s", "0.50x"]


def test_one_command_times_this_tree_against_a_baseline(
    capsys: pytest.CaptureFixture[str], git_history: None
) -> None:
    main(["--sizes", "10", "--repeat", "1", "--commands", "validate", "--baseline", "HEAD"])
    out = capsys.readouterr().out
    assert "[this tree]" in out and "[HEAD]" in out
    (compared,) = [line for line in out.splitlines() if line.split()[:2] == ["10", "validate"]]
    mine, theirs, ratio = (float(cell.rstrip("sx")) for cell in compared.split()[2:])
    assert ratio == pytest.approx(mine / theirs, rel=0.05)  # the times are printed rounded
    assert "start-up (this tree)" in out and "start-up (HEAD)" in out


def test_cold_runs_ask_for_no_cache_where_the_side_has_one(tmp_path: Path) -> None:
    now = this_tree(tmp_path)
    case = Case(10, tmp_path / "spec.yaml", generate(10))
    older = replace(now, name="old", cache_everywhere=False)
    for command in ("validate", "build", "check"):
        assert "--no-cache" not in command_argv(case, command, now)
        assert "--no-cache" in command_argv(case, f"{command}-cold", now)
        cold = command_argv(case, f"{command}-cold", older)
        assert ("--no-cache" in cold) == (command == "check")
        assert cold[3] == command


#: The last revision whose validate and build had no cache.
BEFORE_THE_PARSE_CACHE = "b1905c0"


def test_a_baseline_from_before_the_parse_cache_runs_cold_without_the_option(
    tmp_path: Path, git_history: None
) -> None:
    known = subprocess.run(
        ["git", "-C", str(ROOT), "cat-file", "-e", f"{BEFORE_THE_PARSE_CACHE}^{{commit}}"],
        check=False,
    )
    if known.returncode:
        pytest.skip("history too shallow")
    assert baseline(BEFORE_THE_PARSE_CACHE, tmp_path).cache_everywhere is False
