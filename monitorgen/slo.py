"""SLOs as multi-window, multi-burn-rate alerts (Google SRE workbook, chapter 5).

For a 30-day period: page when the error budget burns 14.4x too fast over 1h (and
still over 5m), or 6x over 6h (and 30m); open a ticket at 3x over 1d (and 2h) or 1x
over 3d (and 6h). Each pair spends a fixed share of the budget (2%, 5%, 10%, 10%);
for another period the factors scale with period/30d so the shares stay the same.

The SLI is recorded once per window as `slo:sli_error:ratio_rate<window>` with the
labels `slo` and `service`. The error ratio is never NaN: with no traffic the
recording is empty, and with traffic but no error series it is 0.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from enum import Enum

from monitorgen.immutable import immutable
from monitorgen.model import (
    WINDOW_PLACEHOLDER,
    LatencySli,
    Matcher,
    RatioSli,
    RawSli,
    Severity,
    Slo,
    SloTier,
    Spec,
)
from monitorgen.promql import (
    PromQL,
    PromQLError,
    absent,
    aggregation,
    binary,
    emit,
    inspect,
    le_spellings,
    number,
    parenthesized,
    range_function,
    seconds,
    selector_expr,
    vector,
)
from monitorgen.rule_set import Field, Rule, RuleGroup

REFERENCE_PERIOD_SECONDS = 30 * 86400
ABSENT_FOR = "10m"


class Tier(Enum):
    PAGE = "page"
    TICKET = "ticket"


@immutable
class BurnWindow:
    """Alert when the error ratio over both windows exceeds `factor` x the budget."""

    long: str
    short: str
    factor: Decimal


#: The workbook's windows and factors for a 30-day period.
REFERENCE_WINDOWS: dict[Tier, tuple[tuple[str, str, str], ...]] = {
    Tier.PAGE: (("1h", "5m", "14.4"), ("6h", "30m", "6")),
    Tier.TICKET: (("1d", "2h", "3"), ("3d", "6h", "1")),
}


def burn_windows(slo: Slo, tier: Tier) -> tuple[BurnWindow, ...]:
    """The window pairs of a tier, with factors scaled to the SLO's period and never
    below 1x: a burn below 1x leaves budget at the end of the period, so alerting on it
    would page or open a ticket while the SLO is met (a 7d SLO's ticket would open at
    0.23x over 3d)."""
    return tuple(
        BurnWindow(pair.long, pair.short, max(pair.factor, SUSTAINABLE))
        for pair in scaled_burn_windows(slo, tier)
    )


#: The burn rate that spends exactly the budget over the period.
SUSTAINABLE = Decimal(1)


def scaled_burn_windows(slo: Slo, tier: Tier) -> tuple[BurnWindow, ...]:
    """The window pairs of a tier with the workbook's factors scaled by period/30d, so
    each pair spends the same share of the budget (13.44x over 1h for 28d)."""
    scale = Decimal(int(seconds(slo.period))) / Decimal(REFERENCE_PERIOD_SECONDS)
    return tuple(
        BurnWindow(long, short, _tidy(Decimal(factor) * scale))
        for long, short, factor in REFERENCE_WINDOWS[tier]
    )


def _tidy(value: Decimal) -> Decimal:
    """At most four decimals, without trailing zeros (13.44, 0.9333, 6)."""
    rounded = value.quantize(Decimal("0.0001"), rounding=ROUND_HALF_EVEN).normalize()
    return rounded.quantize(Decimal(1)) if rounded == rounded.to_integral() else rounded


def decimal_text(value: Decimal) -> str:
    """A decimal in plain notation: 0.005, never 5E-3."""
    return format(value.normalize(), "f")


def error_budget(slo: Slo) -> Decimal:
    """The share of events allowed to fail: 99.5% -> 0.005, computed without float noise."""
    return (Decimal(100) - Decimal(slo.objective_text)) / Decimal(100)


def _threshold(slo: Slo, window: BurnWindow) -> PromQL:
    """The burn threshold as PromQL: `(14.4 * 0.005)`, which Prometheus multiplies out."""
    factor, budget = decimal_text(window.factor), decimal_text(error_budget(slo))
    return parenthesized(binary(number(factor), "*", number(budget)))


def threshold_value(slo: Slo, window: BurnWindow) -> float:
    """The threshold as Prometheus computes it from its PromQL (`_threshold`)."""
    return float(decimal_text(window.factor)) * float(decimal_text(error_budget(slo)))


def tiers(slo: Slo) -> tuple[tuple[Tier, SloTier], ...]:
    """The enabled tiers with their settings."""
    return tuple(
        (tier, setting)
        for tier, setting in ((Tier.PAGE, slo.page), (Tier.TICKET, slo.ticket))
        if setting.enabled
    )


def windows(slo: Slo) -> tuple[str, ...]:
    """Every window an enabled tier needs, shortest first."""
    found = {
        w
        for tier, _ in tiers(slo)
        for pair in burn_windows(slo, tier)
        for w in (pair.long, pair.short)
    }
    return tuple(sorted(found, key=seconds))


def record_name(window: str) -> str:
    return f"slo:sli_error:ratio_rate{window}"


def identity(spec: Spec, slo: Slo) -> dict[str, str]:
    """The labels every series and alert of one SLO carries."""
    return {"slo": slo.name, "service": spec.service}


def _identity_series(spec: Spec, slo: Slo, name: str) -> PromQL:
    return selector_expr(name, (Matcher(k, (v,)) for k, v in identity(spec, slo).items()))


# ------------------------------------------------------------------ SLI queries


def _summed_rate(
    by: tuple[str, ...], series: str, where: tuple[Matcher, ...], window: str
) -> PromQL:
    return aggregation("sum", by, range_function("rate", selector_expr(series, where), window))


def error_ratio_query(slo: Slo, window: str) -> str:
    """The SLI's error ratio over `window`, without NaN: empty with no traffic."""
    sli = slo.sli
    if isinstance(sli, RatioSli):
        return emit(_ratio_query(sli, slo.by, window))
    if isinstance(sli, LatencySli):
        return emit(_latency_query(sli, slo.by, window))
    return sli.error_ratio_query.replace(WINDOW_PLACEHOLDER, window)


