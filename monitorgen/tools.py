"""External tools that confirm what monitorgen generates, run when they are installed.

`amtool` reads the Alertmanager config from a temporary folder, which is the only disk
access of a check: `amtool check-config` must accept it, and `amtool config routes test`
must route the selected routing cases of the spec (its `routing.tests`, or every alert's)
where monitorgen's own evaluation does. The route tests read a copy holding only what
routing reads (`routes_only`): each of them is a process of its own, and loading every
receiver and inhibit rule of a large config again took a third of each.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from monitorgen import routing
from monitorgen.diagnostics import Diagnostic
from monitorgen.immutable import immutable
from monitorgen.model import Spec
from monitorgen.targets import alertmanager
from monitorgen.targets.base import Artifact, dump_yaml
from monitorgen.tool_verdicts import AmtoolVerdicts, RouteQuestion

if TYPE_CHECKING:
    from monitorgen.pipeline import AmtoolRoutes

_T = TypeVar("_T")
AMTOOL = "amtool"
TIMEOUT_SECONDS = 60.0
WORKERS = 4
"""amtool processes run at once: each mostly waits for its start-up."""


@immutable
class ToolRun:
    command: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def output(self) -> str:
        return (self.stdout + self.stderr).strip()


def run(command: Sequence[str]) -> ToolRun:
    try:
        done = subprocess.run(
            list(command),
            capture_output=True,
            text=True,
            timeout=TIMEOUT_SECONDS,
            check=False,
            env=_without_go_gc(),
        )
    except subprocess.TimeoutExpired:
        return ToolRun(tuple(command), -1, "", f"timed out after {TIMEOUT_SECONDS:g}s")
    return ToolRun(tuple(command), done.returncode, done.stdout, done.stderr)


def _without_go_gc() -> dict[str, str]:
    """The tools are Go programs living some 50 ms: without garbage collection an amtool
    run takes a quarter less CPU (39 -> 30 ms) and no more memory (20 MB either way)."""
    return {**os.environ, "GOGC": "off"}


@contextmanager
def written(artifacts: Sequence[Artifact], under: str = "") -> Iterator[Path]:
    """A temporary folder holding `artifacts` at their relative paths, removed
    afterwards; the path `under` it."""
    with tempfile.TemporaryDirectory(prefix="monitorgen-") as folder:
        root = Path(folder)
        for artifact in artifacts:
            target = root / artifact.path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(artifact.content)
        yield root / under


# --- amtool ------------------------------------------------------------------------------


def find_amtool() -> str | None:
    return shutil.which(AMTOOL)


def amtool_check_config(amtool: str, config_file: Path) -> ToolRun:
    return run([amtool, "check-config", str(config_file)])


def label_argument(name: str, value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'{name}="{escaped}"'


def amtool_routes(
    amtool: str, config_file: Path, labels: Sequence[tuple[str, str]], expected: Sequence[str]
) -> tuple[ToolRun, tuple[str, ...]]:
    """Run `amtool config routes test`; the receivers it printed, in its order."""
    result = run(
        [
            amtool,
            "config",
            "routes",
            "test",
            f"--config.file={config_file}",
            f"--verify.receivers={','.join(expected)}",
            *(label_argument(name, value) for name, value in labels),
        ]
    )
    first = result.stdout.splitlines()[0].strip() if result.stdout.strip() else ""
    return result, tuple(name for name in first.split(",") if name)


def alertmanager_findings(spec: Spec, routes: AmtoolRoutes = "tests") -> list[Diagnostic]:
    """What amtool says about the generated config and the routing cases `routes` selects.

    Nothing when amtool is not installed or the spec has no routing.
    """
    runs = start_amtool(spec, routes)
    return runs.findings() if runs is not None else []


def start_amtool(
    spec: Spec, routes: AmtoolRoutes = "tests", remembered_in: Path | None = None
) -> AmtoolRuns | None:
    """amtool's checks of `spec`, started in the background so the caller can go on
    rendering meanwhile; None when amtool is not installed or the spec has no routing.

    With `remembered_in`, what amtool accepted of this very config before is taken from
    there instead of asked again, and what it accepts now is added (`tool_verdicts`).
    """
    amtool = find_amtool()
    if amtool is None or spec.routing is None:
        return None
    plan = RoutePlan.of(spec, cases_to_confirm(spec, routes))
    config = alertmanager.render(spec)
    verdicts = AmtoolVerdicts.of(amtool, config, remembered_in) if remembered_in else None
    known = verdicts.routes if verdicts is not None else {}
    asking = {s: case for s, case in plan.examples.items() if _question(s, case) not in known}
    folder = ExitStack()
    if verdicts is not None and verdicts.config_accepted and not asking:
        checked = _done(REMEMBERED)
        return AmtoolRuns(plan, folder, checked, _remembered(plan, known), verdicts)
    root = folder.enter_context(written([*config, routes_only_artifact(spec)]))
    pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="amtool")
    checked = pool.submit(amtool_check_config, amtool, root / alertmanager.CONFIG_PATH)
    answers = _remembered(plan, known)
    routes_file = root / ROUTES_ONLY_PATH
    for situation, case in asking.items():
        labels, expected = case.labels, situation[1]
        answers[situation] = pool.submit(amtool_routes, amtool, routes_file, labels, expected)
    pool.shutdown(wait=False)  # the queued runs go on; the pool takes no more
    return AmtoolRuns(plan, folder, checked, answers, verdicts)


#: The file beside the config that the route tests read.
ROUTES_ONLY_PATH = "alertmanager/routes-only.yml"
#: What `amtool config routes test` reads of a config: the route tree, the receivers it
#: names and the time intervals it refers to (an interval never changes a route's answer,
#: but a route naming an undefined one makes the config invalid).
_ROUTING_KEYS = ("route", "time_intervals", "mute_time_intervals")


def routes_only(config: dict[str, Any]) -> dict[str, Any]:
    """The generated config reduced to what routing reads, the route tree unchanged:
    receivers keep only their names, and templates, inhibit rules and global
    settings go. amtool routes alerts through it as through the whole config."""
    reduced = {key: config[key] for key in _ROUTING_KEYS if key in config}
    reduced["receivers"] = [{"name": receiver["name"]} for receiver in config["receivers"]]
    return reduced


def routes_only_artifact(spec: Spec) -> Artifact:
    return Artifact(ROUTES_ONLY_PATH, dump_yaml(routes_only(alertmanager.config(spec))).encode())


#: How a verdict taken from memory shows as a run.
REMEMBERED = ToolRun(("amtool", "(accepted before)"), 0, "", "")


def _done(value: _T) -> Future[_T]:
    future: Future[_T] = Future()
    future.set_result(value)
    return future


def _remembered(
    plan: RoutePlan, known: dict[RouteQuestion, tuple[str, ...]]
) -> dict[Situation, Future[Answer]]:
    return {
        situation: _done((REMEMBERED, known[_question(situation, case)]))
        for situation, case in plan.examples.items()
        if _question(situation, case) in known
    }


def _question(situation: Situation, case: routing.RoutingCase) -> RouteQuestion:
    """What amtool is asked about a situation: its example's labels, and the receivers."""
    return case.labels, situation[1]


