"""The demo application `monitorgen up` runs: random traffic through a generated module.

Run as `python -m monitorgen.demo PLAN.json`. The plan (made by `monitorgen.live`) names
the generated metrics module, the port to serve /metrics on (127.0.0.1 only) and the
actions: an event function with a value recipe per field, or, for specs without events,
a metric of the module's default instance with recipes for its labels and amount.

Traffic alternates between calm and incident minutes: in an incident, amounts come from
the recipes' incident ranges and labels take their incident values (error statuses, 5xx
codes), so the spec's alerts fire and resolve while the user watches.
"""

from __future__ import annotations

import importlib.util
import json
import random
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

LOOPBACK = "127.0.0.1"
TICK_SECONDS = 0.2
CYCLE_SECONDS = 120.0
"""Calm for the first half of every cycle, an incident for the second half."""

Recipe = Mapping[str, Any]


def load_module(path: Path) -> ModuleType:
    """Import a generated module from its file."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def draw(recipe: Recipe, incident: bool, rng: random.Random) -> Any:
    """One value from a recipe: {"values", "incident"} picks, {"range", "incident"} numbers,
    {"seconds_ago", "incident"} Unix times that long before now."""
    if "seconds_ago" in recipe:
        low, high = recipe["incident"] if incident else recipe["seconds_ago"]
        return time.time() - rng.uniform(low, high)
    if "values" in recipe:
        special = recipe.get("incident") or []
        if incident and special and rng.random() < 0.5:
            return rng.choice(special)
        return rng.choice(recipe["values"])
    low, high = recipe["incident"] if incident and "incident" in recipe else recipe["range"]
    value = rng.uniform(low, high)
    return round(value) if recipe.get("integer") else value


def action_runner(
    action: Mapping[str, Any], module: ModuleType
) -> Callable[[bool, random.Random], None]:
    """A callable recording one random instance of the action."""
    if "function" in action:
        function = getattr(module, action["function"])
        fields: Mapping[str, Recipe] = action["fields"]

        def record_event(incident: bool, rng: random.Random) -> None:
            function(**{name: draw(r, incident, rng) for name, r in fields.items()})

        return record_event
    metric = getattr(module.default_metrics(), action["metric"])
    labels: Mapping[str, Recipe] = action["labels"]
    amount: Recipe = action["amount"]

    def update_metric(incident: bool, rng: random.Random) -> None:
        values = {name: draw(r, incident, rng) for name, r in labels.items()}
        child = metric.labels(**values) if values else metric
        getattr(child, action["method"])(max(0.0, draw(amount, incident, rng)))

    return update_metric


def in_incident(elapsed: float) -> bool:
    return elapsed % CYCLE_SECONDS >= CYCLE_SECONDS / 2


def run(plan: Mapping[str, Any], module: ModuleType, rounds: int | None = None) -> None:
    """Record every action once per tick, forever (or for `rounds` ticks)."""
    runners = [action_runner(a, module) for a in plan["actions"]]
    rng = random.Random(plan.get("seed"))
    started = time.monotonic()
    was_incident = False
    done = 0
    while rounds is None or done < rounds:
        incident = in_incident(time.monotonic() - started)
        if incident != was_incident:
            print("incident started" if incident else "incident over", flush=True)
            was_incident = incident
        for runner in runners:
            runner(incident, rng)
        done += 1
        time.sleep(TICK_SECONDS)


def main(argv: list[str]) -> None:
    plan = json.loads(Path(argv[1]).read_text())
    module = load_module(Path(plan["module"]))
    module.start_metrics_server(port=plan["port"], addr=LOOPBACK)
    print(f"serving http://{LOOPBACK}:{plan['port']}/metrics", flush=True)
    run(plan, module)


if __name__ == "__main__":
    main(sys.argv)
