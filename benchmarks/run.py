"""Time whole `monitorgen` processes on synthetic specs of growing size, and the start-up cost.

    .venv/bin/python benchmarks/run.py [--sizes 10,100,1000] [--repeat 5] [--quick]

For each size it prints the median wall time of `monitorgen validate`, `build` (into a
temporary folder), `check` (amtool's verdicts on an unchanged config remembered, as on
most commits) and `check-cold` (`check --no-cache`: amtool asked afresh), then the
growth between consecutive sizes. The start-up
line compares `monitorgen build specs/llm.yaml` with a bare Python process importing the
libraries monitorgen uses; the two are run alternately so machine load hits both alike.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.synthetic import SIZES, SyntheticSpec, generate

ROOT = Path(__file__).resolve().parent.parent
FLAGSHIP = ROOT / "specs" / "llm.yaml"
COMMANDS = ("validate", "build", "check", "check-cold")
BARE_IMPORTS = "import yaml, jsonschema, click, grafanalib.core, prometheus_client, promql_parser"
#: The issue's targets.
LARGEST_SIZE_SECONDS = 3.0
STARTUP_RATIO = 1.25
GROWTH_LIMIT = 11.0


@dataclass(frozen=True)
class Case:
    size: int
    spec: Path
    output: Path
    synthetic: SyntheticSpec


def monitorgen(*args: str) -> list[str]:
    return [sys.executable, "-m", "monitorgen", *args]


def child_env(work: Path) -> dict[str, str]:
    """The environment without PYTHONDONTWRITEBYTECODE: an installed monitorgen runs
    from cached bytecode, so the first (warm-up) run of each command caches it here too.
    amtool's verdicts are remembered in the benchmark's own folder."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**env, "MONITORGEN_CACHE_DIR": str(work / "cache")}


def timed(argv: Sequence[str], cwd: Path) -> float:
    """Wall time of one process; a failing process stops the benchmark."""
    env = child_env(cwd)
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {done.returncode}:\n{done.stdout}{done.stderr}")
    return elapsed


def command_argv(case: Case, command: str) -> list[str]:
    if command == "validate":
        return monitorgen("validate", str(case.spec))
    if command == "check-cold":
        return monitorgen("check", "--no-cache", str(case.spec), "-o", str(case.output))
    return monitorgen(command, str(case.spec), "-o", str(case.output))


def prepare(sizes: Sequence[int], work: Path) -> list[Case]:
    cases = []
    for size in sizes:
        synthetic = generate(size)
        spec = synthetic.write(work / f"spec-{size}")
        cases.append(Case(size, spec, work / f"out-{size}", synthetic))
    return cases


def time_sizes(
    cases: Sequence[Case], commands: Sequence[str], repeat: int, work: Path
) -> dict[tuple[int, str], float]:
    """Median seconds per (size, command); each round runs every command once, in turn."""
    warm_up = ["validate"] if "validate" in commands else []
    if {"build", "check", "check-cold"} & set(commands):
        warm_up.append("build")  # `check` compares with its output
    if "check" in commands:
        warm_up.append("check")  # amtool's verdicts on the config, remembered
    progress(f"warm-up: {' and '.join(warm_up)} once per size")
    for case in cases:
        for command in warm_up:
            timed(command_argv(case, command), work)
    samples: dict[tuple[int, str], list[float]] = {}
    for round_ in range(repeat):
        progress(f"round {round_ + 1} of {repeat}")
        for case in cases:
            for command in commands:
                key = (case.size, command)
                samples.setdefault(key, []).append(timed(command_argv(case, command), work))
    return {key: statistics.median(values) for key, values in samples.items()}


def time_startup(repeat: int, work: Path) -> tuple[float, float]:
    """Median seconds of building the flagship and of the bare imports, run alternately."""
    build = monitorgen("build", str(FLAGSHIP), "-o", str(work / "flagship"))
    bare = [sys.executable, "-c", BARE_IMPORTS]
    timed(build, work)
    builds, bares = [], []
    for _ in range(repeat):
        builds.append(timed(build, work))
        bares.append(timed(bare, work))
    return statistics.median(builds), statistics.median(bares)


def progress(message: str) -> None:
    print(f"... {message}", file=sys.stderr, flush=True)


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def report_sizes(
    cases: Sequence[Case], commands: Sequence[str], medians: dict[tuple[int, str], float]
) -> list[str]:
    lines = [
        f"{'size':>6} {'metrics':>8} {'alerts':>7} {'panels':>7} "
        + " ".join(f"{c:>10}" for c in commands)
    ]
    for case in cases:
        shape = case.synthetic.shape
        times = " ".join(f"{medians[case.size, c]:>9.2f}s" for c in commands)
        lines.append(
            f"{case.size:>6} {shape.metrics:>8} {shape.alerts:>7} {shape.panels:>7} {times}"
        )
    largest = cases[-1].size
    if largest == max(SIZES):
        slowest = max(medians[largest, c] for c in commands)
        lines.append(
            f"size {largest}: slowest command {slowest:.2f}s "
            f"(target <= {LARGEST_SIZE_SECONDS:g}s: {verdict(slowest <= LARGEST_SIZE_SECONDS)})"
        )
    lines.append("")
    lines.append(f"{'growth':>12} " + " ".join(f"{c:>10}" for c in commands))
    for small, large in itertools.pairwise(cases):
        ratios = [medians[large.size, c] / medians[small.size, c] for c in commands]
        factor = large.size / small.size
        limit = GROWTH_LIMIT * factor / 10
        cells = " ".join(f"{r:>9.2f}x" for r in ratios)
        lines.append(
            f"{f'{large.size}/{small.size}':>12} {cells}  "
            f"(target <= {limit:g}x: {verdict(max(ratios) <= limit)})"
        )
    return lines


def report_startup(build: float, bare: float) -> list[str]:
    ratio = build / bare
    return [
        f"start-up: `monitorgen build specs/llm.yaml` {build:.2f}s, bare imports {bare:.2f}s, "
        f"ratio {ratio:.2f}x (target <= {STARTUP_RATIO:g}x: {verdict(ratio <= STARTUP_RATIO)})"
    ]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        type=lambda text: [int(x) for x in text.split(",")],
        default=list(SIZES),
        help="comma-separated spec sizes (metrics; alerts are 5x)",
    )
    parser.add_argument(
        "--commands",
        type=lambda text: text.split(","),
        default=list(COMMANDS),
        help="comma-separated commands to time (validate, build, check, check-cold)",
    )
    parser.add_argument("--repeat", type=int, default=5, help="runs per measurement")
    parser.add_argument(
        "--quick", action="store_true", help="sizes 10,100 and 3 runs, for a smoke check"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.repeat = [10, 100], 3
    args.sizes = sorted(set(args.sizes))
    unknown = set(args.commands) - set(COMMANDS)
    if unknown:
        parser.error(f"unknown command(s): {', '.join(sorted(unknown))}")
    args.commands = [c for c in COMMANDS if c in args.commands]
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="monitorgen-bench-") as folder:
        work = Path(folder)
        progress(f"writing synthetic specs of sizes {', '.join(map(str, args.sizes))}")
        cases = prepare(args.sizes, work)
        medians = time_sizes(cases, args.commands, args.repeat, work)
        print(f"monitorgen benchmark: median wall time of {args.repeat} whole-process runs")
        print()
        print("\n".join(report_sizes(cases, args.commands, medians)))
        print(flush=True)
        progress("start-up: flagship build against bare imports")
        build, bare = time_startup(args.repeat, work)
        print("\n".join(report_startup(build, bare)))


if __name__ == "__main__":
    main()
