"""Test-side time compression of the generated rules, applied to a parsed copy.

The committed rules wait minutes (`for: 10m`, `[1h]` windows, `interval: 1m`) before an
alert fires. A live test cannot wait that long, so the copy it loads into Prometheus is
compressed consistently:

- every range window is divided by WINDOW_FACTOR (5m -> 10s, 1h -> 2m, 3d -> 2h24m), so
  the ratios between an SLO's long and short burn windows stay exactly as generated;
- every `for` becomes FOR (pending first, then firing, like the real thing);
- every group evaluates every EVALUATION_INTERVAL.

Metric names, label matchers, functions, aggregations, thresholds, labels and annotations
are untouched; `compression_changes` lets a test prove that.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from monitorgen import promql

WINDOW_FACTOR = 30
FOR = "1s"
EVALUATION_INTERVAL = "1s"

_RANGE = re.compile(r"\[(\w+)\]")
_SUBQUERY = re.compile(r"\[\w+:\w*\]")


def shrink_window(text: str) -> str:
    """A PromQL duration divided by WINDOW_FACTOR, whole seconds (5m -> 10s)."""
    seconds = promql.seconds(text) / WINDOW_FACTOR
    if seconds < 1 or not float(seconds).is_integer():
        raise ValueError(f"window {text} does not shrink to whole seconds")
    return promql.format_duration(timedelta(seconds=seconds))


def shrink_expr(expr: str) -> str:
    """The expression with each range window shrunk; subqueries are refused."""
    if _SUBQUERY.search(expr):
        raise ValueError(f"subqueries are not compressed: {expr}")
    return _RANGE.sub(lambda m: f"[{shrink_window(m.group(1))}]", expr)


def compress_rules(rules: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a parsed rules file with windows, `for` and group intervals compressed."""
    out = copy.deepcopy(dict(rules))
    for group in out.get("groups", []):
        group["interval"] = EVALUATION_INTERVAL
        for rule in group.get("rules", []):
            rule["expr"] = shrink_expr(str(rule["expr"]))
            if "for" in rule:
                rule["for"] = FOR
    return out


def compression_changes(original: str, compressed: str) -> list[str]:
    """What differs between two expressions other than consistently shrunk windows.

    Compares the selectors (metric, matchers, enclosing function), the functions and the
    aggregations of both parse trees; an empty list means only the windows changed, each
    by exactly WINDOW_FACTOR.
    """
    before, after = promql.inspect(original), promql.inspect(compressed)
    changes = []
    if before.functions != after.functions:
        changes.append(f"functions {before.functions} -> {after.functions}")
    if before.aggregations != after.aggregations:
        changes.append(f"aggregations {before.aggregations} -> {after.aggregations}")
    if len(before.selectors) != len(after.selectors):
        return [*changes, "selector count differs"]
    for old, new in zip(before.selectors, after.selectors, strict=True):
        if (old.name, old.labels, old.function) != (new.name, new.labels, new.function):
            changes.append(f"selector {old} -> {new}")
        elif (old.range is None) != (new.range is None):
            changes.append(f"range of {old.name} added or removed")
        elif old.range is not None and new.range and old.range != new.range * WINDOW_FACTOR:
            changes.append(f"range of {old.name}: {old.range} -> {new.range}")
    return changes
