"""Spec files parsed by an earlier run are rebuilt from the cache folder: the same
document with the same places, only for the same text and parser, never for a file
with a problem, and not at all with `--no-cache`."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from monitorgen.cache_folder import KEEP_SECONDS, cache_root
from monitorgen.cli import main
from monitorgen.diagnostics import SpecError
from monitorgen.spec import loader, parse_cache
from monitorgen.spec.loader import load_spec_file
from monitorgen.spec.parse_cache import ParseCache
from tests.test_loader_parallel import _part, _same, _spec

PARTS = {f"part{n}.yaml": _part(n) for n in range(3)}


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The files parse_yaml parses from now on, by display name."""
    seen: list[str] = []
    parse = loader.parse_yaml

    def counting(
        text: str, file: str, on_top_level: Callable[[str, Any], None] | None = None
    ) -> Any:
        seen.append(Path(file).name)
        return parse(text, file, on_top_level)

    monkeypatch.setattr(loader, "parse_yaml", counting)
    monkeypatch.setattr(loader, "_can_fork", lambda: False)
    return seen


def _default() -> ParseCache:
    cache = ParseCache.default()
    assert cache is not None
    return cache


def _root() -> Path:
    root = cache_root()
    assert root is not None
    return root


def _kept_files() -> list[Path]:
    return sorted((_root() / "parsed").glob("*.marshal"))


def test_a_second_load_rebuilds_every_file_from_the_cache_with_the_same_places(
    tmp_path: Path, parses: list[str]
) -> None:
    spec = _spec(tmp_path, PARTS)
    first = load_spec_file(spec, cache=_default())
    assert sorted(parses) == ["main.yaml", "part0.yaml", "part1.yaml", "part2.yaml"]
    assert len(_kept_files()) == 4

    parses.clear()
    again = load_spec_file(spec, cache=_default())
    assert parses == []
    _same(again, first)
    _same(again, load_spec_file(spec))  # and what no cache at all gives
    labels = again["alerts"][3]["labels"]
    assert (labels["weight"], labels["missing"], labels["page"]) == (3 * 10**15, None, False)
    assert again["alerts"][3]["condition"]["above"] == 1.5


def test_only_the_file_whose_text_changed_is_parsed_again(
    tmp_path: Path, parses: list[str]
) -> None:
    spec = _spec(tmp_path, PARTS)
    load_spec_file(spec, cache=_default())
    parses.clear()
    changed = tmp_path / "part1.yaml"
    changed.write_text(changed.read_text().replace("severity: warning", "severity: critical"))

    document = load_spec_file(spec, cache=_default())
    assert parses == ["part1.yaml"]
    severities = {a["name"]: a["severity"] for a in document["alerts"]}
    assert severities["Alert1x3"] == "critical"
    assert severities["Alert0x3"] == "warning"
    _same(document, load_spec_file(spec))


