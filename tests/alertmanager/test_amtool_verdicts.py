"""`monitorgen check` remembers what amtool accepted of a config, and asks again when the
config, the routing question or the amtool binary differs, or when amtool refused."""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitorgen import tools
from monitorgen.cache_folder import KEEP_SECONDS, cache_root
from monitorgen.cli import main
from tests.alertmanager.test_amtool_cases import HTTP_API, FakeAmtool, _spec
from tests.harness import require_binary


@pytest.fixture
def fake_amtool(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FakeAmtool:
    binary = tmp_path / "bin" / "amtool"
    binary.parent.mkdir()
    binary.write_text("stands in for amtool\n")
    fake = FakeAmtool()
    monkeypatch.setattr(tools, "find_amtool", lambda: str(binary))
    monkeypatch.setattr(tools, "run", fake)
    return fake


def _findings(root: Path, routes: tools.AmtoolRoutes = "tests") -> list[str]:
    runs = tools.start_amtool(_spec(HTTP_API), routes, root)
    assert runs is not None
    return [d.code for d in runs.findings()]


def test_a_config_accepted_before_is_not_asked_about_again(
    fake_amtool: FakeAmtool, tmp_path: Path
) -> None:
    root = tmp_path / "cache"
    assert _findings(root) == []
    asked = len(fake_amtool.commands)
    assert asked == 1 + len(fake_amtool.route_tests()) > 1
    (file,) = (root / "amtool").glob("*.json")
    assert json.loads(file.read_text())["config_accepted"] is True
    assert _findings(root) == []
    assert len(fake_amtool.commands) == asked, "all remembered"
    assert _findings(root, "all") == []
    new = fake_amtool.commands[asked:]
    assert new and all(c[1:4] == ("config", "routes", "test") for c in new[1:])
    assert {c[1] for c in new} >= {"check-config"}, "new questions ask with the config"


def test_another_amtool_binary_is_asked_again(fake_amtool: FakeAmtool, tmp_path: Path) -> None:
    root = tmp_path / "cache"
    _findings(root)
    asked = len(fake_amtool.commands)
    binary = Path(tools.find_amtool() or "")
    os.utime(binary, ns=(binary.stat().st_atime_ns, binary.stat().st_mtime_ns + 10**9))
    assert _findings(root) == []
    assert len(fake_amtool.commands) == 2 * asked
    assert len(list((root / "amtool").glob("*.json"))) == 2


def test_refusals_and_disagreements_are_never_remembered(
    fake_amtool: FakeAmtool, tmp_path: Path
) -> None:
    root = tmp_path / "cache"
    fake_amtool.config_ok = False
    for _ in range(2):
        assert _findings(root) == ["tools/amtool-check-config"]
    assert [c[1] for c in fake_amtool.commands].count("check-config") == 2
    assert not (root / "amtool").exists() or not any((root / "amtool").iterdir())
    fake_amtool.config_ok = True
    fake_amtool.answer = "elsewhere"
    routes_before = len(fake_amtool.route_tests())
    for _ in range(2):
        assert set(_findings(root)) == {"routing/amtool-disagrees"}
    tests = len(_spec(HTTP_API).routing.tests)  # type: ignore[union-attr]
    assert len(fake_amtool.route_tests()) - routes_before == 2 * tests
    (file,) = (root / "amtool").glob("*.json")
    assert json.loads(file.read_text())["routes"] == []


def test_a_damaged_memory_is_asked_anew_and_rewritten(
    fake_amtool: FakeAmtool, tmp_path: Path
) -> None:
    root = tmp_path / "cache"
    _findings(root)
    (file,) = (root / "amtool").glob("*.json")
    file.write_text('{"format": "monitorgen-amtool-verdicts-1", "routes": [[1]]')
    asked = len(fake_amtool.commands)
    assert _findings(root) == []
    assert len(fake_amtool.commands) == 2 * asked
    assert json.loads(file.read_text())["config_accepted"] is True


def test_files_unused_for_a_month_are_removed(fake_amtool: FakeAmtool, tmp_path: Path) -> None:
    root = tmp_path / "cache"
    stale, recent = root / "amtool" / "stale.json", root / "amtool" / "recent.json"
    stale.parent.mkdir(parents=True)
    for file, age in ((stale, KEEP_SECONDS + 60), (recent, KEEP_SECONDS - 3600)):
        file.write_text("{}")
        then = time.time() - age
        os.utime(file, (then, then))
    _findings(root)
    assert not stale.exists() and recent.exists()


def test_the_cache_folder_follows_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MONITORGEN_CACHE_DIR", str(tmp_path / "explicit"))
    assert cache_root() == tmp_path / "explicit"
    monkeypatch.delenv("MONITORGEN_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "xdg" / "monitorgen"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_root() == tmp_path / "home" / ".cache" / "monitorgen"


@pytest.mark.tools
def test_check_asks_the_real_amtool_once_per_config(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Through the CLI, with the real amtool behind a wrapper that logs each run."""
    real = require_binary("amtool")
    log = tmp_path / "runs.log"
    wrapper = tmp_path / "bin" / "amtool"
    wrapper.parent.mkdir()
    wrapper.write_text(f'#!/bin/sh\necho "$1" >> {log}\nexec {real} "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{wrapper.parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("MONITORGEN_CACHE_DIR", str(tmp_path / "cache"))

    out = str(tmp_path / "out")
    built = CliRunner().invoke(main, ["build", str(HTTP_API), "-o", out])
    assert built.exit_code == 0, built.output

    def check(*extra: str) -> int:
        before = log.read_text().count("\n") if log.exists() else 0
        done = CliRunner().invoke(main, ["check", str(HTTP_API), "-o", out, *extra])
        assert done.exit_code == 0, done.output
        return log.read_text().count("\n") - before

    spec = _spec(HTTP_API)
    assert spec.routing is not None
    assert check() == 1 + len(spec.routing.tests)
    assert check() == 0
    assert check("--no-cache") == 1 + len(spec.routing.tests)
    assert check("--amtool-routes", "all") > 0
    assert check("--amtool-routes", "all") == 0
