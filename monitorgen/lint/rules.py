"""Rule lint: what cloudflare pint checks offline, applied to every rule monitorgen emits.

The checks read the rules as `monitorgen.rule_set` builds them (spec alerts and
recording rules, generated aggregations, SLO rules), so the generated file passes
them by construction and a finding points at the spec field that causes it.
Checks the semantic stage already makes for the spec's own expressions (syntax,
comparison, counters) cover generated expressions here, never twice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from monitorgen.diagnostics import Diagnostic, Severity
from monitorgen.gotemplate import VALUE_REFERENCE, TemplateError, parse_template
from monitorgen.model import Metric, MetricType, Path, Spec
from monitorgen.promql import (
    ExprFacts,
    PromQLError,
    expand_grafana,
    inspect,
    seconds,
    string_literal,
)
from monitorgen.promql_labels import (
    LabelLookup,
    OutputLabels,
    always_compares,
    groupings_without_labels,
    output_labels,
)
from monitorgen.rule_set import Field, Rule, RuleGroup, rule_groups
from monitorgen.semantic.promql_usage import BUILTIN_SERIES, TARGET_LABELS, expressions
from monitorgen.slo import (
    SUSTAINABLE,
    Tier,
    burn_windows,
    decimal_text,
    scaled_burn_windows,
    threshold_value,
    tiers,
)

MAX_GROUP_INTERVAL_SECONDS = 300
#: Functions that only ask whether a series exists, which is fine for counters.
_EXISTENCE_TESTS = frozenset({"absent", "absent_over_time", "present_over_time"})


class Rules:
    """The rules of a spec, listed once for all checks (a spec of 5,000 alerts has
    over 10,000 rules, and a dozen checks go through them)."""

    def __init__(self, groups: tuple[RuleGroup, ...]) -> None:
        self.groups = groups
        self._all = tuple(rule for group in groups for rule in group.rules)
        self._alerts = tuple(rule for rule in self._all if rule.alert)
        self._templated: tuple[tuple[Rule, str, Field], ...] | None = None

    def all(self) -> Iterator[Rule]:
        return iter(self._all)

    def alerts(self) -> Iterator[Rule]:
        return iter(self._alerts)

    def records(self) -> frozenset[str]:
        return frozenset(rule.record for rule in self._all if rule.record)

    def templated_fields(self) -> tuple[tuple[Rule, str, Field], ...]:
        """(alert, "label" or "annotation", field) of every field with braces; without
        them a text is no template: it parses, as itself, and reads no label. Of the
        fields one spec field makes (a summary, and the description made from it when
        none is written), the first: their problems are its own."""
        if self._templated is None:
            self._templated = tuple(
                (rule, kind, field)
                for rule in self._alerts
                for kind, fields in (("label", rule.labels), ("annotation", rule.annotations))
                for field in _first_per_path(fields)
                if "{{" in field.value or "}}" in field.value
            )
        return self._templated


def check(spec: Spec) -> Iterator[Diagnostic]:
    rules = Rules(rule_groups(spec))
    yield from _syntax(rules)
    yield from _alert_comparison(rules)
    yield from _for_durations(spec, rules)
    yield from _templates(rules)
    lookup = label_lookup(spec, rules)
    yield from _template_labels(rules, lookup)
    yield from _grouping_labels(rules, lookup)
    yield from _value_in_labels(rules)
    yield from _group_interval(spec, rules)
    yield from _rate_windows(spec, rules)
    yield from _counters_outside_rate(spec, rules)
    yield from _nan_divisions(rules)
    yield from _duplicates(rules)
    yield from _missing_recordings(spec, rules)
    yield from _unreachable_slo_alerts(spec)
    yield from _burns_below_the_budget(spec)


def _facts(expr: str) -> ExprFacts | None:
    """The expression's facts, or None when it does not parse."""
    try:
        return inspect(expr)
    except PromQLError:
        return None


# ------------------------------------------------------------ expressions


