"""Rendering some targets, and linting, in forked children gives the same files and
findings as doing it all in one process."""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Sequence
from functools import partial
from pathlib import Path

import pytest

from benchmarks.synthetic import generate
from monitorgen import forked, pipeline, targets
from monitorgen.diagnostics import Diagnostic
from monitorgen.forked import (
    BACKGROUND_NICENESS,
    Forked,
    ForkFailed,
    SharedCounter,
    fork_available,
)
from monitorgen.model import Spec
from monitorgen.rule_set import rule_groups
from monitorgen.targets import OFFLOAD_FROM, SHARED, SharedRendering, promtool_tests, render_all
from monitorgen.targets.base import Artifact, commented_header, library_dump
from monitorgen.targets.promtool_tests import Chunk, chunk_count, render_chunk

from .alertmanager.helpers import base_document, write_spec
from .harness import require_binary
from .prometheus.helpers import SHAPES, SPEC_PATHS, load_spec

needs_fork = pytest.mark.skipif(not fork_available(), reason="needs fork and two CPUs")


@needs_fork
@pytest.mark.parametrize("relative", SPEC_PATHS)
def test_offloaded_rendering_writes_the_same_files(relative: str) -> None:
    spec = load_spec(relative)
    alone = render_all(spec, offload=False)
    shared = render_all(spec, offload=True)
    assert [a.path for a in shared] == [a.path for a in alone]
    assert shared == alone
    offloaded_paths = {a.path for a in alone if a.path.endswith("rules.test.yml")}
    assert offloaded_paths, f"{SHARED} made no file for {relative}"


def test_small_specs_render_without_a_worker() -> None:
    spec = load_spec(SPEC_PATHS[0])
    assert len(spec.alerts) + len(spec.slos) < OFFLOAD_FROM


def _failing(spec: Spec, names: Sequence[str]) -> list[Artifact]:
    raise ValueError(f"cannot render {', '.join(names)} of {spec.name}")


@needs_fork
def test_a_failure_in_the_worker_is_raised_with_its_traceback() -> None:
    worker = Forked(partial(_failing, load_spec(SPEC_PATHS[0]), ["promtool_tests"]))
    with pytest.raises(ForkFailed, match=r"(?s)ValueError: cannot render promtool_tests"):
        worker.result()


def _synthetic_100(folder: Path, *, broken: bool = False) -> Path:
    path = generate(100).write(folder)
    if broken:  # an alert on a metric nobody declared: a semantic error, found late
        text = path.read_text()
        first = text.index("- metric: ") + len("- metric: ")
        path.write_text(text[:first] + "bench_undeclared_total_" + text[first:])
    return path


@needs_fork
def test_a_large_build_renders_through_the_worker_the_files_of_a_plain_render(
    tmp_path: Path,
) -> None:
    result = pipeline.build([_synthetic_100(tmp_path)])
    (compiled,) = result.compiled
    assert compiled.spec is not None and compiled.ok
    assert len(compiled.spec.alerts) + len(compiled.spec.slos) >= OFFLOAD_FROM
    assert result.tree[compiled.output_name] == render_all(compiled.spec, offload=False)
    assert multiprocessing.active_children() == []


@needs_fork
def test_a_large_spec_with_errors_writes_nothing_and_leaves_no_worker(tmp_path: Path) -> None:
    result = pipeline.build([_synthetic_100(tmp_path, broken=True)])
    assert result.tree == {}
    assert any(d.code.startswith("references/") for d in result.diagnostics), [
        d.code for d in result.diagnostics
    ]
    assert multiprocessing.active_children() == []


def _dying_with_a_chunk(counter: SharedCounter) -> dict[int, Chunk]:
    counter.take(1)  # the first chunk is its own now
    os._exit(3)  # as if killed, e.g. for lack of memory


@needs_fork
def test_a_worker_that_dies_costs_time_not_the_build() -> None:
    spec = load_spec(SPEC_PATHS[0])
    worker = SharedRendering(SharedCounter(), _dying_with_a_chunk)
    assert render_all(spec, worker=worker) == render_all(spec, offload=False)


