"""Builds are deterministic: same bytes across processes, hash seeds and spec order.

Two builds in one process share the order in which sets of strings iterate, so the
main test runs two processes with different PYTHONHASHSEED values, which is what
differs between a developer's machine and CI.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from datetime import date
from importlib import metadata
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitorgen.cli import main

ROOT = Path(__file__).resolve().parent.parent
SPECS = (
    ROOT / "specs" / "llm.yaml",
    ROOT / "tests" / "specs" / "http_api.yaml",
    ROOT / "tests" / "specs" / "queue_worker.yaml",
)


def _tree(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "specs").mkdir()
    for spec in SPECS:
        shutil.copy(spec, tmp_path / "specs" / spec.name)
    return tmp_path


def _build_in_a_new_process(project: Path, hash_seed: str, output: str, *specs: str) -> None:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": str(ROOT)}
    completed = subprocess.run(
        [sys.executable, "-m", "monitorgen", "build", "-o", output, *specs],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_two_processes_with_different_hash_seeds_write_the_same_bytes(project: Path) -> None:
    _build_in_a_new_process(project, "1", "first")
    _build_in_a_new_process(project, "2", "second")
    first = _tree(project / "first")
    assert {path.split("/")[0] for path in first} == {spec.stem for spec in SPECS}
    assert first == _tree(project / "second")


def test_the_order_specs_are_given_in_does_not_matter(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project)
    names = [f"specs/{spec.name}" for spec in SPECS]
    runner = CliRunner()
    assert runner.invoke(main, ["build", "-o", "forward", *names]).exit_code == 0
    assert runner.invoke(main, ["build", "-o", "backward", *reversed(names)]).exit_code == 0
    assert _tree(project / "forward") == _tree(project / "backward")


def test_rebuilding_over_an_existing_tree_changes_nothing(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project)
    runner = CliRunner()
    assert runner.invoke(main, ["build", "specs/llm.yaml"]).exit_code == 0
    before = _tree(project / "generated")
    assert runner.invoke(main, ["build", "specs/llm.yaml"]).exit_code == 0
    assert _tree(project / "generated") == before


def test_no_date_or_tool_version_is_stamped_into_the_output(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project)
    assert CliRunner().invoke(main, ["build"]).exit_code == 0
    version = metadata.version("monitorgen")
    today = date.today()
    stamps = [today.isoformat(), today.strftime("%Y%m%d"), f"monitorgen {version}", f"v{version}"]
    iso_datetime = re.compile(r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
    for path, content in _tree(project / "generated").items():
        text = content.decode("utf-8")
        for stamp in stamps:
            assert stamp not in text, f"{path} contains {stamp!r}"
        assert not iso_datetime.search(text), f"{path} contains a timestamp"