def _syntax(rules: Rules) -> Iterator[Diagnostic]:
    """A generated expression (an SLO window of a raw SLI, say) that does not parse."""
    for rule in rules.all():
        if rule.written_by_user:
            continue
        try:
            inspect(rule.expr)
        except PromQLError as error:
            yield Diagnostic(
                "lint/promql-syntax",
                f"the expression of {rule.name} does not parse: {error}",
                path=rule.expr_path,
                hint=f"expression: {rule.expr}",
            )


def _alert_comparison(rules: Rules) -> Iterator[Diagnostic]:
    """An alert without a comparison fires for every series it returns."""
    for rule in rules.alerts():
        facts = None if rule.written_by_user else _facts(rule.expr)
        if facts is None:
            continue
        if facts.top_is_comparison or always_compares(rule.expr):
            continue
        yield Diagnostic(
            "lint/alert-comparison",
            f"alert {rule.name} has no comparison, so it fires for every series it returns",
            path=rule.expr_path,
            severity=Severity.WARNING,
        )


def _for_durations(spec: Spec, rules: Rules) -> Iterator[Diagnostic]:
    """`for` and `keep_firing_for` shorter than one evaluation act as one evaluation."""
    interval = seconds(spec.prometheus.evaluation_interval)
    for rule in rules.alerts():
        for key, text in (("for", rule.for_), ("keep_firing_for", rule.keep_firing_for)):
            if not text or not any(digit in text for digit in "123456789"):
                continue
            if seconds(text) < interval:
                yield Diagnostic(
                    "lint/for",
                    f"{key} {text} of {rule.name} is shorter than the evaluation interval "
                    f"({spec.prometheus.evaluation_interval}), so it waits one evaluation anyway",
                    path=(*rule.path, key),
                    severity=Severity.WARNING,
                    hint=f"use 0s or at least {spec.prometheus.evaluation_interval}",
                )


# ------------------------------------------------------------ templates


def _first_per_path(fields: tuple[Field, ...]) -> list[Field]:
    seen: set[Path] = set()
    first = []
    for field in fields:
        if field.path not in seen:
            seen.add(field.path)
            first.append(field)
    return first


def _templates(rules: Rules) -> Iterator[Diagnostic]:
    """Prometheus refuses a rule file whose templates do not parse."""
    for rule, kind, field in rules.templated_fields():
        try:
            parse_template(field.value)
        except TemplateError as error:
            yield Diagnostic(
                "lint/template",
                f"the {kind} '{field.key}' of {rule.name} is not a valid template: {error}",
                path=field.path,
            )


def _template_labels(rules: Rules, lookup: LabelLookup) -> Iterator[Diagnostic]:
    """`$labels.x` is empty when the expression does not keep `x`."""
    kept_by_expr: dict[str, OutputLabels | None] = {}
    for rule, kind, field in rules.templated_fields():
        try:
            used = parse_template(field.value).label_refs()
        except TemplateError:
            continue
        if not used:
            continue
        if rule.expr not in kept_by_expr:
            kept_by_expr[rule.expr] = _kept_labels(rule.expr, lookup)
        kept = kept_by_expr[rule.expr]
        if kept is None:
            continue
        for label in sorted(used):
            if kept.may_have(label):
                continue
            shown = ", ".join(sorted(kept.names)) or "none"
            yield Diagnostic(
                "lint/template-label",
                f"the {kind} '{field.key}' of {rule.name} uses $labels.{label}, but the "
                f"expression's series only carry: {shown}",
                path=field.path,
                severity=Severity.WARNING,
                hint="add the label to the query's `by`, or drop it from the text "
                "(the alert's own labels are not in $labels)",
            )