@needs_fork
def test_without_a_counter_processes_can_share_a_build_renders_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_semaphores(self: SharedCounter) -> None:
        raise OSError(38, "Function not implemented")

    path = _synthetic_100(tmp_path)
    with_worker = pipeline.build([path])
    monkeypatch.setattr(SharedCounter, "__init__", no_semaphores)
    spec = load_spec(SPEC_PATHS[0])
    assert render_all(spec, offload=True) == render_all(spec, offload=False)
    alone = pipeline.build([path])
    assert not alone.failed(), alone.diagnostics
    assert alone.tree == with_worker.tree


def _holding_the_lock(counter: SharedCounter) -> dict[int, Chunk]:
    counter._taken.get_lock().acquire()
    os._exit(3)  # killed between taking the lock and giving it back


@needs_fork
def test_a_worker_that_dies_holding_the_counter_costs_time_not_the_build(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(forked, "TAKE_TIMEOUT", 0.2)
    spec = load_spec(SPEC_PATHS[0])
    counter = SharedCounter()
    worker = SharedRendering(counter, _holding_the_lock)
    assert render_all(spec, worker=worker) == render_all(spec, offload=False)
    assert counter.take(10) is None  # the lock died with the worker


def _taking(counter: SharedCounter, count: int, from_back: bool) -> list[int]:
    taken = []
    while (number := counter.take(count, from_back=from_back)) is not None:
        taken.append(number)
    return taken


@needs_fork
def test_a_shared_counter_hands_each_number_to_one_process() -> None:
    counter = SharedCounter()
    children = [Forked(partial(_taking, counter, 20_000, back)) for back in (False, True)]
    here = _taking(counter, 20_000, False)
    from_front, from_back = (child.result() for child in children)
    assert sorted(from_front + from_back + here) == list(range(20_000))
    assert from_back == sorted(from_back, reverse=True)
    assert from_back[0] == 19_999 and 0 in from_front + here


def _chunk_by_chunk(spec: Spec, counter: SharedCounter) -> dict[int, Chunk]:
    """The worker's chunks, taken slowly enough that this process takes some too."""
    done = {}
    while (index := counter.take(chunk_count(spec))) is not None:
        done[index] = render_chunk(spec, index)
        time.sleep(0.01)
    return done


@needs_fork
def test_the_worker_and_this_process_share_the_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = load_spec(SPEC_PATHS[0])
    monkeypatch.setattr(promtool_tests, "CHUNK_SIZE", 1)
    taken_here: list[int] = []
    rendered = targets.rendered_chunks

    def observed(spec: Spec, counter: SharedCounter, from_back: bool) -> dict[int, Chunk]:
        done = rendered(spec, counter, from_back=from_back)
        taken_here.extend(done)
        return done

    worker = SharedRendering(SharedCounter(), partial(_chunk_by_chunk, spec))
    monkeypatch.setattr(targets, "rendered_chunks", observed)
    assert render_all(spec, worker=worker) == render_all(spec, offload=False)
    assert 0 < len(taken_here) < chunk_count(spec)
    assert max(taken_here) == chunk_count(spec) - 1  # this process takes from the back


def test_alerts_of_one_shape_of_condition_are_neighbours_in_the_chunks(tmp_path: Path) -> None:
    (compiled, *_environments) = pipeline.compile_spec(_synthetic_100(tmp_path))
    spec = compiled.spec
    assert spec is not None
    order = promtool_tests.unit_order(spec)
    alerts = len(spec.alerts)
    assert sorted(order) == list(range(alerts + len(spec.slos)))
    assert order[alerts:] == tuple(range(alerts, alerts + len(spec.slos)))

    def shape(unit: int) -> tuple[object, ...]:
        alert = spec.alerts[unit]
        if alert.query is None or alert.threshold is None:
            return ("raw",)
        return (alert.query.function, alert.query.window, alert.threshold, alert.for_)

    shapes = [shape(unit) for unit in order[:alerts]]
    runs = [key for i, key in enumerate(shapes) if i == 0 or shapes[i - 1] != key]
    assert len(runs) == len(set(runs)) < alerts  # one run per shape, some shared


# ---------------------------------------------------------------- lint in a child


def _with_lint_findings(folder: Path) -> Path:
    """The size-100 spec, with `for` durations shorter than the evaluation interval."""
    path = generate(100).write(folder)
    path.write_text(path.read_text().replace("  for: 5m\n", "  for: 10s\n"))
    return path


def _lint_codes(result: pipeline.BuildResult) -> list[tuple[str, str, int, int]]:
    return [
        (d.code, d.message, d.span.line, d.span.column)
        for d in result.diagnostics
        if d.code.startswith("lint/")
    ]


@needs_fork
def test_a_large_spec_is_linted_in_a_child_with_the_same_findings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _with_lint_findings(tmp_path)
    started: list[object] = []
    start_lint = pipeline._start_lint

    def recording(spec: Spec) -> object:
        child = start_lint(spec)
        started.append(child)
        return child

    monkeypatch.setattr(pipeline, "_start_lint", recording)
    in_child = pipeline.build([path], render=False)
    assert len(started) == 1 and isinstance(started[0], Forked)
    monkeypatch.setattr(pipeline, "LINT_ELSEWHERE_FROM", 10**9)
    here = pipeline.build([path], render=False)
    assert len(started) == 2 and started[1] is None
    assert any(code == "lint/for" for code, *_ in _lint_codes(here))
    assert _lint_codes(in_child) == _lint_codes(here)
    assert multiprocessing.active_children() == []


@needs_fork
def test_a_lint_child_that_dies_costs_time_not_the_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _with_lint_findings(tmp_path)
    expected = _lint_codes(pipeline.build([path], render=False))
    parent, lint = os.getpid(), pipeline._lint

    def dying_in_a_child(spec: Spec) -> list[Diagnostic]:
        if os.getpid() != parent:
            os._exit(3)  # as if killed, e.g. for lack of memory
        return lint(spec)

    monkeypatch.setattr(pipeline, "_lint", dying_in_a_child)
    assert _lint_codes(pipeline.build([path], render=False)) == expected


@needs_fork
@pytest.mark.parametrize("render", [True, False], ids=["build", "validate"])
def test_an_error_lint_finds_stops_a_large_build_or_fails_its_validation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, render: bool
) -> None:
    """A build lints in its own process, beside the worker sharing the tests; a
    validation, which renders nothing, lints in a child."""
    parent = os.getpid()

    def erring(spec: Spec) -> list[Diagnostic]:
        where = "child" if os.getpid() != parent else "parent"
        return [Diagnostic("lint/test", f"found in the {where}", path=("alerts", 0))]

    monkeypatch.setattr(pipeline, "_lint", erring)
    result = pipeline.build([_synthetic_100(tmp_path)], render=render)
    assert result.tree == {}
    assert result.failed()
    (finding,) = [d for d in result.diagnostics if d.code == "lint/test"]
    assert finding.message == ("found in the parent" if render else "found in the child")
    assert finding.span.line > 1  # placed in the document like every finding
    assert multiprocessing.active_children() == []


