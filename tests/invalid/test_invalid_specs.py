"""The invalid-spec suite: every file here is wrong in one way, and says where.

Each `*.yaml` file starts with one or more lines

    # expect: [FILE:]LINE:COLUMN PATH CODE
    # output: text that must appear in the text report

FILE defaults to the spec itself (a fragment under `parts/` for errors inside an
included file) and PATH is the field path, `-` when the finding has none. The
tests run the real CLI and require exit 1, the finding at that exact place, no
traceback, and an output folder that a failed build leaves byte-for-byte as it was.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from monitorgen.cli import main
from monitorgen.spec.loader import MAX_SPEC_BYTES

HERE = Path(__file__).resolve().parent
FOLDER = "invalid"
_EXPECT = re.compile(
    r"^# expect: (?:(?P<file>\S+?):)?(?P<line>\d+):(?P<column>\d+) (?P<path>\S+) (?P<code>\S+)$"
)
_OUTPUT = re.compile(r"^# output: (?P<text>.+)$")


@dataclass(frozen=True)
class Expected:
    file: str
    line: int
    column: int
    path: str
    code: str

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"

    @property
    def json_path(self) -> str:
        return "<top level>" if self.path == "-" else self.path

    def text_prefix(self) -> str:
        """How a text report line starts: `file:line:col: path: `."""
        where = "" if self.path == "-" else f"{self.path}: "
        return f"{self.location}: {where}"

    def matches(self, item: dict[str, object]) -> bool:
        return (item["file"], item["line"], item["column"], item["path"], item["code"]) == (
            self.file,
            self.line,
            self.column,
            self.json_path,
            self.code,
        )


@dataclass(frozen=True)
class Case:
    name: str
    expected: tuple[Expected, ...]
    output: tuple[str, ...]

    @property
    def spec(self) -> str:
        return f"{FOLDER}/{self.name}"


def _read_case(path: Path) -> Case:
    expected: list[Expected] = []
    output: list[str] = []
    for line in path.read_bytes().decode("utf-8", errors="replace").splitlines():
        if match := _EXPECT.match(line):
            file = f"{FOLDER}/{match['file']}" if match["file"] else f"{FOLDER}/{path.name}"
            expected.append(
                Expected(
                    file, int(match["line"]), int(match["column"]), match["path"], match["code"]
                )
            )
        elif match := _OUTPUT.match(line):
            output.append(match["text"])
    return Case(path.name, tuple(expected), tuple(output))


CASES = [_read_case(p) for p in sorted(HERE.glob("*.yaml"))]


def test_the_suite_is_large_and_every_file_declares_its_expectation() -> None:
    assert len(CASES) >= 30
    for case in CASES:
        assert case.expected, f"{case.name} has no '# expect:' line"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of this folder's specs, so reports name them `invalid/<file>`."""
    root = tmp_path_factory.mktemp("invalid-suite")
    shutil.copytree(HERE, root / FOLDER, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return root


@pytest.fixture
def in_workdir(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(workdir)
    return workdir


def _invoke(*args: str) -> Result:
    result = CliRunner().invoke(main, list(args))
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit
    ), f"exception: {result.exception!r}\n{result.output}"
    return result


def _assert_clean_failure(result: Result) -> None:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_text_report_names_file_line_column_path_and_code(case: Case, in_workdir: Path) -> None:
    result = _invoke("validate", case.spec)
    _assert_clean_failure(result)
    lines = result.output.splitlines()
    for expected in case.expected:
        assert any(
            line.startswith(expected.text_prefix()) and line.endswith(f"[{expected.code}]")
            for line in lines
        ), f"no line '{expected.text_prefix()}... [{expected.code}]' in:\n{result.output}"
    for text in case.output:
        assert text in result.output


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_json_report_has_the_finding(case: Case, in_workdir: Path) -> None:
    result = _invoke("validate", "--format", "json", case.spec)
    _assert_clean_failure(result)
    report = json.loads(result.stdout)
    assert report["ok"] is False
    for expected in case.expected:
        assert any(expected.matches(d) for d in report["diagnostics"]), (
            f"{expected} not in {json.dumps(report['diagnostics'], indent=1)}"
        )


def _snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every file (with its bytes) and every folder (None) under `folder`."""
    return {
        str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None)
        for p in sorted(folder.rglob("*"))
    }


def _populated_output(root: Path) -> Path:
    output = root / "out"
    shutil.rmtree(output, ignore_errors=True)
    (output / "demo" / "prometheus").mkdir(parents=True)
    (output / "demo" / "prometheus" / "rules.yml").write_text("# an earlier build\ngroups: []\n")
    (output / "other").mkdir()
    (output / "other" / "notes.txt").write_bytes(b"kept as it is\n")
    return output


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_failed_build_leaves_the_output_untouched(case: Case, in_workdir: Path) -> None:
    output = _populated_output(in_workdir)
    before = _snapshot(output)
    result = _invoke("build", case.spec, "-o", str(output))
    _assert_clean_failure(result)
    assert "nothing written" in result.output
    assert _snapshot(output) == before


def test_every_case_through_python_m_monitorgen(workdir: Path) -> None:
    """One real process over the whole suite: exit 1, no traceback, every finding."""
    env = {**os.environ, "PYTHONPATH": str(HERE.parent.parent)}
    completed = subprocess.run(
        [sys.executable, "-m", "monitorgen", "validate", "--format", "json"]
        + [case.spec for case in CASES],
        cwd=workdir,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 1, completed.stderr
    assert "Traceback" not in completed.stdout + completed.stderr
    diagnostics = json.loads(completed.stdout)["diagnostics"]
    for case in CASES:
        for expected in case.expected:
            assert any(expected.matches(d) for d in diagnostics), f"{case.name}: {expected}"


def test_oversized_file_is_refused_before_parsing(in_workdir: Path) -> None:
    spec = in_workdir / "huge.yaml"
    padding = "# padding to push the file over the limit\n"
    spec.write_text(
        "version: 1\nservice: demo\n" + padding * (MAX_SPEC_BYTES // len(padding) + 1),
        encoding="utf-8",
    )
    assert spec.stat().st_size > MAX_SPEC_BYTES
    result = _invoke("validate", "--format", "json", "huge.yaml")
    _assert_clean_failure(result)
    [finding] = json.loads(result.stdout)["diagnostics"]
    assert (finding["file"], finding["code"]) == ("huge.yaml", "io/too-large")
    assert str(MAX_SPEC_BYTES) in finding["message"]

    output = _populated_output(in_workdir)
    before = _snapshot(output)
    _assert_clean_failure(_invoke("build", "huge.yaml", "-o", str(output)))
    assert _snapshot(output) == before