def _grouping_labels(rules: Rules, lookup: LabelLookup) -> Iterator[Diagnostic]:
    """`sum by (x)` over series without `x`: a typo, or a label of another metric. The
    structured queries' `by` is checked against the declared labels already."""
    reported: set[tuple[Path, str]] = set()
    for rule in rules.all():
        if not rule.written_by_user:
            continue
        try:
            missing = groupings_without_labels(rule.expr, lookup)
        except PromQLError:
            continue
        for found in missing:
            if (rule.expr_path, found.label) in reported:
                continue
            reported.add((rule.expr_path, found.label))
            carried = ", ".join(sorted(found.carried)) or "none"
            yield Diagnostic(
                "lint/group-by-missing-label",
                f"{rule.name} groups by '{found.label}' ({found.operator} by), which the series "
                f"it aggregates do not carry (they carry: {carried}): the label is empty in "
                "the result, and everything is one group",
                path=rule.expr_path,
                severity=Severity.WARNING,
                hint="group by a label the metric declares, or declare the label",
            )


def _kept_labels(expr: str, lookup: LabelLookup) -> OutputLabels | None:
    """The labels an expression's series keep, or None when it does not parse."""
    try:
        return output_labels(expr, lookup)
    except PromQLError:
        return None


def label_lookup(spec: Spec, rules: Rules) -> LabelLookup:
    """Known labels of a series name: declared metrics, recorded series (of every rule
    recording that name: the SLOs' rules share theirs), `up`."""
    recorded: dict[str, list[Rule]] = {}
    for rule in rules.all():
        if rule.record:
            recorded.setdefault(rule.record, []).append(rule)
    of_records: dict[str, frozenset[str] | None] = {}
    seen: set[str] = set()
    declared: dict[str, frozenset[str]] = {}

    def lookup(name: str) -> frozenset[str] | None:
        metric = spec.metric_for_series(name)
        if metric is not None:
            if name not in declared:
                declared[name] = _declared_labels(metric, name)
            return declared[name]
        if name == "up":
            return frozenset({"job", "instance"})
        if name not in recorded or name in seen:
            return None
        if name not in of_records:
            seen.add(name)
            try:
                of_records[name] = _recorded_labels(recorded[name], lookup)
            finally:
                seen.discard(name)
        return of_records[name]

    return lookup


def _recorded_labels(records: list[Rule], lookup: LabelLookup) -> frozenset[str] | None:
    """The labels any of the rules recording one name may give its series."""
    found: set[str] = set()
    for rule in records:
        labels = output_labels(rule.expr, lookup)
        if labels.open:
            return None
        found |= labels.names | {f.key for f in rule.labels}
    return frozenset(found)


def _declared_labels(metric: Metric, series: str) -> frozenset[str]:
    extra = {"le"} if series.endswith("_bucket") else set()
    if metric.type is MetricType.SUMMARY and series == metric.name:
        extra = {"quantile"}
    return frozenset(metric.label_names) | TARGET_LABELS - {"__name__"} | extra


def _value_in_labels(rules: Rules) -> Iterator[Diagnostic]:
    """`$value` in a label makes every evaluation a new alert."""
    for rule in rules.alerts():
        for field in rule.labels:
            if VALUE_REFERENCE.search(field.value):
                yield Diagnostic(
                    "lint/value-in-label",
                    f"label '{field.key}' of {rule.name} uses $value: each new value starts "
                    "a new alert",
                    path=field.path,
                    hint="put the value in an annotation",
                )


# ------------------------------------------------------------ intervals and windows


def _group_interval(spec: Spec, rules: Rules) -> Iterator[Diagnostic]:
    """Past 5m an alert's series goes stale between evaluations."""
    for group in rules.groups:
        if seconds(group.interval) > MAX_GROUP_INTERVAL_SECONDS:
            yield Diagnostic(
                "lint/group-interval",
                f"group {group.name} is evaluated every {group.interval}: over 5m makes alerts "
                "slow and their series stale between evaluations",
                path=("prometheus", "evaluation_interval"),
                severity=Severity.WARNING,
            )
            return