def _ratio_query(sli: RatioSli, by: tuple[str, ...], window: str) -> PromQL:
    """`(errors or 0 * total) / (total > 0)`."""
    errors = _summed_rate(by, sli.errors.stored, sli.errors.where, window)
    total = _summed_rate(by, sli.total.stored, sli.total.where, window)
    no_errors = binary(number("0"), "*", total)
    return binary(parenthesized(binary(errors, "or", no_errors)), "/", _traffic(total))


def _traffic(total: PromQL) -> PromQL:
    """`(total > 0)`: a denominator that keeps only series with traffic."""
    return parenthesized(binary(total, ">", number("0")))


def bucket_matcher(threshold: float) -> Matcher:
    """`le` as any client writes the bucket bound (`30.0`, `30`, `1e+06`)."""
    return Matcher("le", le_spellings(threshold))


def _latency_query(sli: LatencySli, by: tuple[str, ...], window: str) -> PromQL:
    """`(total - fast) / (total > 0)`."""
    total = _summed_rate(by, f"{sli.metric}_count", sli.where, window)
    fast_matchers = (*sli.where, bucket_matcher(sli.threshold))
    fast = _summed_rate(by, f"{sli.metric}_bucket", fast_matchers, window)
    return binary(parenthesized(binary(total, "-", fast)), "/", _traffic(total))


def _sli_series(slo: Slo) -> tuple[PromQL, ...]:
    """The selectors whose absence means the SLI cannot be measured."""
    sli = slo.sli
    # Every matcher, a list's regex too: absent() of `x{a=~"b|c"}` fires when no series
    # has b or c, though the series it returns carries only the labels `=` fixes.
    if isinstance(sli, RatioSli):
        return (selector_expr(sli.total.stored, sli.total.where),)
    if isinstance(sli, LatencySli):
        return (selector_expr(f"{sli.metric}_count", sli.where),)
    return tuple(selector_expr(name) for name in _raw_selectors(sli))


def _raw_selectors(sli: RawSli) -> tuple[str, ...]:
    try:
        facts = inspect(sli.error_ratio_query.replace(WINDOW_PLACEHOLDER, "5m"))
    except PromQLError:
        return ()
    names = dict.fromkeys(s.name for s in facts.selectors if s.name and ":" not in s.name)
    return tuple(names)


# ------------------------------------------------------------------ rules


def slo_rule_group(spec: Spec, slo: Slo) -> RuleGroup:
    """SLI recordings for every window, the objective, then the burn-rate alerts."""
    rules = [*_sli_records(spec, slo), *_meta_records(spec, slo)]
    rules.extend(burn_alert(spec, slo, tier, setting) for tier, setting in tiers(slo))
    absent = absent_alert(spec, slo)
    if absent is not None:
        rules.append(absent)
    return RuleGroup(
        f"{spec.service}.slo.{slo.name}",
        spec.prometheus.evaluation_interval,
        tuple(rules),
        slo.path,
    )


def _identity_fields(spec: Spec, slo: Slo) -> tuple[Field, ...]:
    return (
        Field("slo", slo.name, (*slo.path, "name")),
        Field("service", spec.service, ("service",)),
    )


def _sli_records(spec: Spec, slo: Slo) -> list[Rule]:
    sli_key = _sli_kind(slo)
    return [
        Rule(
            expr=error_ratio_query(slo, window),
            path=slo.path,
            expr_path=(*slo.path, "sli", sli_key),
            record=record_name(window),
            labels=_identity_fields(spec, slo),
            written_by_user=sli_key == "raw",
        )
        for window in windows(slo)
    ]


def _sli_kind(slo: Slo) -> str:
    if isinstance(slo.sli, RatioSli):
        return "ratio"
    return "latency" if isinstance(slo.sli, LatencySli) else "raw"


