"""Retention lint: tiers that cannot hold what they promise, and aggregates of series
that do not exist.

* `retention/unknown-metric`, `retention/unknown-label`: a listed series or label the
  spec does not declare would record nothing.
* `retention/raw-too-short`: the daily aggregates are `increase(x[1d])` over the
  local Prometheus, which needs a day of raw samples.
* `retention/tier-order`: a coarser tier kept for less time than a finer one.
* `retention/thanos-downsampling`: Thanos downsamples to 5m only blocks older than
  40h and to 1h only 5m blocks older than 10 days; expiring the source sooner means
  the coarser resolution is never made.
* `retention/remote-write-auth`: Prometheus takes one authentication method.
* `retention/no-series`: nothing to aggregate or ship.
* `secrets/token-in-url`: the remote-write URL carries a credential.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import pairwise

from monitorgen.diagnostics import Diagnostic, Severity
from monitorgen.model import Retention, Spec
from monitorgen.retention import aggregates, period_seconds, selected_series
from monitorgen.semantic.receivers import secret_in_url

DAY_SECONDS = 86400
#: Age at which the Thanos compactor downsamples raw blocks to 5m, and 5m blocks to 1h.
THANOS_5M_AFTER_SECONDS = 40 * 3600
THANOS_1H_AFTER_SECONDS = 10 * DAY_SECONDS
TIERS = ("raw", "hourly", "daily", "monthly")


def check(spec: Spec) -> Iterator[Diagnostic]:
    retention = spec.retention
    if retention is None:
        return
    yield from _series(spec)
    yield from _raw_covers_a_day(retention)
    yield from _tier_order(retention)
    if retention.thanos:
        yield from _thanos_downsampling(retention)
    yield from _remote_write(retention)
    if not aggregates(spec):
        yield Diagnostic(
            "retention/no-series",
            "no series to aggregate: no dashboard, alert or SLO queries a counter or "
            "histogram, and retention.series lists none",
            path=retention.path,
            severity=Severity.WARNING,
            hint="list the key metrics under retention.series",
        )


def _series(spec: Spec) -> Iterator[Diagnostic]:
    for item in selected_series(spec):
        metric = spec.metric(item.metric)
        if metric is None:
            yield Diagnostic(
                "retention/unknown-metric",
                f"retention series {item.metric} is not a declared metric",
                path=item.path,
                hint="declare it under metrics:, or list a declared metric",
            )
            continue
        for index, label in enumerate(item.by):
            if label not in metric.label_names:
                declared = ", ".join(metric.label_names) or "none"
                yield Diagnostic(
                    "retention/unknown-label",
                    f"{item.metric} has no label {label} (declared: {declared})",
                    path=(*item.path, "by", index),
                )


def _raw_covers_a_day(retention: Retention) -> Iterator[Diagnostic]:
    if period_seconds(retention.raw) < DAY_SECONDS:
        yield Diagnostic(
            "retention/raw-too-short",
            f"raw retention {retention.raw} is shorter than the 1d of raw samples the "
            "daily aggregates read from the local Prometheus",
            path=(*retention.path, "raw"),
            hint="keep raw samples at least 1d",
        )


def _tier_order(retention: Retention) -> Iterator[Diagnostic]:
    periods = {tier: getattr(retention, tier) for tier in TIERS}
    for finer, coarser in pairwise(TIERS):
        if period_seconds(periods[coarser]) < period_seconds(periods[finer]):
            yield Diagnostic(
                "retention/tier-order",
                f"{coarser} data is kept {periods[coarser]}, less than {finer} data "
                f"({periods[finer]}): coarser tiers exist to outlive finer ones",
                path=(*retention.path, coarser),
                severity=Severity.WARNING,
            )


def _thanos_downsampling(retention: Retention) -> Iterator[Diagnostic]:
    checks = (
        ("raw", retention.raw, THANOS_5M_AFTER_SECONDS, "40h", "5m"),
        ("hourly", retention.hourly, THANOS_1H_AFTER_SECONDS, "10d", "1h"),
    )
    for tier, period, needed, text, resolution in checks:
        if period_seconds(period) < needed:
            yield Diagnostic(
                "retention/thanos-downsampling",
                f"{tier} retention {period} deletes blocks before the Thanos compactor "
                f"downsamples them (after {text}), so no {resolution} data is ever made",
                path=(*retention.path, tier),
                severity=Severity.WARNING,
                hint=f"keep {tier} data at least {text}",
            )


def _remote_write(retention: Retention) -> Iterator[Diagnostic]:
    target = retention.remote_write
    if target is None:
        return
    what = secret_in_url(target.url)
    if what is not None:
        yield Diagnostic(
            "secrets/token-in-url",
            f"remote_write 'url' embeds a secret ({what}); secrets are never written into "
            "specs or generated files",
            path=(*target.path, "url"),
            hint="put the token in a file named by 'credentials_file', or use "
            "'auth_username' with 'auth_password_file'",
        )
    if target.credentials_file and target.auth_username:
        yield Diagnostic(
            "retention/remote-write-auth",
            "give either 'credentials_file' or 'auth_username'/'auth_password_file', "
            "not both: Prometheus takes one authentication method per remote_write",
            path=target.path,
        )