def _rate_windows(spec: Spec, rules: Rules) -> Iterator[Diagnostic]:
    """A rate over less than two scrapes returns nothing most of the time."""
    minimum = 2 * seconds(spec.prometheus.scrape_interval)
    sources = [(e.text, e.path) for e in expressions(spec) if "$__" not in e.text]
    sources += [(r.expr, r.expr_path) for r in rules.all() if not r.written_by_user]
    for text, path in sources:
        try:
            facts = inspect(text)
        except PromQLError:
            continue
        for use in facts.selectors:
            if (
                use.range is not None
                and use.function in ("rate", "increase", "irate")
                and use.range.total_seconds() < minimum
            ):
                yield Diagnostic(
                    "lint/rate-window",
                    f"{use.function}() over {int(use.range.total_seconds())}s is less than twice "
                    f"the scrape interval ({spec.prometheus.scrape_interval})",
                    path=path,
                    severity=Severity.WARNING,
                )


def _counters_outside_rate(spec: Spec, rules: Rules) -> Iterator[Diagnostic]:
    """A generated expression that reads a counter's raw value (spec expressions are
    checked by `promql/counter-outside-rate`, and structured queries where written)."""
    for rule in rules.all():
        structured = rule.path[:1] in (("alerts",), ("recording_rules",))
        facts = None if rule.written_by_user or structured else _facts(rule.expr)
        if facts is None:
            continue
        for use in facts.selectors:
            if use.in_counter_function or use.function in _EXISTENCE_TESTS:
                continue
            metric = spec.metric_for_series(use.name) if use.name else None
            if metric is None:
                continue
            if metric.type is MetricType.COUNTER or use.name != metric.name:
                yield Diagnostic(
                    "lint/counter-outside-rate",
                    f"{rule.name} reads the counter {use.name} outside rate() or increase()",
                    path=rule.expr_path,
                )


def _nan_divisions(rules: Rules) -> Iterator[Diagnostic]:
    """Dividing inside an aggregation, or recording a quotient whose denominator can be 0;
    once per expression, which a raw SLI's rules of every window share."""
    reported: set[Path] = set()
    for rule in rules.all():
        facts = _facts(rule.expr)
        if facts is None or rule.expr_path in reported:
            continue
        if facts.division_inside_aggregation:
            reported.add(rule.expr_path)
            yield Diagnostic(
                "lint/nan-division",
                f"{rule.name} divides inside an aggregation: one series with a zero "
                "denominator makes the whole aggregate NaN",
                path=rule.expr_path,
                severity=Severity.WARNING,
                hint="aggregate numerator and denominator first, then divide",
            )
        elif rule.record and facts.unguarded_divisions:
            reported.add(rule.expr_path)
            yield Diagnostic(
                "lint/nan-division",
                f"{rule.record} records NaN whenever its denominator is 0",
                path=rule.expr_path,
                severity=Severity.WARNING,
                hint="divide by `(denominator > 0)` so quiet periods record nothing",
            )


# ------------------------------------------------------------ the rule set


def _duplicates(rules: Rules) -> Iterator[Diagnostic]:
    """Two rules writing the same series, or two identical alerts."""
    named = Counter(_kind_and_name(rule) for rule in rules.all())
    seen: dict[tuple[object, ...], Rule] = {}
    for rule in rules.all():
        kind_and_name = _kind_and_name(rule)
        if named[kind_and_name] == 1:
            continue  # no other rule of its name: its labels cannot make it a duplicate
        labels = tuple(sorted(rule.label_map().items()))
        key = (*kind_and_name, labels)
        first = seen.get(key)
        if first is None:
            seen[key] = rule
            continue
        kind = "recording rule" if rule.record else "alert"
        yield Diagnostic(
            "lint/duplicate-rule",
            f"{kind} {rule.name}{{{_label_text(labels)}}} is also made by another rule",
            path=rule.path,
            first_defined_at=first.path,
            severity=Severity.ERROR if rule.record else Severity.WARNING,
        )