@needs_fork
def test_a_large_spec_failing_its_schema_stops_the_early_worker(tmp_path: Path) -> None:
    path = generate(100).write(tmp_path)
    path.write_text(path.read_text().replace("  for: 5m\n", "  for: soon\n", 1))
    result = pipeline.build([path])
    assert result.tree == {}
    assert any(d.code.startswith("schema/") for d in result.diagnostics)
    assert multiprocessing.active_children() == []


@needs_fork
def test_a_background_child_runs_at_a_lower_priority_and_lint_is_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    here = os.nice(0)
    assert Forked(partial(os.nice, 0)).result() == here
    assert Forked(partial(os.nice, 0), background=True).result() == min(
        here + BACKGROUND_NICENESS, 19
    )
    parent, lint = os.getpid(), pipeline._lint
    seen = tmp_path / "lint-niceness"

    def observed(spec: Spec) -> list[Diagnostic]:
        if os.getpid() != parent:
            seen.write_text(str(os.nice(0)))
        return lint(spec)

    monkeypatch.setattr(pipeline, "_lint", observed)
    result = pipeline.build([_with_lint_findings(tmp_path)], render=False)
    assert any(code == "lint/for" for code, *_ in _lint_codes(result))
    assert int(seen.read_text()) == min(here + BACKGROUND_NICENESS, 19)


