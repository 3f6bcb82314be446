"""load -> schema -> model -> semantic checks -> lint -> targets. Returns results; never
prints and never writes (the CLI renders, the writer writes)."""

from __future__ import annotations

import difflib
import gc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

from monitorgen import routing
from monitorgen.diagnostics import (
    Diagnostic,
    Severity,
    Span,
    SpecError,
    format_path,
    has_errors,
    sorted_diagnostics,
)
from monitorgen.forked import Forked, ForkFailed, fork_available
from monitorgen.immutable import immutable
from monitorgen.model import Spec
from monitorgen.rule_set import rule_groups
from monitorgen.semantic import check_spec
from monitorgen.semantic.promql_usage import find_facts
from monitorgen.semantic.receivers import missing_secret_files
from monitorgen.spec.loader import (
    SpecMap,
    added_like_existing,
    display_name,
    load_spec_file,
    overlay,
    path_at,
    paths_in_their_files,
    source_name,
    span_of,
)
from monitorgen.spec.parse_cache import ParseCache
from monitorgen.spec.schema import validate_document
from monitorgen.spec.to_model import to_model
from monitorgen.targets import (
    SharedRendering,
    render_all,
    start_offloaded,
    start_offloaded_modelling,
    worth_offloading,
)
from monitorgen.targets.base import Artifact

if TYPE_CHECKING:
    from monitorgen.tools import AmtoolRuns

DEFAULT_SPEC_DIR = Path("specs")
DEFAULT_OUTPUT_DIR = Path("generated")


@dataclass
class Compiled:
    """One spec (or one of its environments) taken as far as its findings allow."""

    output_name: str
    spec: Spec | None
    diagnostics: list[Diagnostic] = field(default_factory=list)
    pending: AmtoolRuns | None = None
    """External tools still running in the background."""
    rendering: SharedRendering | None = None
    """The tests of a large spec already rendering in a worker while the spec is checked."""
    linting: PendingLint | None = None
    """Lint of a large spec still running in a child (when nothing is rendered)."""
    document: SpecMap | None = None
    """The loaded spec, where late findings are placed. Kept as long as this result:
    freeing the hundred thousand containers of a large spec takes 0.06 s, which a
    command that exits at once (see `cli.run`) need not spend before writing."""
    env: Environment | None = None

    @property
    def ok(self) -> bool:
        return self.spec is not None and not has_errors(self.diagnostics)

    def start_tools(self, extra: ExtraChecks) -> None:
        """Start the external tools on a spec found valid so far, in the background.

        Called once every spec of the command is compiled: the tools run in threads,
        and forking the children of a large spec while threads run could leave a lock
        held in the child (Python 3.12 warns about it)."""
        if self.spec is None or self.document is None or has_errors(self.diagnostics):
            return
        runs = _start_tools(self.spec, extra)
        if runs is not None:
            self.pending = runs

    def finish(self) -> None:
        """Wait for lint and the external tools and add their findings."""
        try:
            self.add(self._lint_findings())
            if self.pending is not None:
                pending, self.pending = self.pending, None
                self.add(_placed(pending.findings(), self.document, self.env))
        except BaseException:
            self.abandon()
            raise

    def _lint_findings(self) -> list[Diagnostic]:
        if self.linting is None:
            return []
        linting, self.linting = self.linting, None
        found = linting.findings()
        if has_errors(found) and self.pending is not None:
            self.pending.discard()  # amtool only confirms specs without errors
            self.pending = None
        return found

    def add(self, found: list[Diagnostic]) -> None:
        if found:
            self.diagnostics = sorted_diagnostics(self.diagnostics + found)

    def abandon(self) -> None:
        """Stop lint and the external tools without waiting for what they would find."""
        if self.linting is not None:
            self.linting.child.cancel()
            self.linting = None
        if self.pending is not None:
            self.pending.discard()
            self.pending = None


def discover_specs(spec_dir: Path = DEFAULT_SPEC_DIR) -> list[Path]:
    return sorted(p for p in spec_dir.glob("*.yaml") if p.is_file())


@immutable
class Environment:
    """One environment of a spec: its name, and its section as written, where the
    findings on what it overrides are."""

    name: str
    section: SpecMap


AmtoolRoutes = Literal["tests", "all", "none"]
"""Which routing cases `amtool config routes test` confirms: the spec's `routing.tests`,
also every distinct routing situation of the spec's alerts, or none."""
AMTOOL_ROUTES: tuple[AmtoolRoutes, ...] = get_args(AmtoolRoutes)


