"""load -> schema -> model -> semantic checks -> lint -> targets. Returns results; never
prints and never writes (the CLI renders, the writer writes)."""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monitorgen import routing
from monitorgen.diagnostics import (
    Diagnostic,
    Severity,
    Span,
    SpecError,
    has_errors,
    sorted_diagnostics,
)
from monitorgen.model import Spec
from monitorgen.semantic import check_spec
from monitorgen.semantic.receivers import missing_secret_files
from monitorgen.spec.loader import SpecMap, display_name, load_spec_file, overlay, span_of
from monitorgen.spec.schema import validate_document
from monitorgen.spec.to_model import to_model
from monitorgen.targets import render_all
from monitorgen.targets.base import Artifact

DEFAULT_SPEC_DIR = Path("specs")
DEFAULT_OUTPUT_DIR = Path("generated")


@dataclass
class Compiled:
    """One spec (or one of its environments) taken as far as its findings allow."""

    output_name: str
    spec: Spec | None
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.spec is not None and not has_errors(self.diagnostics)


def discover_specs(spec_dir: Path = DEFAULT_SPEC_DIR) -> list[Path]:
    return sorted(p for p in spec_dir.glob("*.yaml") if p.is_file())


@dataclass(frozen=True)
class ExtraChecks:
    """Checks beyond the spec itself, which `monitorgen check` asks for."""

    tools: bool = False
    """Confirm the Alertmanager output with amtool, when it is installed."""
    secrets_in: Path | None = None
    """Warn about referenced secret files missing under this output folder (or absolute)."""


NO_EXTRA_CHECKS = ExtraChecks()


def compile_spec(path: Path, extra: ExtraChecks = NO_EXTRA_CHECKS) -> list[Compiled]:
    """The spec itself and each environment it declares, validated and modelled."""
    try:
        document = load_spec_file(path)
    except SpecError as exc:
        return [Compiled(path.stem, None, exc.diagnostics)]
    base_problems = validate_document(document)
    if base_problems:
        return [Compiled(path.stem, None, _placed(base_problems, document))]
    results = [_model(document, path, None, extra)]
    for env in sorted(document.get("environments", {})):
        results.append(_model(_environment(document, env), path, env, extra))
    return results


def _environment(document: SpecMap, env: str) -> SpecMap:
    base = SpecMap(document.span)
    for key, value in document.items():
        if key != "environments":
            base.put(key, value, document.key_spans[key], document.value_spans[key])
    merged: SpecMap = overlay(base, document["environments"][env])
    return merged


def _model(document: SpecMap, path: Path, env: str | None, extra: ExtraChecks) -> Compiled:
    output_name = path.stem if env is None else f"{path.stem}.{env}"
    problems = validate_document(document) if env else []
    if problems:
        return Compiled(output_name, None, _placed(problems, document, env))
    spec = to_model(document, name=output_name, source=display_name(path), environment=env)
    findings = check_spec(spec) + list(routing.check(spec)) + _lint(spec)
    findings += _extra_findings(spec, extra, output_name, checked=findings)
    return Compiled(output_name, spec, _placed(findings, document, env))


def _extra_findings(
    spec: Spec, extra: ExtraChecks, output_name: str, checked: list[Diagnostic]
) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    if extra.secrets_in is not None:
        config_dir = extra.secrets_in / output_name / "alertmanager"
        found.extend(missing_secret_files(spec, config_dir))
    if extra.tools and not has_errors(checked):
        from monitorgen import tools  # subprocesses and temporary files: only when asked

        found.extend(tools.alertmanager_findings(spec))
    return found


def _lint(spec: Spec) -> list[Diagnostic]:
    from monitorgen.lint import run_lint

    return [d for d in run_lint(spec) if d.code not in spec.lint_disabled]


def _placed(found: list[Diagnostic], document: Any, env: str | None = None) -> list[Diagnostic]:
    """Give every finding a line and column from its field path, and name the environment."""
    placed = []
    for item in found:
        span = item.span if item.span.line else span_of(document, item.path)
        message = f"{item.message} (environment {env})" if env else item.message
        placed.append(
            Diagnostic(item.code, message, span, item.path, item.severity, item.hint, item.related)
        )
    return sorted_diagnostics(placed)


@dataclass
class BuildResult:
    compiled: list[Compiled]
    tree: dict[str, list[Artifact]]

    @property
    def diagnostics(self) -> list[Diagnostic]:
        return sorted_diagnostics([d for c in self.compiled for d in c.diagnostics])

    def failed(self, fail_on: Severity = Severity.ERROR) -> bool:
        return any(d.severity >= fail_on for d in self.diagnostics) or any(
            c.spec is None for c in self.compiled
        )


def build(
    paths: Sequence[Path], *, render: bool = True, extra: ExtraChecks = NO_EXTRA_CHECKS
) -> BuildResult:
    """Compile every spec; render files only when no spec has an error."""
    with _young_collections_only():
        compiled = [item for path in paths for item in compile_spec(path, extra)]
        _check_output_names(compiled)
        tree: dict[str, list[Artifact]] = {}
        if render and all(c.ok for c in compiled):
            for item in compiled:
                assert item.spec is not None
                tree[item.output_name] = render_all(item.spec)
    return BuildResult(compiled, tree)


@contextmanager
def _young_collections_only() -> Iterator[None]:
    """A large spec becomes a million small objects that live until the end. With the
    default thresholds the garbage collector scans them all again every few thousand
    allocations: over half the time of loading a spec of 5,000 alerts. Young objects
    are collected as usual; the older generations only rarely until the build is done."""
    previous = gc.get_threshold()
    gc.set_threshold(previous[0], 1000, 1000)
    try:
        yield
    finally:
        gc.set_threshold(*previous)


def _check_output_names(compiled: list[Compiled]) -> None:
    seen: set[str] = set()
    for item in compiled:
        if item.output_name in seen:
            where = Span(item.spec.source, 1, 1) if item.spec is not None else Span("<unknown>")
            item.diagnostics.append(
                Diagnostic(
                    "names/output-clash",
                    f"two specs write generated/{item.output_name}",
                    where,
                    hint="rename one of the spec files",
                )
            )
        seen.add(item.output_name)
