"""Targets: one module per output kind, each a pure function from the model to files.

Where is the Alertmanager output made? `alertmanager.py`. The order here is the
order of files in a build; every target is independent of the others.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from importlib import import_module

from monitorgen.forked import Forked, ForkFailed, fork_available
from monitorgen.model import Spec
from monitorgen.rule_set import rule_groups
from monitorgen.targets.base import Artifact

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


#: Targets rendered in a worker process for a large spec: the promtool tests simulate
#: every alert and take as long as all the other targets together.
OFFLOADED = ("promtool_tests",)
#: Below this many alerts and SLOs a worker process costs more than it saves.
OFFLOAD_FROM = 500


def start_offloaded(spec: Spec, *, force: bool = False) -> Forked[list[Artifact]] | None:
    """A worker rendering the OFFLOADED targets of a large spec, or None for a small one.

    Callers may start it as soon as the model exists and let it run while they check
    the spec; `render_all` collects it.
    """
    if not (force or worth_offloading(len(spec.alerts) + len(spec.slos))):
        return None
    _import_offloaded()
    rule_groups(spec)  # remembered on the spec before forking: the child and lint share it
    return Forked(partial(render, spec, OFFLOADED))


def worth_offloading(alerts_and_slos: int) -> bool:
    return alerts_and_slos >= OFFLOAD_FROM and fork_available()


def start_offloaded_modelling(model: Callable[[], Spec]) -> Forked[list[Artifact]]:
    """A worker that makes the model itself (`model()`) and renders the OFFLOADED targets.

    Started as soon as a large spec is loaded, it models the spec on the second CPU
    while this process validates and models it too, instead of waiting for this
    process's model. `model()` must make the model this process makes; if the spec
    turns out invalid, the caller cancels the worker.
    """
    _import_offloaded()
    return Forked(partial(_model_and_render, model))


def _model_and_render(model: Callable[[], Spec]) -> list[Artifact]:
    return render(model(), OFFLOADED)


def _import_offloaded() -> None:
    for name in OFFLOADED:  # imported here: a child should not import while threads run
        import_module(f"monitorgen.targets.{name}")


def render_all(
    spec: Spec, *, worker: Forked[list[Artifact]] | None = None, offload: bool | None = None
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
        here = render(spec, [name for name in TARGETS if name not in OFFLOADED])
    except BaseException:
        worker.cancel()
        raise
    try:
        offloaded = worker.result()
    except ForkFailed:
        # A child that died (out of memory, killed) costs time, not the build; a bug
        # raises here again, with its own traceback.
        offloaded = render(spec, OFFLOADED)
    return sorted(here + offloaded, key=lambda a: a.path)


def render(spec: Spec, names: Sequence[str]) -> list[Artifact]:
    """The files of the named targets, in the order given."""
    artifacts: list[Artifact] = []
    for name in names:
        module = import_module(f"monitorgen.targets.{name}")
        artifacts.extend(module.render(spec))
    return artifacts