@immutable
class ExtraChecks:
    """Checks beyond the spec itself, which `monitorgen check` asks for."""

    tools: bool = False
    """Confirm the Alertmanager output with amtool, when it is installed."""
    secrets_in: Path | None = None
    """Warn about referenced secret files missing under this output folder (or absolute)."""
    amtool_routes: AmtoolRoutes = "tests"
    remember_verdicts: bool = False
    """Take what amtool accepted of the same config before from the cache folder
    (`tool_verdicts`), and add what it accepts now."""


NO_EXTRA_CHECKS = ExtraChecks()


def compile_spec(path: Path, extra: ExtraChecks = NO_EXTRA_CHECKS) -> list[Compiled]:
    """The spec itself and each environment it declares, validated and modelled."""
    results = _compile_spec(path, extra, rendering=False)
    for item in results:
        item.start_tools(extra)
        item.finish()
    return results


def _compile_spec(
    path: Path,
    extra: ExtraChecks,
    *,
    rendering: bool,
    cache: ParseCache | None = None,
    root: Path | None = None,
) -> list[Compiled]:
    """As `compile_spec`, with the external tools possibly still running, with the
    heaviest targets of a large spec already rendering when `rendering`, with the
    files `cache` keeps taken from it, and naming the spec from `root` (`source_name`)."""
    try:
        document = load_spec_file(path, cache=cache)
    except SpecError as exc:
        return [Compiled(path.stem, None, exc.diagnostics)]
    source = source_name(path, root)
    worker = _start_worker_early(document, path, source) if rendering else None
    try:
        base_problems = validate_document(document)
        if base_problems:
            if worker is not None:
                worker.cancel()
            spec_itself = Compiled(path.stem, None, _placed(base_problems, document))
            return [spec_itself, *_environments_own_problems(document, path)]
        results = [_model(document, path, source, None, extra, rendering, worker)]
    except BaseException:
        if worker is not None:
            worker.cancel()
        raise
    for name in sorted(document.get("environments", {})):
        env = Environment(name, document["environments"][name])
        merged = _environment(document, name)
        results.append(_model(merged, path, source, env, extra, rendering, base=document))
    return results


def _environments_own_problems(document: SpecMap, path: Path) -> list[Compiled]:
    """With the spec itself invalid, the schema problems of what each environment
    writes, so that every problem is reported at once (those it inherits are the
    spec's own, reported once)."""
    environments = document.get("environments")
    if not isinstance(environments, SpecMap):
        return []
    found = []
    for name in sorted(environments):
        if not isinstance(environments[name], SpecMap):
            continue  # the spec's own schema finding says what is wrong with it
        env = Environment(name, environments[name])
        merged = _environment(document, name)
        placed = _placed(validate_document(merged), merged, env)
        own = [d for d in placed if d.path[:2] == ("environments", name)]
        if own:
            found.append(Compiled(f"{path.stem}.{name}", None, own))
    return found


def _start_worker_early(document: SpecMap, path: Path, source: str) -> SharedRendering | None:
    """For a large spec, the worker rendering the heaviest targets, started before the
    spec is validated and modelled here: it models the spec itself on the second CPU."""
    size = sum(
        len(v) for v in (document.get("alerts"), document.get("slos")) if isinstance(v, list)
    )
    if not worth_offloading(size):
        return None
    return start_offloaded_modelling(partial(_spec_of, document, path, source, None))


def _spec_of(
    document: SpecMap, path: Path, source: str, env: str | None, base: SpecMap | None = None
) -> Spec:
    """The model of the spec, or of its environment `env` (`document` then merged from
    the spec `base`)."""
    output_name = path.stem if env is None else f"{path.stem}.{env}"
    return to_model(
        document, name=output_name, source=source, environment=env, environments_of=base
    )


def _environment(document: SpecMap, env: str) -> SpecMap:
    base = SpecMap(document.span)
    for key, value in document.items():
        if key != "environments":
            base.put(key, value, document.key_spans[key], document.value_spans[key])
    merged: SpecMap = overlay(base, document["environments"][env])
    return merged


def _model(
    document: SpecMap,
    path: Path,
    source: str,
    env: Environment | None,
    extra: ExtraChecks,
    rendering: bool,
    worker: SharedRendering | None = None,
    base: SpecMap | None = None,
) -> Compiled:
    output_name = path.stem if env is None else f"{path.stem}.{env.name}"
    problems = validate_document(document) if env else []
    if problems:
        if base is not None:
            problems = [_named_like_the_spec(item, document, base) for item in problems]
        return Compiled(output_name, None, _placed(problems, document, env))
    spec = _spec_of(document, path, source, env.name if env else None, base)
    # Started before the checks, so both run at once; dropped if the checks find errors.
    if worker is None and rendering:
        worker = start_offloaded(spec)
    try:
        compiled = _checked(spec, document, env, extra, lint_apart=worker is None)
    except BaseException:
        if worker is not None:
            worker.cancel()
        raise
    compiled.rendering = worker
    if env is not None and base is not None:
        compiled.add(_placed(added_like_existing(base, env.section), document, env))
    return compiled


