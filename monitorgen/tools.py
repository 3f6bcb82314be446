"""External tools that confirm what monitorgen generates, run when they are installed.

`amtool` reads the Alertmanager config from a temporary folder, which is the only disk
access of a check: `amtool check-config` must accept it, and `amtool config routes test`
must route every routing case of the spec where monitorgen's own evaluation does.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from monitorgen import routing
from monitorgen.diagnostics import Diagnostic
from monitorgen.model import Spec
from monitorgen.targets import alertmanager
from monitorgen.targets.base import Artifact

AMTOOL = "amtool"
TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True)
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
            list(command), capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False
        )
    except subprocess.TimeoutExpired:
        return ToolRun(tuple(command), -1, "", f"timed out after {TIMEOUT_SECONDS:g}s")
    return ToolRun(tuple(command), done.returncode, done.stdout, done.stderr)


@contextmanager
def written(artifacts: Sequence[Artifact], under: str) -> Iterator[Path]:
    """A temporary folder holding `artifacts` at their relative paths, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="monitorgen-") as folder:
        root = Path(folder)
        for artifact in artifacts:
            target = root / artifact.path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(artifact.content)
        yield root / under


# --- amtool ------------------------------------------------------------------------------


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


def alertmanager_findings(spec: Spec) -> list[Diagnostic]:
    """What amtool says about the generated config and the spec's routing cases.

    Nothing when amtool is not installed or the spec has no routing.
    """
    amtool = shutil.which(AMTOOL)
    if amtool is None or spec.routing is None:
        return []
    with written(alertmanager.render(spec), alertmanager.CONFIG_PATH) as config_file:
        checked = amtool_check_config(amtool, config_file)
        if not checked.ok:
            return [
                Diagnostic(
                    "tools/amtool-check-config",
                    f"amtool check-config refuses the generated {alertmanager.CONFIG_PATH}: "
                    f"{checked.output}",
                    path=("routing",),
                )
            ]
        return list(_route_findings(spec, amtool, config_file))


def _route_findings(spec: Spec, amtool: str, config_file: Path) -> Iterator[Diagnostic]:
    """One amtool run per distinct routing situation: thousands of alerts usually differ
    only in labels no route reads, and those cases would each start a process."""
    assert spec.routing is not None
    names = routing.routed_labels(spec.routing)
    answers: dict[tuple[routing.RoutingKey, tuple[str, ...]], tuple[ToolRun, tuple[str, ...]]] = {}
    for case in routing.routing_cases(spec):
        ours = routing.receivers(spec.routing, dict(case.labels))
        expected = case.expected if case.expected is not None else ours
        key = (routing.routing_key(case.labels, names), expected)
        if key not in answers:
            answers[key] = amtool_routes(amtool, config_file, case.labels, expected)
        result, answer = answers[key]
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
