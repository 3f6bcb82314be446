"""What each command imports. Start-up is most of the time of a small spec: `monitorgen
validate` runs every check, lint included, without the heavy modules only a build needs
(grafanalib's dashboard classes take longer to import than validating the flagship), and a
build leaves out what only other commands and large specs need."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FLAGSHIP = ROOT / "specs" / "llm.yaml"
#: grafanalib's table of Grafana unit ids, a module of constants the unit lint reads.
GRAFANALIB_UNIT_TABLE = {"grafanalib", "grafanalib.formatunits"}

_RUN_THEN_LIST_MODULES = """
import json, sys
from monitorgen.cli import main
try:
    main(sys.argv[1:])
except SystemExit as done:
    code = done.code
print(json.dumps({"exit": code, "modules": sorted(sys.modules)}))
"""


def _monitorgen(*args: str | Path) -> tuple[int, set[str]]:
    """Exit code of a monitorgen command, run in a fresh interpreter, and every module
    loaded by its end."""
    run = subprocess.run(
        [sys.executable, "-c", _RUN_THEN_LIST_MODULES, *map(str, args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    report = json.loads(run.stdout.splitlines()[-1])
    return report["exit"], set(report["modules"])


def _grafanalib(modules: set[str]) -> set[str]:
    return {m for m in modules if m.split(".")[0] == "grafanalib"}


def test_validate_imports_no_grafanalib_dashboard_code() -> None:
    specs = (FLAGSHIP, *sorted((ROOT / "tests" / "specs").glob("*.yaml")))
    exit_code, modules = _monitorgen("validate", *specs)
    assert exit_code == 0
    assert "monitorgen.lint.dashboards" in modules  # the dashboard lint did run
    assert _grafanalib(modules) <= GRAFANALIB_UNIT_TABLE
    assert "monitorgen.targets.grafana.build" not in modules


def test_build_does_import_grafanalib(tmp_path: Path) -> None:
    """The listing above can tell: after a build it shows grafanalib's dashboard code."""
    exit_code, modules = _monitorgen("build", "--output", tmp_path, FLAGSHIP)
    assert exit_code == 0
    assert "grafanalib.core" in _grafanalib(modules)


def test_building_the_flagship_imports_nothing_only_other_work_needs(tmp_path: Path) -> None:
    """The report code, SQLite, the worker processes of large specs, the time zone
    database and the external tools stay unloaded."""
    exit_code, modules = _monitorgen("build", "--output", tmp_path, FLAGSHIP)
    assert exit_code == 0
    assert {"grafanalib.core", "monitorgen.targets.grafana.build"} <= modules  # it did build
    not_needed = {"sqlite3", "multiprocessing", "zoneinfo", "subprocess", "monitorgen.tools"}
    assert not_needed & modules == set()
    assert not any(m == "monitorgen.report" or m.startswith("monitorgen.report.") for m in modules)
