"""Retention lint: each finding on a spec that has the problem, at the field that
causes it, and none on the bundled specs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from monitorgen.diagnostics import Severity
from monitorgen.pipeline import compile_spec

from .helpers import ROOT, SHOP, SPECS, compile_variant

REMOTE = {"url": "https://lts.example.com/api/v1/push", "credentials_file": "/run/lts-token"}


@pytest.mark.parametrize("relative", SPECS)
def test_the_bundled_specs_have_no_retention_findings(relative: str) -> None:
    (compiled, *_environments) = compile_spec(ROOT / relative)
    assert [d for d in compiled.diagnostics if "retention" in d.field_path] == []


@pytest.mark.parametrize(
    ("retention", "code", "severity", "place"),
    [
        (
            {"series": ["shop_orders_total", "shop_refunds_total"]},
            "retention/unknown-metric",
            Severity.ERROR,
            "retention.series[1]",
        ),
        (
            {"series": [{"metric": "shop_orders_total", "by": ["status", "country"]}]},
            "retention/unknown-label",
            Severity.ERROR,
            "retention.series[0].by[1]",
        ),
        ({"raw": "12h"}, "retention/raw-too-short", Severity.ERROR, "retention.raw"),
        (
            {"raw": "30d", "hourly": "14d"},
            "retention/tier-order",
            Severity.WARNING,
            "retention.hourly",
        ),
        (
            {"daily": "1y", "monthly": "90d"},
            "retention/tier-order",
            Severity.WARNING,
            "retention.monthly",
        ),
        (
            {"raw": "1d", "thanos": True},
            "retention/thanos-downsampling",
            Severity.WARNING,
            "retention.raw",
        ),
        (
            {"hourly": "7d", "thanos": True},
            "retention/thanos-downsampling",
            Severity.WARNING,
            "retention.hourly",
        ),
        (
            {"remote_write": {**REMOTE, "auth_username": "u", "auth_password_file": "/run/pw"}},
            "retention/remote-write-auth",
            Severity.ERROR,
            "retention.remote_write",
        ),
        (
            {"remote_write": {"url": "https://lts.example.com/push?api_key=s3cret"}},
            "secrets/token-in-url",
            Severity.ERROR,
            "retention.remote_write.url",
        ),
        (
            {"remote_write": {"url": "https://prometheus:s3cret@lts.example.com/push"}},
            "secrets/token-in-url",
            Severity.ERROR,
            "retention.remote_write.url",
        ),
    ],
)
def test_each_problem_is_found_at_its_field(
    retention: dict[str, Any], code: str, severity: Severity, place: str, tmp_path: Path
) -> None:
    compiled = compile_variant(SHOP, tmp_path, retention)
    found = [d for d in compiled.diagnostics if d.code.startswith(("retention/", "secrets/"))]
    assert [(d.code, d.severity, d.field_path) for d in found] == [(code, severity, place)]
    (finding,) = found
    assert finding.span.line > 0
    assert compiled.ok is (severity < Severity.ERROR)


def test_nothing_to_aggregate_is_a_warning(tmp_path: Path) -> None:
    compiled = compile_variant(SHOP, tmp_path, {"raw": "7d"}, dashboards=[])
    found = [(d.code, d.severity) for d in compiled.diagnostics if d.code.startswith("retention/")]
    assert found == [("retention/no-series", Severity.WARNING)]


def test_a_finding_can_be_disabled_like_any_lint(tmp_path: Path) -> None:
    compiled = compile_variant(
        SHOP, tmp_path, {"raw": "30d", "hourly": "14d"}, lint={"disable": ["retention/tier-order"]}
    )
    assert [d for d in compiled.diagnostics if d.code == "retention/tier-order"] == []
