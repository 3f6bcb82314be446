"""Targets: one module per output kind, each a pure function from the model to files.

Where is the Alertmanager output made? `alertmanager.py`. The order here is the
order of files in a build; every target is independent of the others.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from importlib import import_module
from typing import TYPE_CHECKING

from monitorgen.forked import Forked, ForkFailed, SharedCounter, fork_available
from monitorgen.model import Spec
from monitorgen.rule_set import rule_groups
from monitorgen.targets.base import Artifact

if TYPE_CHECKING:
    from monitorgen.targets.promtool_tests import Chunk

#: module name -> its render function; modules are imported only when a build runs.
TARGETS = (
    "prometheus_rules",
    "promtool_tests",
    "prometheus_config",
    "retention",
    "alertmanager",
    "grafana",
    "python_client",
    "kubernetes",
    "schedule",
)


#: The target a worker process and this one share for a large spec: the promtool tests
#: simulate every alert and take as long as all the other targets together.
SHARED = "promtool_tests"
#: Below this many alerts and SLOs a worker process costs more than it saves.
OFFLOAD_FROM = 500


class SharedRendering:
    """The promtool tests of a large spec, chunk by chunk: a worker process renders
    chunks from the start, and this process joins in once its other targets are done.
    Each chunk is taken by one of them (`SharedCounter`), so both CPUs stay busy to
    the end whatever the other work costs; the file is the same bytes either way."""

    def __init__(
        self, counter: SharedCounter, work: Callable[[SharedCounter], dict[int, Chunk]]
    ) -> None:
        self._counter = counter
        self._worker = Forked(partial(work, counter))

    @classmethod
    def start(cls, work: Callable[[SharedCounter], dict[int, Chunk]]) -> SharedRendering | None:
        """A worker running `work`, or None where processes cannot share a counter (no
        POSIX semaphores, as without /dev/shm): the build then renders the tests itself."""
        try:
            counter = SharedCounter()
        except OSError:
            return None
        return cls(counter, work)

    def finish(self, spec: Spec) -> list[Artifact]:
        from monitorgen.targets.promtool_tests import assemble, chunk_count, render_chunk

        mine = rendered_chunks(spec, self._counter, from_back=True)
        try:
            theirs = self._worker.result()
        except ForkFailed:
            # A worker that died (out of memory, killed) costs time, not the build: its
            # chunks are rendered here. A bug raises here again, with its own traceback.
            theirs = {}
        done = {**theirs, **mine}
        chunks = [done[i] if i in done else render_chunk(spec, i) for i in range(chunk_count(spec))]
        return assemble(spec, chunks)

    def cancel(self) -> None:
        self._worker.cancel()


def rendered_chunks(
    spec: Spec, counter: SharedCounter, *, from_back: bool = False
) -> dict[int, Chunk]:
    """The chunks of the promtool tests this process takes from `counter` (from the
    front, or from the back) until none is left, by number. The worker starts at the
    front and this process at the back: each renders runs of chunks whose alerts share
    their searches (`promtool_tests.unit_order`)."""
    from monitorgen.targets.promtool_tests import chunk_count, render_chunk

    count = chunk_count(spec)
    done: dict[int, Chunk] = {}
    while (index := counter.take(count, from_back=from_back)) is not None:
        done[index] = render_chunk(spec, index)
    return done


def start_offloaded(spec: Spec, *, force: bool = False) -> SharedRendering | None:
    """The shared rendering of a large spec's tests, or None for a small one.

    Callers may start it as soon as the model exists and let the worker run while they
    check the spec; `render_all` joins in and collects it.
    """
    if not (force or worth_offloading(len(spec.alerts) + len(spec.slos))):
        return None
    _import_shared()
    rule_groups(spec)  # remembered on the spec before forking: the child and lint share it
    return SharedRendering.start(partial(rendered_chunks, spec))


def worth_offloading(alerts_and_slos: int) -> bool:
    return alerts_and_slos >= OFFLOAD_FROM and fork_available()


def start_offloaded_modelling(model: Callable[[], Spec]) -> SharedRendering | None:
    """A shared rendering whose worker makes the model itself (`model()`) first.

    Started as soon as a large spec is loaded, the worker models the spec on the second
    CPU while this process validates and models it too, instead of waiting for this
    process's model. `model()` must make the model this process makes; if the spec
    turns out invalid, the caller cancels it.
    """
    _import_shared()
    return SharedRendering.start(partial(_model_and_render, model))


def _model_and_render(model: Callable[[], Spec], counter: SharedCounter) -> dict[int, Chunk]:
    return rendered_chunks(model(), counter)


def _import_shared() -> None:
    import_module(f"monitorgen.targets.{SHARED}")  # a child should not import while threads run


def render_all(
    spec: Spec, *, worker: SharedRendering | None = None, offload: bool | None = None
) -> list[Artifact]:
    """Every target's files, sorted by path; the same bytes with or without a worker.

    `worker` is one `start_offloaded` began for this spec; without one, a worker is
    started here when `offload` says so, or by default when the spec is large.
    """
    if worker is None and offload is not False:
        worker = start_offloaded(spec, force=bool(offload))
    if worker is None:
        return sorted(render(spec, TARGETS), key=lambda a: a.path)
    try:
        here = render(spec, [name for name in TARGETS if name != SHARED])
        shared = worker.finish(spec)
    except BaseException:
        worker.cancel()
        raise
    return sorted(here + shared, key=lambda a: a.path)


def render(spec: Spec, names: Sequence[str]) -> list[Artifact]:
    """The files of the named targets, in the order given."""
    artifacts: list[Artifact] = []
    for name in names:
        module = import_module(f"monitorgen.targets.{name}")
        artifacts.extend(module.render(spec))
    return artifacts
