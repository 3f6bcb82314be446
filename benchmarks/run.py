"""Time whole `monitorgen` processes on synthetic specs of growing size, and the start-up cost.

    .venv/bin/python benchmarks/run.py [--sizes 10,100,1000] [--repeat 5] [--quick]
                                       [--baseline REV]

For each size it prints the median wall time of `monitorgen validate`, `build` (into a
temporary folder) and `check` as they run on most commits, with the cache folder of an
earlier run (spec files as parsed, amtool's verdicts on an unchanged config), and of
each with `--no-cache` (`validate-cold`, `build-cold`, `check-cold`: everything done
afresh), then the growth between consecutive sizes. The start-up line compares `monitorgen build
specs/llm.yaml` with a bare Python process importing the libraries monitorgen uses; the
two are run alternately so machine load hits both alike.

With `--baseline REV` the same runs are made with monitorgen as it was at that git
revision (exported into the temporary folder), alternating with this tree's run by run,
and every figure is printed with the ratio of this tree to the baseline: on a noisy
machine only figures taken side by side compare.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.synthetic import SIZES, SyntheticSpec, generate

ROOT = Path(__file__).resolve().parent.parent
FLAGSHIP = Path("specs") / "llm.yaml"
COMMANDS = ("validate", "build", "check", "validate-cold", "build-cold", "check-cold")
COLD = "-cold"
BARE_IMPORTS = "import yaml, jsonschema, click, grafanalib.core, prometheus_client, promql_parser"
#: The issue's targets.
LARGEST_SIZE_SECONDS = 3.0
STARTUP_RATIO = 1.25
GROWTH_LIMIT = 11.0


@dataclass(frozen=True)
class Case:
    size: int
    spec: Path
    synthetic: SyntheticSpec


@dataclass(frozen=True)
class Side:
    """One monitorgen under test: this tree, or a baseline revision exported to `root`."""

    name: str
    root: Path
    work: Path
    """Its own output folders and amtool verdict cache: the two sides' outputs may differ."""
    python_path: Path | None = None
    cache_everywhere: bool = True
    """Whether validate and build take `--no-cache` (before the parse cache, only check
    had a cache; a revision without the option does all of its work afresh anyway)."""

    def env(self) -> dict[str, str]:
        """The environment without PYTHONDONTWRITEBYTECODE: an installed monitorgen runs
        from cached bytecode, so the first (warm-up) run of each command caches it too."""
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["MONITORGEN_CACHE_DIR"] = str(self.work / "cache")
        if self.python_path is not None:
            env["PYTHONPATH"] = str(self.python_path)
        return env

    def output(self, case: Case) -> Path:
        return self.work / f"out-{case.size}"


def monitorgen(*args: str) -> list[str]:
    return [sys.executable, "-m", "monitorgen", *args]