@needs_fork
def test_facts_found_before_lint_forks_are_not_found_again_by_the_checks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What `_start_lint` finds before forking, the semantic checks here and lint in its
    child share: neither walks an expression's tree again."""
    from monitorgen import promql
    from monitorgen.semantic import check_spec
    from monitorgen.semantic.promql_usage import expressions

    spec = load_spec(SPEC_PATHS[0])
    promql.inspect.cache_clear()
    monkeypatch.setattr(pipeline, "LINT_ELSEWHERE_FROM", 0)
    linting = pipeline._start_lint(spec)
    assert linting is not None
    walks: list[str] = []
    for name in ("parsed_facts", "written_facts"):
        original = getattr(promql, name)
        monkeypatch.setattr(
            promql, name, lambda expr, f=original, n=name: walks.append(n) or f(expr)
        )
    check_spec(spec)
    assert walks == []
    assert linting.result() == pipeline._lint(spec)
    promql.inspect.cache_clear()
    check_spec(spec)
    assert len(walks) >= len({e.text for e in expressions(spec)}) > 0


@needs_fork
def test_every_child_is_forked_before_amtool_threads_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A child forked while amtool's threads run could inherit a lock one of them holds
    (Python 3.12 warns about such forks): a check of two large specs, each with an
    environment, forks all its children before amtool starts on any of them."""
    require_binary("amtool")
    document = base_document()
    document["environments"] = {"staging": {"prometheus": {"targets": ["shop-staging:8000"]}}}
    paths = [write_spec(tmp_path, document, name) for name in ("shop", "store")]
    monkeypatch.setattr(targets, "OFFLOAD_FROM", 0)  # both are large specs now
    monkeypatch.setattr(pipeline, "LINT_ELSEWHERE_FROM", 0)
    threads_when_forking: list[int] = []
    fork = os.fork

    def observed_fork() -> int:
        threads_when_forking.append(threading.active_count())
        return fork()

    monkeypatch.setattr(os, "fork", observed_fork)
    alone = threading.active_count()
    result = pipeline.build(paths, extra=pipeline.ExtraChecks(tools=True))
    assert not result.failed(), result.diagnostics
    assert len(result.tree) == 4
    assert len(threads_when_forking) == 4  # a worker for each of four
    result = pipeline.build(paths, render=False, extra=pipeline.ExtraChecks(tools=True))
    assert not result.failed(), result.diagnostics
    assert len(threads_when_forking) == 8  # and a lint child for each
    assert set(threads_when_forking) == {alone}


def _library_test_file(spec: Spec) -> bytes:
    """The test file as the YAML library writes the whole document at once."""
    tests, skipped = promtool_tests.unit_test_groups(spec)
    data = {
        "rule_files": ["rules.yml"],
        "evaluation_interval": spec.prometheus.evaluation_interval,
        "group_eval_order": [group.name for group in rule_groups(spec)],
        "tests": tests,
    }
    notes = "".join(f"# Not tested here: {line}\n" for line in skipped)
    return (commented_header(spec) + notes + library_dump(data)).encode()


@pytest.mark.parametrize("size", [1, 7, 10**6])
@pytest.mark.parametrize("relative", [*SPEC_PATHS, SHAPES])
def test_the_test_file_joined_from_chunks_is_the_librarys_whole_document(
    relative: str, size: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = load_spec(relative)
    monkeypatch.setattr(promtool_tests, "CHUNK_SIZE", size)
    (artifact,) = promtool_tests.render(spec)
    assert artifact.content == _library_test_file(spec)


def test_a_chunk_only_the_library_can_write_has_it_write_the_whole_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spec = load_spec(SHAPES)
    monkeypatch.setattr(promtool_tests, "CHUNK_SIZE", 3)
    assert chunk_count(spec) > 2
    writer = promtool_tests.block_text
    calls: list[int] = []

    def declining_the_second(data: object) -> str | None:
        calls.append(1)
        return None if len(calls) == 2 else writer(data)

    monkeypatch.setattr(promtool_tests, "block_text", declining_the_second)
    chunks = [render_chunk(spec, i) for i in range(chunk_count(spec))]
    assert sum(unit.text is None for chunk in chunks for unit in chunk) == 1
    (artifact,) = promtool_tests.assemble(spec, chunks)
    assert artifact.content == _library_test_file(spec)
