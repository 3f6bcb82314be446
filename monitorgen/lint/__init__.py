"""Lint: findings that do not make a spec invalid but that an SRE would want fixed.

Each family is one module with a `check(spec)` generator; they run in this order.
"""

from __future__ import annotations

from importlib import import_module

from monitorgen.diagnostics import Diagnostic
from monitorgen.model import Spec

FAMILIES = ("rules", "alertmanager", "dashboards", "retention", "scrape")


def run_lint(spec: Spec) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    for family in FAMILIES:
        found.extend(import_module(f"monitorgen.lint.{family}").check(spec))
    return found
