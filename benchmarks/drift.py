"""Time the diff `monitorgen check` prints for stale output, beside difflib's.

    .venv/bin/python benchmarks/drift.py [--sizes 10,100,1000] [--repeat 3]
                                         [--difflib-up-to 100]

For each size it builds the synthetic spec, and the same spec with a word changed in
every alert's summary and every dashboard's title (what an edit to a shared text
does), then times `monitorgen.line_diff.unified_diff` over every file that differs
(median of `--repeat` runs) and the standard library's `difflib.unified_diff` over the
same files, alternately, and prints both and their ratio. difflib runs only up to
`--difflib-up-to` metrics: on the largest spec it takes minutes.
"""

from __future__ import annotations

import argparse
import difflib
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.synthetic import SIZES, SyntheticSpec, generate
from monitorgen import pipeline
from monitorgen.line_diff import unified_diff

#: The edit: in every alert's summary and every dashboard's title.
EDITED_WORD = ("Synthetic ", "Edited ")

Changed = list[tuple[str, bytes, bytes]]
"""(path, on disk, from spec) of every file that differs."""


def changed_files(spec: SyntheticSpec) -> Changed:
    edited = SyntheticSpec(
        spec.size,
        spec.seed,
        spec.main,
        {name: text.replace(*EDITED_WORD) for name, text in spec.files.items()},
    )
    with tempfile.TemporaryDirectory(prefix="monitorgen-drift-") as folder:
        before = _built(spec.write(Path(folder)))
        after = _built(edited.write(Path(folder)))  # at the same path: the same headers
    return [
        (path, content, after[path])
        for path, content in sorted(before.items())
        if after.get(path) != content
    ]


def _built(path: Path) -> dict[str, bytes]:
    result = pipeline.build([path])
    if result.failed():
        raise SystemExit(f"the synthetic spec {path} does not build")
    return {a.path: a.content for artifacts in result.tree.values() for a in artifacts}


def monitorgen_diff(changed: Changed) -> int:
    return sum(unified_diff(path, old, new).count("\n") for path, old, new in changed)


def difflib_diff(changed: Changed) -> int:
    lines = 0
    for path, old, new in changed:
        diff = difflib.unified_diff(
            old.decode().splitlines(keepends=True),
            new.decode().splitlines(keepends=True),
            fromfile=f"a/{path} (on disk)",
            tofile=f"b/{path} (from spec)",
        )
        lines += sum(1 for _ in diff)
    return lines


def timed(call: Callable[[Changed], int], changed: Changed) -> tuple[float, int]:
    started = time.perf_counter()
    lines = call(changed)
    return time.perf_counter() - started, lines


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--difflib-up-to", type=int, default=100)
    args = parser.parse_args(argv)
    print("drift diff: a word changed in every alert's summary and every dashboard's title")
    columns = ("size", 6), ("alerts", 7), ("files", 6), ("lines", 8), ("monitorgen", 11)
    print(" ".join(f"{name:>{width}}" for name, width in columns), f"{'difflib':>9} {'ratio':>7}")
    for size in (int(s) for s in args.sizes.split(",")):
        spec = generate(size)
        changed = changed_files(spec)
        ours: list[float] = []
        theirs: list[float] = []
        lines = 0
        for _ in range(args.repeat):
            seconds, lines = timed(monitorgen_diff, changed)
            ours.append(seconds)
            if size <= args.difflib_up_to:
                theirs.append(timed(difflib_diff, changed)[0])
        mine = statistics.median(ours)
        row = f"{size:>6} {spec.shape.alerts:>7} {len(changed):>6} {lines:>8} {mine:>10.3f}s"
        if theirs:
            baseline = statistics.median(theirs)
            row += f" {baseline:>8.3f}s {mine / baseline:>6.3f}x"
        else:
            row += f" {'(not run)':>9}"
        print(row, flush=True)


if __name__ == "__main__":
    main()
