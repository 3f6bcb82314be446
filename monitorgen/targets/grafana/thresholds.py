"""Threshold steps: the alerts drawn on a panel, or the panel's own thresholds.

Grafana colours a value by the last step at or below it, from a base step with no
value. For alert thresholds every region between two thresholds gets the colour
of the worst alert firing there, so an `above` alert colours the values over its
threshold and a `below` alert those under it.
"""

from __future__ import annotations

import itertools
import re

from monitorgen.immutable import immutable
from monitorgen.model import Alert, Comparison, Panel, Severity, Spec
from monitorgen.promql import PromQLError, format_number, inspect

OK_COLOR = "green"
SEVERITY_COLORS = {Severity.CRITICAL: "red", Severity.WARNING: "orange", Severity.INFO: "blue"}
_RANK = {Severity.INFO: 1, Severity.WARNING: 2, Severity.CRITICAL: 3}
_TRAILING_COMPARISON = re.compile(
    r"(?P<op>>=|<=|>|<)\s*(?P<value>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*$"
)


@immutable
class Step:
    value: float | None
    color: str


@immutable
class AlertLine:
    """One alert's threshold as a panel draws it."""

    alert: Alert
    comparison: Comparison
    value: float
    text: str

    def describe(self) -> str:
        side = "above" if self.comparison is Comparison.ABOVE else "below"
        return f"{self.alert.name} ({self.alert.severity.value}) fires {side} {self.text}"


def alert_lines(spec: Spec, panel: Panel) -> tuple[AlertLine, ...]:
    """The thresholds of the panel's alerts that have one, every severity of a name;
    unknown alerts are skipped (the semantic checks report them)."""
    lines = []
    for name in panel.alerts:
        for alert in spec.alerts_named(name):
            line = _line(alert, _rescaling(panel, alert))
            if line is not None:
                lines.append(line)
    return tuple(lines)


def _rescaling(panel: Panel, alert: Alert) -> tuple[float, float]:
    """The panel's scale and the alert's: a share alerted on in percent (`scale: 100`)
    is drawn at a hundredth of its threshold on a panel of the share."""
    query = alert.query
    if query is None:
        return 1.0, 1.0
    for shown in panel.queries:
        if shown.query and (shown.query.metric, shown.query.function) == (
            query.metric,
            query.function,
        ):
            return shown.query.scale or 1.0, query.scale or 1.0
    return 1.0, 1.0


def _line(alert: Alert, scales: tuple[float, float] = (1.0, 1.0)) -> AlertLine | None:
    if alert.threshold is not None:
        t = alert.threshold
        shown, alerted = scales
        if shown == alerted:
            return AlertLine(alert, t.comparison, t.value, t.text)
        value = t.value * shown / alerted  # dividing last: 3 / 100 is 0.03, not 0.0300...04
        return AlertLine(alert, t.comparison, value, format_number(value))
    return _raw_line(alert)


def _raw_line(alert: Alert) -> AlertLine | None:
    """A raw alert whose whole expression is `<query> > <number>` (or <, >=, <=)."""
    match = _TRAILING_COMPARISON.search(alert.expr)
    if match is None or not _top_is_comparison(alert.expr):
        return None
    comparison = Comparison.ABOVE if match["op"].startswith(">") else Comparison.BELOW
    return AlertLine(alert, comparison, float(match["value"]), match["value"])


def _top_is_comparison(expr: str) -> bool:
    try:
        return inspect(expr).top_is_comparison
    except PromQLError:
        return False


def alert_steps(lines: tuple[AlertLine, ...]) -> tuple[Step, ...]:
    """A step at every alert threshold (so each one draws its line), colouring each
    region by the worst alert that fires in it."""
    values = sorted({line.value for line in lines})
    if not values:
        return ()
    samples = [values[0] - 1.0]
    samples += [(a + b) / 2 for a, b in itertools.pairwise(values)]
    samples.append(values[-1] + 1.0)
    base = Step(None, _color_at(samples[0], lines))
    above = (Step(v, _color_at(s, lines)) for v, s in zip(values, samples[1:], strict=True))
    return (base, *above)


def _color_at(sample: float, lines: tuple[AlertLine, ...]) -> str:
    firing = [line.alert.severity for line in lines if _fires(line, sample)]
    if not firing:
        return OK_COLOR
    return SEVERITY_COLORS[max(firing, key=_RANK.__getitem__)]


def _fires(line: AlertLine, sample: float) -> bool:
    if line.comparison is Comparison.ABOVE:
        return sample > line.value
    return sample < line.value


def explicit_steps(panel: Panel) -> tuple[Step, ...]:
    """The spec's own thresholds above a neutral base, in ascending order."""
    if not panel.thresholds:
        return ()
    ordered = sorted(panel.thresholds, key=lambda t: t.value)
    return (Step(None, OK_COLOR), *(Step(t.value, t.color) for t in ordered))