def _label_text(labels: tuple[tuple[str, str], ...]) -> str:
    """Labels as PromQL writes them: `service="api", severity="critical"`."""
    return ", ".join(f"{name}={string_literal(value)}" for name, value in labels)


def _kind_and_name(rule: Rule) -> tuple[str, str | None]:
    return ("record", rule.record) if rule.record else ("alert", rule.alert)


def _missing_recordings(spec: Spec, rules: Rules) -> Iterator[Diagnostic]:
    """A `level:metric:operation` series that no rule records stays empty forever."""
    recorded = rules.records() | frozenset(spec.external_metrics) | BUILTIN_SERIES
    sources = [(expand_grafana(e.text), e.path) for e in expressions(spec)]
    sources += [(r.expr, r.expr_path) for r in rules.all()]
    reported: set[tuple[str, tuple[str | int, ...]]] = set()
    for text, path in sources:
        if ":" not in text:
            continue  # no series name with a colon: nothing a recording rule makes
        try:
            facts = inspect(text)
        except PromQLError:
            continue
        for name in facts.metric_names:
            if ":" not in name or name in recorded or (name, path) in reported:
                continue
            reported.add((name, path))
            yield Diagnostic(
                "lint/missing-recording-rule",
                f"no recording rule records {name}",
                path=path,
                hint=f"recorded series: {', '.join(sorted(n for n in recorded if ':' in n))}",
            )


BELOW_SUSTAINABLE = (
    "a burn below 1x never spends the budget within the period, so the tier alerts at 1x "
    "there, which is no fast burn"
)


def _burns_below_the_budget(spec: Spec) -> Iterator[Diagnostic]:
    """The workbook's factors scale with the period: under about five days a page
    factor falls below 1x, a burn that never spends the budget within the period, and
    under three days the ticket's 3d window looks back past the period."""
    for slo in spec.slos:
        period = seconds(slo.period)
        for tier, _setting in tiers(slo):
            pairs = scaled_burn_windows(slo, tier)
            slow = [w for w in pairs if tier is Tier.PAGE and w.factor < SUSTAINABLE]
            long = [w for w in pairs if seconds(w.long) > period]
            said = [f"scales to {decimal_text(w.factor)}x over {w.long}" for w in slow]
            said += [f"looks back {w.long}" for w in long]
            why = [BELOW_SUSTAINABLE] if slow else []
            why += ["a window longer than the period reads past it"] if long else []
            if said:
                yield Diagnostic(
                    "lint/slo-short-period",
                    f"with a period of {slo.period} the {tier.value} tier of SLO {slo.name} "
                    f"{' and '.join(said)}: {', and '.join(why)}",
                    path=(*slo.path, "period"),
                    severity=Severity.WARNING,
                    hint=f"use a period of 7d or more, or disable the {tier.value} tier",
                )


def _unreachable_slo_alerts(spec: Spec) -> Iterator[Diagnostic]:
    """A burn threshold of 100% or more can never be crossed: that window pair never
    alerts, and the tier never does when none of its pairs can."""
    for slo in spec.slos:
        for tier, _setting in tiers(slo):
            pairs = burn_windows(slo, tier)
            unreachable = [w for w in pairs if threshold_value(slo, w) >= 1]
            if not unreachable:
                continue
            first = unreachable[0]
            needs = (
                f"needs an error ratio over {first.long} above "
                f"{threshold_value(slo, first):g}, which is impossible with an objective of "
                f"{slo.objective_text}%"
            )
            if len(unreachable) == len(pairs):
                message = f"the {tier.value} tier of SLO {slo.name} never alerts: it {needs}"
            else:
                through = ", ".join(w.long for w in pairs if w not in unreachable)
                message = (
                    f"the {tier.value} alert of SLO {slo.name} {needs}, so it alerts only "
                    f"through its {through} window pair"
                )
            yield Diagnostic(
                "lint/slo-unreachable",
                message,
                path=(*slo.path, "objective"),
                severity=Severity.WARNING,
                hint=f"raise the objective or disable the {tier.value} tier",
            )