def _named_like_the_spec(found: Diagnostic, merged: SpecMap, base: SpecMap) -> Diagnostic:
    """A finding inside an item an environment added because no item of the spec has
    its name: a misspelt name makes a new, incomplete item, so the hint names the
    spec's item it most likely meant."""
    if found.hint or len(found.path) < 2 or not isinstance(found.path[1], int):
        return found
    key, index = str(found.path[0]), found.path[1]
    items, known = merged.get(key), base.get(key)
    if not isinstance(items, list) or not isinstance(known, list) or index >= len(items):
        return found
    name = items[index].get("name") if isinstance(items[index], dict) else None
    names = [item.get("name") for item in known if isinstance(item, dict)]
    if not isinstance(name, str) or name in names:
        return found
    known_names = [n for n in names if isinstance(n, str)]
    close = difflib.get_close_matches(name, known_names, n=1, cutoff=0.8)  # a slip of a key
    if not close:
        return found
    return replace(
        found,
        hint=f"'{name}' names no item of the spec, so this adds one: did you mean '{close[0]}'?",
    )


def _checked(
    spec: Spec, document: SpecMap, env: Environment | None, extra: ExtraChecks, *, lint_apart: bool
) -> Compiled:
    """The spec checked and linted; with `lint_apart`, a large spec is linted in a child.

    A build with a worker sharing the tests (`targets.SharedRendering`) lints here: the
    worker takes more chunks meanwhile, and a third process would only cost its fork
    and the memory it copies while reading the model."""
    output_name = spec.name
    linting = _start_lint(spec) if lint_apart else None
    try:
        findings = check_spec(spec) + list(routing.check(spec))
        if linting is None:
            findings += _lint(spec)
    except BaseException:
        if linting is not None:
            linting.cancel()
        raise
    findings += _extra_findings(spec, extra, output_name)
    placed = _placed(findings, document, env)
    compiled = Compiled(output_name, spec, placed, document=document, env=env)
    if linting is not None:
        compiled.linting = PendingLint(spec, linting, document, env)
    return compiled


def _extra_findings(spec: Spec, extra: ExtraChecks, output_name: str) -> list[Diagnostic]:
    if extra.secrets_in is None:
        return []
    return list(missing_secret_files(spec, extra.secrets_in / output_name))


def _start_tools(spec: Spec, extra: ExtraChecks) -> AmtoolRuns | None:
    """amtool starts once the spec is known valid; it runs while lint and the targets do."""
    if not extra.tools:
        return None
    from monitorgen import tools  # subprocesses and temporary files: only when asked
    from monitorgen.cache_folder import cache_root

    remembered_in = cache_root() if extra.remember_verdicts else None
    return tools.start_amtool(spec, extra.amtool_routes, remembered_in)


@immutable
class PendingLint:
    """Lint of one spec running in a child, and where its findings go in its document."""

    spec: Spec
    child: Forked[list[Diagnostic]]
    document: SpecMap
    env: Environment | None

    def findings(self) -> list[Diagnostic]:
        return _placed(_lint_found(self.spec, self.child), self.document, self.env)


#: From this many alerts and SLOs, a spec checked without a worker sharing its tests
#: (`validate`) is linted in a forked child while the semantic checks run here: below
#: it the child costs more than it saves.
LINT_ELSEWHERE_FROM = 500


def _start_lint(spec: Spec) -> Forked[list[Diagnostic]] | None:
    if len(spec.alerts) + len(spec.slos) < LINT_ELSEWHERE_FROM or not fork_available():
        return None
    rule_groups(spec)  # remembered on the spec before forking: lint and the rule files share it
    find_facts(spec)  # the semantic checks need them here too
    # In the background: its findings are wanted last, after the checks here.
    return Forked(partial(_lint, spec), background=True)


def _lint_found(spec: Spec, linting: Forked[list[Diagnostic]]) -> list[Diagnostic]:
    """Lint's findings from the child. A child that died (out of memory, killed) costs
    time, not the check; a bug raises here again, with its own traceback."""
    try:
        return linting.result()
    except ForkFailed:
        return _lint(spec)


def _lint(spec: Spec) -> list[Diagnostic]:
    from monitorgen.lint import run_lint

    return [d for d in run_lint(spec) if d.code not in spec.lint_disabled]