def _meta_records(spec: Spec, slo: Slo) -> list[Rule]:
    """The objective and the budget as series, for dashboards and budget queries."""
    objective = Decimal(slo.objective_text) / Decimal(100)
    values = (
        ("slo:objective:ratio", objective),
        ("slo:error_budget:ratio", error_budget(slo)),
    )
    return [
        Rule(
            expr=emit(vector(decimal_text(value))),
            path=slo.path,
            expr_path=(*slo.path, "objective"),
            record=name,
            labels=_identity_fields(spec, slo),
        )
        for name, value in values
    ]


def burn_expr(spec: Spec, slo: Slo, tier: Tier) -> str:
    """`(long > t and short > t) or (...)` for each window pair of the tier."""
    pairs = []
    for window in burn_windows(slo, tier):
        threshold = _threshold(slo, window)
        long = _identity_series(spec, slo, record_name(window.long))
        short = _identity_series(spec, slo, record_name(window.short))
        both = binary(binary(long, ">", threshold), "and", binary(short, ">", threshold))
        pairs.append(parenthesized(both))
    return emit(_any_of(pairs))


def _any_of(branches: list[PromQL]) -> PromQL:
    """`a or b or c`, which PromQL reads as `(a or b) or c`."""
    found = branches[0]
    for branch in branches[1:]:
        found = binary(found, "or", branch)
    return found


def burn_alert(spec: Spec, slo: Slo, tier: Tier, setting: SloTier) -> Rule:
    alerting = (*slo.path, "alerting")
    labels = {
        "severity": Field("severity", setting.severity.value, (*alerting, tier.value)),
        "slo_tier": Field("slo_tier", tier.value, (*alerting, tier.value)),
        **{f.key: f for f in _identity_fields(spec, slo)},
    }
    for key, value in (*slo.labels, *setting.labels):
        source = (*alerting, "labels", key)
        if (key, value) in setting.labels:
            source = (*alerting, tier.value, "labels", key)
        labels[key] = Field(key, value, source)
    return Rule(
        expr=burn_expr(spec, slo, tier),
        path=slo.path,
        expr_path=(*slo.path, "objective"),
        alert=slo.alert_name,
        labels=tuple(labels.values()),
        annotations=_burn_annotations(spec, slo, tier),
    )


def _burn_annotations(spec: Spec, slo: Slo, tier: Tier) -> tuple[Field, ...]:
    alerting = (*slo.path, "alerting")
    pairs = burn_windows(slo, tier)
    rates = " or ".join(f"{decimal_text(w.factor)}x over {w.long}" for w in pairs)
    what = slo.description or f"Events of the {slo.name} SLO."
    summary = slo.summary or f"{spec.service}: the {slo.name} SLO burns its error budget too fast"
    description = (
        f"{what} {{{{ $value | humanizePercentage }}}} of them failed over the last "
        f"{' or '.join(w.long for w in pairs)}: the error budget of the "
        f"{slo.objective_text}% objective over {slo.period} is burning at {rates} "
        f"the sustainable rate ({tier.value})."
    )
    fields = [
        Field("summary", summary, (*alerting, "summary")),
        Field("description", description, (*slo.path, "description")),
    ]
    runbook = slo_runbook(spec, slo)
    if runbook:
        fields.append(Field("runbook_url", runbook, (*alerting, "runbook_url")))
    return tuple(fields)


def slo_runbook(spec: Spec, slo: Slo) -> str | None:
    if slo.runbook_url:
        return slo.runbook_url
    if spec.runbook_base_url:
        return f"{spec.runbook_base_url.rstrip('/')}/{slo.alert_name.lower()}"
    return None


def absent_alert_name(slo: Slo) -> str:
    return f"{slo.alert_name.removesuffix('BudgetBurn')}SliAbsent"


def absent_alert(spec: Spec, slo: Slo) -> Rule | None:
    """Fires when no series of the SLI exists, so a silent SLO is never mistaken
    for a healthy one."""
    series = _sli_series(slo)
    if not slo.absent_alert or not series:
        return None
    alerting = (*slo.path, "alerting")
    severity = slo.ticket.severity if slo.ticket.enabled else Severity.WARNING
    labels = {
        "severity": Field("severity", severity.value, (*alerting, "absent")),
        **{f.key: f for f in _identity_fields(spec, slo)},
    }
    for key, value in slo.labels:
        labels[key] = Field(key, value, (*alerting, "labels", key))
    shown = " or ".join(s.text for s in series)
    annotations = [
        Field("summary", f"{spec.service}: no data for the {slo.name} SLO", (*alerting, "absent")),
        Field(
            "description",
            f"No series matches {shown}: the {slo.name} SLO cannot be measured and its "
            "burn-rate alerts cannot fire.",
            (*alerting, "absent"),
        ),
    ]
    runbook = slo_runbook(spec, slo)
    if runbook:
        annotations.append(Field("runbook_url", runbook, (*alerting, "runbook_url")))
    return Rule(
        expr=emit(_any_of([absent(s) for s in series])),
        path=slo.path,
        expr_path=(*slo.path, "sli"),
        alert=absent_alert_name(slo),
        for_=ABSENT_FOR,
        labels=tuple(labels.values()),
        annotations=tuple(annotations),
    )