def timed(argv: Sequence[str], side: Side) -> float:
    """Wall time of one process; a failing process stops the benchmark."""
    start = time.perf_counter()
    done = subprocess.run(
        argv, cwd=side.work, env=side.env(), capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(
            f"[{side.name}] {' '.join(argv)} exited {done.returncode}:\n{done.stdout}{done.stderr}"
        )
    return elapsed


def command_argv(case: Case, command: str, side: Side) -> list[str]:
    name = command.removesuffix(COLD)
    flags = ["--no-cache"] if command.endswith(COLD) and _takes_no_cache(name, side) else []
    if name == "validate":
        return monitorgen("validate", *flags, str(case.spec))
    return monitorgen(name, *flags, str(case.spec), "-o", str(side.output(case)))


def _takes_no_cache(command: str, side: Side) -> bool:
    return command == "check" or side.cache_everywhere


def prepare(sizes: Sequence[int], work: Path) -> list[Case]:
    cases = []
    for size in sizes:
        synthetic = generate(size)
        spec = synthetic.write(work / f"spec-{size}")
        cases.append(Case(size, spec, synthetic))
    return cases


def this_tree(work: Path) -> Side:
    return Side("this tree", ROOT, _folder(work / "this-tree"))


def baseline(revision: str, work: Path) -> Side:
    """monitorgen at `revision`, exported with `git archive` (nothing in the repository
    changes) and imported ahead of the installed one through PYTHONPATH."""
    root = work / "baseline-tree"
    archive = work / "baseline.tar"
    with archive.open("wb") as out:
        exported = subprocess.run(
            ["git", "-C", str(ROOT), "archive", "--format=tar", revision],
            stdout=out,
            stderr=subprocess.PIPE,
            text=False,
            check=False,
        )
    if exported.returncode != 0:
        raise SystemExit(f"cannot export {revision}: {exported.stderr.decode().strip()}")
    with tarfile.open(archive) as tar:
        tar.extractall(root, filter="data")
    side = Side(revision, root, _folder(work / "baseline"), python_path=root)
    help_text = subprocess.run(
        monitorgen("build", "--help"), cwd=side.work, env=side.env(), capture_output=True, text=True
    ).stdout
    return replace(side, cache_everywhere="--no-cache" in help_text)


def _folder(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


Samples = dict[tuple[str, int, str], list[float]]
"""Seconds per (side, size, command)."""


def time_sizes(
    cases: Sequence[Case], commands: Sequence[str], repeat: int, sides: Sequence[Side]
) -> Samples:
    """Each round runs every command once per side, the sides one after the other."""
    warm_up = ["validate"]  # spec files as parsed, kept
    if {"build", "check", "build-cold", "check-cold"} & set(commands):
        warm_up.append("build")  # `check` compares with its output
    if "check" in commands:
        warm_up.append("check")  # amtool's verdicts on the config, kept
    progress(f"warm-up: {' and '.join(warm_up)} once per size")
    for case, command, side in itertools.product(cases, warm_up, sides):
        timed(command_argv(case, command, side), side)
    samples: Samples = {}
    for round_ in range(repeat):
        progress(f"round {round_ + 1} of {repeat}")
        for case, command, side in itertools.product(cases, commands, sides):
            key = (side.name, case.size, command)
            samples.setdefault(key, []).append(timed(command_argv(case, command, side), side))
    return samples


def time_startup(repeat: int, sides: Sequence[Side]) -> Samples:
    """Seconds of building each side's flagship and of the bare imports, all alternated."""
    bare = [sys.executable, "-c", BARE_IMPORTS]
    builds = {
        side.name: monitorgen("build", str(side.root / FLAGSHIP), "-o", str(side.work / "flagship"))
        for side in sides
    }
    for side in sides:
        timed(builds[side.name], side)
    samples: Samples = {}
    for _ in range(repeat):
        for side in sides:
            samples.setdefault((side.name, 0, "build"), []).append(timed(builds[side.name], side))
            samples.setdefault((side.name, 0, "bare"), []).append(timed(bare, side))
    return samples


def medians(samples: Samples) -> dict[tuple[str, int, str], float]:
    return {key: statistics.median(values) for key, values in samples.items()}


def progress(message: str) -> None:
    print(f"... {message}", file=sys.stderr, flush=True)


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def report_sizes(
    cases: Sequence[Case],
    commands: Sequence[str],
    times: dict[tuple[str, int, str], float],
    side: str,
) -> list[str]:
    lines = [
        f"{'size':>6} {'metrics':>8} {'alerts':>7} {'panels':>7} "
        + " ".join(f"{c:>13}" for c in commands)
    ]
    for case in cases:
        shape = case.synthetic.shape
        cells = " ".join(f"{times[side, case.size, c]:>12.2f}s" for c in commands)
        lines.append(
            f"{case.size:>6} {shape.metrics:>8} {shape.alerts:>7} {shape.panels:>7} {cells}"
        )
    largest = cases[-1].size
    if largest == max(SIZES):
        for kind, chosen in (
            ("with the cache", [c for c in commands if not c.endswith(COLD)]),
            ("with --no-cache", [c for c in commands if c.endswith(COLD)]),
        ):
            if chosen:
                slowest = max(times[side, largest, c] for c in chosen)
                ok = verdict(slowest <= LARGEST_SIZE_SECONDS)
                lines.append(
                    f"size {largest} {kind}: slowest command {slowest:.2f}s "
                    f"(target <= {LARGEST_SIZE_SECONDS:g}s: {ok})"
                )
    lines.append("")
    lines.append(f"{'growth':>12} " + " ".join(f"{c:>13}" for c in commands))
    for small, large in itertools.pairwise(cases):
        ratios = [times[side, large.size, c] / times[side, small.size, c] for c in commands]
        factor = large.size / small.size
        limit = GROWTH_LIMIT * factor / 10
        cells = " ".join(f"{r:>12.2f}x" for r in ratios)
        lines.append(
            f"{f'{large.size}/{small.size}':>12} {cells}  "
            f"(target <= {limit:g}x: {verdict(max(ratios) <= limit)})"
        )
    return lines


def report_against_baseline(
    cases: Sequence[Case],
    commands: Sequence[str],
    times: dict[tuple[str, int, str], float],
    now: str,
    base: str,
) -> list[str]:
    """Per size and command: this tree's median, the baseline's, and their ratio."""
    lines = [f"{'size':>6} {'command':>13} {now:>10} {base[:10]:>10} {'ratio':>7}"]
    for case, command in itertools.product(cases, commands):
        mine, theirs = times[now, case.size, command], times[base, case.size, command]
        lines.append(
            f"{case.size:>6} {command:>13} {mine:>9.2f}s {theirs:>9.2f}s {mine / theirs:>6.2f}x"
        )
    return lines


def report_startup(times: dict[tuple[str, int, str], float], side: str) -> list[str]:
    build, bare = times[side, 0, "build"], times[side, 0, "bare"]
    ratio = build / bare
    return [
        f"start-up ({side}): `monitorgen build specs/llm.yaml` {build:.2f}s, bare imports "
        f"{bare:.2f}s, ratio {ratio:.2f}x (target <= {STARTUP_RATIO:g}x: "
        f"{verdict(ratio <= STARTUP_RATIO)})"
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
        help=f"comma-separated commands to time ({', '.join(COMMANDS)})",
    )
    parser.add_argument("--repeat", type=int, default=5, help="runs per measurement")
    parser.add_argument(
        "--quick", action="store_true", help="sizes 10,100 and 3 runs, for a smoke check"
    )
    parser.add_argument(
        "--baseline",
        metavar="REV",
        help="also time monitorgen at this git revision, alternately, and print ratios",
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
        sides = [this_tree(work)]
        if args.baseline:
            progress(f"exporting {args.baseline}")
            sides.append(baseline(args.baseline, work))
        progress(f"writing synthetic specs of sizes {', '.join(map(str, args.sizes))}")
        cases = prepare(args.sizes, work)
        times = medians(time_sizes(cases, args.commands, args.repeat, sides))
        print(f"monitorgen benchmark: median wall time of {args.repeat} whole-process runs")
        for side in sides:
            print(f"\n[{side.name}]")
            print("\n".join(report_sizes(cases, args.commands, times, side.name)))
        if args.baseline:
            print(f"\n[this tree against {args.baseline}]")
            print("\n".join(report_against_baseline(cases, args.commands, times, *_names(sides))))
        print(flush=True)
        progress("start-up: flagship build against bare imports")
        startup = medians(time_startup(args.repeat, sides))
        for side in sides:
            print("\n".join(report_startup(startup, side.name)))


def _names(sides: Sequence[Side]) -> tuple[str, str]:
    return sides[0].name, sides[1].name


if __name__ == "__main__":
    main()