def cases_to_confirm(spec: Spec, routes: AmtoolRoutes) -> list[routing.RoutingCase]:
    """`tests`: the cases the user wrote an expectation for. Every alert's case (`all`)
    confirms monitorgen's own route evaluation, which its test suite already compares
    with amtool; worth the processes in CI, not on every commit."""
    if routes == "none":
        return []
    if routes == "tests":  # without the cases of thousands of alerts, only to drop them
        return routing.test_cases(spec)
    return routing.routing_cases(spec)


Situation = tuple[routing.RoutingKey, tuple[str, ...]]
"""What decides amtool's answer: the labels the routes read, and the receivers expected."""


@immutable
class RoutePlan:
    """Each case with monitorgen's own answer, and one case per distinct situation:
    thousands of alerts usually differ only in labels no route reads, and amtool
    would start a process for each."""

    cases: tuple[tuple[routing.RoutingCase, tuple[str, ...], Situation], ...]
    """(case, monitorgen's receivers, its situation), in the order given."""
    examples: dict[Situation, routing.RoutingCase]

    @classmethod
    def of(cls, spec: Spec, cases: Sequence[routing.RoutingCase]) -> RoutePlan:
        assert spec.routing is not None
        names = routing.routed_labels(spec.routing)
        planned = []
        examples: dict[Situation, routing.RoutingCase] = {}
        for case in cases:
            ours = routing.receivers(spec.routing, dict(case.labels))
            expected = case.expected if case.expected is not None else ours
            situation = (routing.routing_key(case.labels, names), expected)
            examples.setdefault(situation, case)
            planned.append((case, ours, situation))
        return cls(tuple(planned), examples)


Answer = tuple[ToolRun, tuple[str, ...]]


@immutable
class AmtoolRuns:
    """amtool processes under way on a temporary copy of the config."""

    plan: RoutePlan
    folder: ExitStack
    checked: Future[ToolRun]
    answers: dict[Situation, Future[Answer]]
    verdicts: AmtoolVerdicts | None = None
    """Where what amtool accepts is remembered, if anywhere."""

    def findings(self) -> list[Diagnostic]:
        """Wait for amtool; its findings in the order of the routing cases."""
        try:
            checked = self.checked.result()
            if not checked.ok:
                return [config_refused(checked)]
            answers = {situation: run.result() for situation, run in self.answers.items()}
            self._remember(answers)
            return list(route_findings(self.plan, answers))
        finally:
            self.discard()

    def _remember(self, answers: dict[Situation, Answer]) -> None:
        if self.verdicts is None:
            return
        self.verdicts.accept_config()
        for situation, (result, answer) in answers.items():
            if result.ok and answer == situation[1]:  # amtool confirmed what it was asked
                question = _question(situation, self.plan.examples[situation])
                self.verdicts.accept_route(question, answer)
        self.verdicts.save()

    def discard(self) -> None:
        """Stop what has not started, wait for the rest and remove the config copy."""
        for run in self.answers.values():
            run.cancel()
        wait([self.checked])
        wait(self.answers.values())
        self.folder.close()


def config_refused(checked: ToolRun) -> Diagnostic:
    return Diagnostic(
        "tools/amtool-check-config",
        f"amtool check-config refuses the generated {alertmanager.CONFIG_PATH}: {checked.output}",
        path=("routing",),
    )


def route_findings(plan: RoutePlan, answers: dict[Situation, Answer]) -> Iterator[Diagnostic]:
    for case, ours, situation in plan.cases:
        result, answer = answers[situation]
        if answer == ours:
            continue  # agrees; a wrong expectation is reported by `routing.check`
        if not answer:
            message = f"amtool config routes test failed: {result.output}"
            yield Diagnostic("tools/amtool-failed", f"{case.title}: {message}", path=case.path)
            continue
        yield Diagnostic(
            "routing/amtool-disagrees",
            f"{case.title}: amtool config routes test sends {routing.show_labels(case.labels)} "
            f"to {', '.join(answer)}, monitorgen's evaluation to {', '.join(ours)}",
            path=case.path,
        )