def _placed(
    found: list[Diagnostic], document: Any, env: Environment | None = None
) -> list[Diagnostic]:
    """Give every finding a line and column from its field path, and name the
    environment; a finding on what an environment wrote gets the path it is written at."""
    placed = []
    in_its_file = paths_in_their_files(document)
    for item in found:
        span = item.span if item.span.line else span_of(document, item.path)
        path, message, related = in_its_file(item.path), item.message, item.related
        if item.first_defined_at is not None:
            first = span_of(document, item.first_defined_at)
            message += _first_definition(in_its_file(item.first_defined_at), first, span)
            related = (*related, first)
        if env is not None:
            written = path_at(env.section, span)
            if written is not None:
                path = ("environments", env.name, *written)
            message = f"{message} (environment {env.name})"
        placed.append(Diagnostic(item.code, message, span, path, item.severity, item.hint, related))
    return sorted_diagnostics(placed)


def _first_definition(path: tuple[str | int, ...], first: Span, here: Span) -> str:
    """Where the first definition is: its path in its own file, and that file's name
    when it is not the one the finding is in."""
    place = f"line {first.line}" if first.file == here.file else f"{first.file}:{first.line}"
    return f" (first defined at {format_path(path)}, {place})"


@dataclass
class BuildResult:
    compiled: list[Compiled]
    tree: dict[str, list[Artifact]]

    @property
    def diagnostics(self) -> list[Diagnostic]:
        """Every finding, once: an environment's finding on what it inherits unchanged
        from its spec (the same code, place and message) is the spec's own."""
        of_spec = {
            c.output_name: {(d.code, d.span, d.message) for d in c.diagnostics}
            for c in self.compiled
            if c.env is None
        }
        kept = []
        for c in self.compiled:
            if c.env is None:
                kept += c.diagnostics
                continue
            inherited = of_spec.get(c.output_name.removesuffix(f".{c.env.name}"), set())
            suffix = f" (environment {c.env.name})"
            kept += [
                d
                for d in c.diagnostics
                if (d.code, d.span, d.message.removesuffix(suffix)) not in inherited
            ]
        return sorted_diagnostics(kept)

    def failed(self, fail_on: Severity = Severity.ERROR) -> bool:
        return any(d.severity >= fail_on for d in self.diagnostics) or any(
            c.spec is None for c in self.compiled
        )


def build(
    paths: Sequence[Path],
    *,
    render: bool = True,
    extra: ExtraChecks = NO_EXTRA_CHECKS,
    cache: bool = False,
    root: Path | None = None,
) -> BuildResult:
    """Compile every spec; render files only when no spec has an error. With `cache`,
    spec files parsed by an earlier run are taken from the cache folder. The files
    name their spec from `root` (the output folder's parent; see `source_name`)."""
    parsed = ParseCache.default() if cache else None
    with _no_cycle_collection():
        sourced = [
            (path, item)
            for path in paths
            for item in _compile_spec(path, extra, rendering=render, cache=parsed, root=root)
        ]
        compiled = [item for _path, item in sourced]
        tree: dict[str, list[Artifact]] = {}
        try:
            _check_output_names(sourced)
            for item in compiled:  # every child of the compilation is forked by now
                item.start_tools(extra)
            if render and all(c.ok for c in compiled):
                for item in compiled:
                    assert item.spec is not None
                    worker, item.rendering = item.rendering, None
                    tree[item.output_name] = render_all(item.spec, worker=worker)
        except BaseException:
            for item in compiled:
                item.abandon()
            raise
        finally:
            for item in compiled:
                item.finish()
                if item.rendering is not None:  # not rendered: the spec had errors
                    item.rendering.cancel()
                    item.rendering = None
        if not all(c.ok for c in compiled):
            tree = {}  # lint in a child or an external tool found an error
    return BuildResult(compiled, tree)


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """A large spec becomes a million small objects that live until the end of the
    build, and almost none of them form reference cycles (a build at 5,000 alerts
    leaves the same peak memory with the collector off). Each collection only scans
    them again: 0.15-0.2 s of CPU over the three processes of such a build. The
    collector is off while specs compile (in forked children too) and on again after,
    with what was made meanwhile moved to the oldest generation unscanned: turned on
    with them all in the youngest, it would scan them all at the next allocation
    (0.2 s at 5,000 alerts)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.unfreeze()  # the frozen objects go to the oldest generation
        if enabled:
            gc.enable()


def _check_output_names(sourced: list[tuple[Path, Compiled]]) -> None:
    """Two spec files of one name (in two folders) would write one output folder."""
    first: dict[str, Path] = {}
    for path, item in sourced:
        earlier = first.setdefault(item.output_name, path)
        if earlier == path:
            continue
        item.diagnostics.append(
            Diagnostic(
                "names/output-clash",
                f"{display_name(earlier)} and this spec both write the output folder "
                f"{item.output_name}/",
                Span(display_name(path), 1, 1),
                hint="rename one of the spec files",
            )
        )
