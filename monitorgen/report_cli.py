"""What `monitorgen report` takes from a spec and from trace file names.

The report library knows nothing of specs: this turns a spec's price table, baseline and
`report:` settings into its inputs, works out the day from names such as
`trace_2026-11-26.jsonl`, and finds the previous day's file next to the given ones.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path

from monitorgen import model
from monitorgen.immutable import immutable
from monitorgen.report import DEFAULT_TITLE, Baseline, ModelPrice, Pricing
from monitorgen.report.deliver import MailSettings

_TRACE_NAME = re.compile(r"^trace_(\d{4}-\d{2}-\d{2})\.jsonl(\.gz)?$")
TRACE_SUFFIXES = (".jsonl", ".jsonl.gz")


@immutable
class ReportInputs:
    """Everything besides the trace files that shapes a report."""

    title: str = DEFAULT_TITLE
    pricing: Pricing | None = None
    baseline: Baseline | None = None
    mail: MailSettings | None = None


def inputs_from_spec(spec: model.Spec | None) -> ReportInputs:
    if spec is None:
        return ReportInputs()
    settings = spec.report
    return ReportInputs(
        title=settings.title if settings else f"{spec.title} — Daily Report",
        pricing=_pricing(spec.pricing) if spec.pricing else None,
        baseline=_baseline(spec.baseline) if spec.baseline else None,
        mail=_mail(settings.mail) if settings and settings.mail else None,
    )


def _pricing(pricing: model.Pricing) -> Pricing:
    return Pricing(
        {
            name: ModelPrice(price.input, price.output, price.cached_input, price.reasoning)
            for name, price in pricing.models
        }
    )


def _baseline(baseline: model.Baseline) -> Baseline:
    return Baseline(baseline.tokens_per_request, baseline.cost_per_request)


def _mail(mail: model.ReportMail) -> MailSettings:
    return MailSettings(
        smarthost=mail.smarthost,
        mail_from=mail.from_,
        mail_to=mail.to,
        username=mail.auth_username,
        password_file=Path(mail.auth_password_file) if mail.auth_password_file else None,
        starttls=mail.require_tls,
    )


def day_from_names(paths: Sequence[Path]) -> date | None:
    """The day every file is named after (`trace_<day>.jsonl`), or None if they differ."""
    days = set()
    for path in paths:
        match = _TRACE_NAME.match(path.name)
        if match is None:
            return None
        try:
            days.add(date.fromisoformat(match.group(1)))
        except ValueError:
            return None
    return days.pop() if len(days) == 1 else None


def previous_day_paths(paths: Sequence[Path], day: date) -> list[Path]:
    """`trace_<day - 1>.jsonl` (or `.jsonl.gz`) in the folders of the given files."""
    name = f"trace_{(day - timedelta(days=1)).isoformat()}"
    folders = dict.fromkeys(path.parent for path in paths)
    return [
        folder / f"{name}{suffix}"
        for folder in folders
        for suffix in TRACE_SUFFIXES
        if (folder / f"{name}{suffix}").is_file()
    ]