def test_places_name_the_file_as_it_is_reached_now(tmp_path: Path, parses: list[str]) -> None:
    """The key is the text: a copy elsewhere is rebuilt from the same entry, with spans
    in the copy."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = _spec(tmp_path / "a", PARTS)
    second = _spec(tmp_path / "b", PARTS)
    load_spec_file(first, cache=_default())
    parses.clear()
    document = load_spec_file(second, cache=_default())
    assert parses == []
    assert document["alerts"].item_spans[0].file.endswith(os.path.join("b", "part0.yaml"))
    _same(document, load_spec_file(second))


def test_a_file_with_a_problem_is_never_kept_and_reported_each_time(
    tmp_path: Path, parses: list[str]
) -> None:
    spec = _spec(tmp_path, {**PARTS, "bad.yaml": "alerts:\n  - name: A\n    name: B\n"})
    for _ in range(2):
        with pytest.raises(SpecError) as raised:
            load_spec_file(spec, cache=_default())
        (problem,) = raised.value.diagnostics
        assert (problem.code, problem.span.line) == ("yaml/duplicate-key", 3)
    assert parses.count("bad.yaml") == 2
    assert parses.count("part0.yaml") == 1
    assert len(_kept_files()) == 4  # main and the three good parts


def test_a_damaged_entry_is_parsed_again_and_replaced(tmp_path: Path, parses: list[str]) -> None:
    spec = _spec(tmp_path, PARTS)
    expected = load_spec_file(spec, cache=_default())
    for number, kept in enumerate(_kept_files()):
        kept.write_bytes(b"\x00garbage" if number % 2 else b"")
    parses.clear()
    _same(load_spec_file(spec, cache=_default()), expected)
    assert len(parses) == 4
    parses.clear()
    load_spec_file(spec, cache=_default())
    assert parses == []


def test_the_key_is_the_text_and_the_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    cache = _default()
    assert cache.key("a: 1\n") == cache.key("a: 1\n")
    assert cache.key("a: 1\n") != cache.key("a: 1 \n")
    loader_source = Path(loader.__file__).read_bytes()
    assert hashlib.sha256(loader_source).digest() in parse_cache._parser_identity()
    before = cache.key("a: 1\n")
    parse_cache._parser_identity.cache_clear()
    monkeypatch.setattr(parse_cache, "FORMAT", "monitorgen-parsed-0")
    try:
        assert cache.key("a: 1\n") != before
    finally:
        parse_cache._parser_identity.cache_clear()


def test_entries_unused_for_a_month_are_pruned_when_one_is_written(tmp_path: Path) -> None:
    cache = ParseCache(tmp_path / "parsed")
    cache.put("old", b"x")
    cache.put("recent", b"y")
    for name, age in (("old", KEEP_SECONDS + 60), ("recent", KEEP_SECONDS - 3600)):
        then = time.time() - age
        os.utime(tmp_path / "parsed" / f"{name}.marshal", (then, then))
    fresh = ParseCache(tmp_path / "parsed")
    assert fresh.get("recent") == b"y"  # read: in use again
    fresh.put("new", b"z")
    assert sorted(p.stem for p in (tmp_path / "parsed").iterdir()) == ["new", "recent"]


def test_beyond_its_size_bound_the_least_recently_used_entries_go_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parse_cache, "MAX_BYTES", 250)
    folder = tmp_path / "parsed"
    cache = ParseCache(folder)
    for number, name in enumerate(("a", "b", "c")):
        cache.put(name, b"x" * 100)
        then = time.time() - 3600 + number * 60
        os.utime(folder / f"{name}.marshal", (then, then))
    assert ParseCache(folder).get("a") is not None  # read: the most recent now
    ParseCache(folder).put("d", b"y" * 100)
    assert sorted(p.stem for p in folder.iterdir()) == ["a", "d"]


def test_includes_the_child_parsed_are_kept_and_not_given_to_it_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(loader, "PARSE_ELSEWHERE_FROM", 1)
    monkeypatch.setattr(loader, "_can_fork", lambda: True)
    forks: list[list[str]] = []
    fork = loader._IncludesElsewhere._fork

    def recording(self: loader._IncludesElsewhere, targets: list[Path]) -> None:
        forks.append([t.name for t in targets])
        fork(self, targets)

    monkeypatch.setattr(loader._IncludesElsewhere, "_fork", recording)
    spec = _spec(tmp_path, {f"part{n}.yaml": _part(n) for n in range(4)})
    first = load_spec_file(spec, cache=_default())
    assert forks == [["part3.yaml", "part2.yaml"]]
    assert len(_kept_files()) == 5  # the child kept what it parsed

    again = load_spec_file(spec, cache=_default())
    assert forks == [["part3.yaml", "part2.yaml"]]  # nothing left to parse elsewhere
    _same(again, first)


def _build(*args: str) -> None:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output


def test_commands_keep_parsed_files_unless_told_not_to(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(Path(__file__).resolve().parent.parent)
    spec = "specs/llm.yaml"
    _build("validate", "--no-cache", spec)
    _build("build", "--no-cache", spec, "-o", str(tmp_path / "cold"))
    assert not (_root() / "parsed").exists()

    _build("validate", spec)
    kept = _kept_files()
    assert kept
    _build("build", spec, "-o", str(tmp_path / "warm"))
    assert _kept_files() == kept
    assert _files(tmp_path / "cold") == _files(tmp_path / "warm")
    _build("check", spec, "-o", str(tmp_path / "warm"), "--amtool-routes", "none")


def _files(folder: Path) -> dict[Path, bytes]:
    return {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_without_a_home_for_the_cache_folder_nothing_is_kept_and_commands_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_home(cls: type[Path]) -> Path:
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.delenv("MONITORGEN_CACHE_DIR")
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setattr(Path, "home", classmethod(no_home))
    assert cache_root() is None
    assert ParseCache.default() is None
    monkeypatch.chdir(Path(__file__).resolve().parent.parent)
    _build("build", "specs/llm.yaml", "-o", str(tmp_path / "out"))
    _build("check", "specs/llm.yaml", "-o", str(tmp_path / "out"), "--amtool-routes", "none")
