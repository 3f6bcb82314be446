"""PromQL: compile structured queries, and parse and inspect expressions with promql-parser.

This is the one module that imports `promql_parser`; parsing is cached because
the same expression is inspected by several checks and targets.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property, lru_cache
from typing import Any

import promql_parser

from monitorgen.model import Matcher, Metric, MetricType, Query, QueryFunction, Threshold

#: Functions whose argument is a counter's range and that make its resets harmless.
COUNTER_SAFE_FUNCTIONS = frozenset({"rate", "increase", "irate", "resets"})
#: Grafana macros and template variables replaced by parseable stand-ins before parsing.
_GRAFANA_SUBSTITUTIONS = (
    (re.compile(r"\$__(rate_interval|interval|range)\b"), "5m"),
    (re.compile(r"\[\$\{?\w+\}?\]"), "[5m]"),
    (re.compile(r"\$\{?(\w+)\}?"), ".*"),
)


class PromQLError(ValueError):
    """An expression that does not parse; the message is the parser's."""


#: Distinct expressions kept parsed: a spec of 5,000 alerts has about 12,000 (alerts,
#: panels, generated rules), and checks and targets walk them all several times over,
#: in the same order, so a smaller cache would miss every time.
PARSE_CACHE_SIZE = 1 << 16


@lru_cache(maxsize=PARSE_CACHE_SIZE)
def parse(expr: str) -> Any:
    """Parse PromQL, raising PromQLError with the parser's message."""
    try:
        return promql_parser.parse(expr)
    except (ValueError, TypeError) as exc:
        raise PromQLError(str(exc)) from None


def parse_duration(text: str) -> timedelta:
    result: timedelta = promql_parser.parse_duration(text)
    return result


@lru_cache(maxsize=1024)
def seconds(text: str) -> float:
    """Remembered: a spec writes a handful of durations thousands of times."""
    return parse_duration(text).total_seconds()


def format_duration(value: timedelta) -> str:
    result: str = promql_parser.display_duration(value)
    return result


@lru_cache(maxsize=PARSE_CACHE_SIZE)
def expand_grafana(expr: str) -> str:
    """Replace Grafana macros and `$variables` so a dashboard query parses as PromQL.
    Remembered: checks expand every expression of a spec, several times over."""
    for pattern, replacement in _GRAFANA_SUBSTITUTIONS:
        expr = pattern.sub(replacement, expr)
    return expr


@dataclass(frozen=True)
class SelectorUse:
    """One series selector found in an expression, with what encloses it."""

    name: str | None
    labels: tuple[tuple[str, str, str], ...]
    """(label, operator, value) of each matcher."""
    range: timedelta | None
    function: str | None
    """The innermost function whose argument this selector (or its range) is."""
    in_counter_function: bool


@dataclass(frozen=True)
class ExprFacts:
    """What checks need to know about an expression, gathered in one walk."""

    selectors: tuple[SelectorUse, ...]
    functions: tuple[str, ...]
    aggregations: tuple[tuple[str, tuple[str, ...]], ...]
    """(operator, `by` labels) of each aggregation."""
    top_is_comparison: bool
    divisions: int
    division_inside_aggregation: bool
    unguarded_divisions: int = 0
    """Divisions whose denominator can be 0 (it rates or counts something) and is not
    filtered by a comparison (`promql_labels.unguarded_divisions`)."""

    @cached_property
    def metric_names(self) -> tuple[str, ...]:
        """Found once: the facts of an expression are shared by every check."""
        return tuple(sorted({s.name for s in self.selectors if s.name}))


_COMPARISONS = frozenset({">", "<", ">=", "<=", "==", "!="})
_SCALAR_FUNCTIONS = frozenset({"scalar", "time", "pi", "day_of_month", "year"})


@lru_cache(maxsize=PARSE_CACHE_SIZE)
def inspect(expr: str) -> ExprFacts:
    """Walk an expression once and record its selectors, functions and shape."""
    tree = parse(expr)
    walker = _Walker()
    walker.walk(tree)
    top = tree
    while type(top).__name__ == "ParenExpr":
        top = top.expr
    is_comparison = type(top).__name__ == "BinaryExpr" and str(top.op).strip() in _COMPARISONS
    return ExprFacts(
        tuple(walker.selectors),
        tuple(walker.functions),
        tuple(walker.aggregations),
        is_comparison,
        walker.divisions,
        walker.division_in_aggregation,
        walker.unguarded_divisions,
    )


def children(node: Any) -> list[Any]:
    """The sub-expressions of a parse-tree node, in the order promql_parser.walk visits them."""
    kind = type(node).__name__
    if kind in ("ParenExpr", "UnaryExpr", "SubqueryExpr", "AggregateExpr"):
        extra = [node.param] if kind == "AggregateExpr" and node.param is not None else []
        return [*extra, node.expr]
    if kind == "MatrixSelector":
        return [node.vector_selector]
    if kind == "Call":
        return list(node.args)
    if kind == "BinaryExpr":
        return [node.lhs, node.rhs]
    return []


class _Walker:
    """Collects facts in one depth-first walk, in promql_parser.walk's order.

    Each pending node carries its context down: the function it is an argument of
    (seen through matrix selectors, parentheses and subqueries), the range of its
    matrix selector, and whether an aggregation encloses it. That spares searching the
    ancestors at every selector, and promql_parser.walk's per-node callbacks, which
    cost more than the parse; iterative, so no nesting depth reaches Python's
    recursion limit.
    """

    def __init__(self) -> None:
        self.selectors: list[SelectorUse] = []
        self.functions: list[str] = []
        self.aggregations: list[tuple[str, tuple[str, ...]]] = []
        self.divisions = 0
        self.division_in_aggregation = False
        self.unguarded_divisions = 0

    def walk(self, tree: Any) -> None:
        pending: list[tuple[Any, str | None, timedelta | None, bool]] = [(tree, None, None, False)]
        push = pending.append
        while pending:
            node, function, range_, in_aggregation = pending.pop()
            kind = type(node).__name__
            # Children are pushed last first, so that they are visited in order.
            if kind == "BinaryExpr":
                if str(node.op).strip() == "/":
                    self.divisions += 1
                    self.division_in_aggregation |= in_aggregation
                    if not is_scalar(node.rhs) and not is_filtering_comparison(node.rhs):
                        self.unguarded_divisions += 1
                push((node.rhs, None, None, in_aggregation))
                push((node.lhs, None, None, in_aggregation))
            elif kind == "VectorSelector":
                self.selectors.append(_selector_use(node, function, range_))
            elif kind == "Call":
                name = node.func.name
                self.functions.append(name)
                for arg in reversed(node.args):
                    push((arg, str(name), None, in_aggregation))
            elif kind == "AggregateExpr":
                labels = tuple(node.modifier.labels) if node.modifier is not None else ()
                self.aggregations.append((str(node.op).strip(), labels))
                push((node.expr, None, None, True))
                if node.param is not None:
                    push((node.param, None, None, True))
            elif kind == "MatrixSelector":
                push((node.vector_selector, function, node.range, in_aggregation))
            elif kind in ("ParenExpr", "SubqueryExpr"):
                push((node.expr, function, None, in_aggregation))
            elif kind == "UnaryExpr":
                push((node.expr, None, None, in_aggregation))


def _kind(node: Any) -> str:
    return type(node).__name__


def is_scalar(node: Any) -> bool:
    """A number, a string or a scalar function of them: never a series."""
    kind = _kind(node)
    if kind in ("NumberLiteral", "StringLiteral"):
        return True
    if kind in ("ParenExpr", "UnaryExpr"):
        return is_scalar(node.expr)
    if kind == "Call":
        return bool(node.func.name in _SCALAR_FUNCTIONS and node.func.name != "day_of_month")
    if kind == "BinaryExpr":
        return is_scalar(node.lhs) and is_scalar(node.rhs)
    return False


def is_filtering_comparison(node: Any) -> bool:
    """`x > 0` without `bool`: keeps only series that pass, so never divides by zero."""
    while _kind(node) == "ParenExpr":
        node = node.expr
    if _kind(node) != "BinaryExpr" or (node.modifier is not None and node.modifier.return_bool):
        return False
    return str(node.op).strip() in (">", "<", ">=", "<=", "==", "!=")


def _selector_use(node: Any, function: str | None, range_: timedelta | None) -> SelectorUse:
    labels = tuple((m.name, _match_op(m.op), m.value) for m in node.matchers.matchers)
    return SelectorUse(node.name, labels, range_, function, function in COUNTER_SAFE_FUNCTIONS)


def _match_op(op: Any) -> str:
    return {"Equal": "=", "NotEqual": "!=", "Re": "=~", "NotRe": "!~"}.get(
        str(op).rsplit(".", 1)[-1], str(op)
    )


# ---------------------------------------------------------------- compiling


def format_number(value: float) -> str:
    """A number as short as it reads: 10000, 0.8, 1e-06 (never 0.30000000000000004)."""
    if isinstance(value, bool):
        raise TypeError("not a number")
    if isinstance(value, int) or (float(value).is_integer() and abs(value) < 1e15):
        return str(int(value))
    return repr(float(value))


def string_literal(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def matcher_text(matcher: Matcher) -> str:
    if matcher.is_regex:
        pattern = "|".join(re.escape(v) for v in matcher.values)
        return f"{matcher.label}=~{string_literal(pattern)}"
    return f"{matcher.label}={string_literal(matcher.values[0])}"


def selector(name: str, matchers: Iterable[Matcher], extra: Iterable[str] = ()) -> str:
    parts = [matcher_text(m) for m in matchers] + list(extra)
    return f"{name}{{{','.join(parts)}}}" if parts else name


def _aggregate(aggregation: str, by: Iterable[str], inner: str) -> str:
    labels = ", ".join(by)
    return f"{aggregation} by ({labels}) ({inner})" if labels else f"{aggregation}({inner})"


def compile_query(
    query: Query, metric: Metric, *, window: str | None = None, extra: Iterable[str] = ()
) -> str:
    """PromQL for a structured query. `window` overrides the range (Grafana: $__rate_interval);
    `extra` adds raw matchers (Grafana: `task_type=~"$task_type"`) to every selector."""
    extra = tuple(extra)
    rng = window or query.window
    fn = query.function
    if fn is QueryFunction.QUANTILE:
        return _quantile(query, metric, rng, extra)
    if fn is QueryFunction.RATIO:
        return _ratio(query, metric, rng, extra)
    name = (
        metric.name
        if metric.type in (MetricType.COUNTER, MetricType.GAUGE)
        else f"{metric.name}_count"
    )
    sel = selector(name, query.where, extra)
    inner = sel if fn is QueryFunction.VALUE else f"{fn.value}({sel}[{rng}])"
    return _scaled(_aggregate(query.aggregation, query.by, inner), query.scale)


def _quantile(query: Query, metric: Metric, rng: str, extra: tuple[str, ...]) -> str:
    buckets = f"rate({selector(metric.name + '_bucket', query.where, extra)}[{rng}])"
    by = ("le", *[b for b in query.by if b != "le"])
    inner = _aggregate("sum", by, buckets)
    return _scaled(f"histogram_quantile({format_number(query.quantile)}, {inner})", query.scale)


def _ratio(query: Query, metric: Metric, rng: str, extra: tuple[str, ...]) -> str:
    name = metric.name if metric.type is MetricType.COUNTER else f"{metric.name}_count"
    part = _aggregate("sum", query.by, f"rate({selector(name, query.where, extra)}[{rng}])")
    whole = _aggregate("sum", query.by, f"rate({selector(name, query.total_where, extra)}[{rng}])")
    return _scaled(f"{part} / {whole}", query.scale)


def _scaled(expr: str, scale: float | None) -> str:
    return f"({expr}) * {format_number(scale)}" if scale is not None else expr


def with_threshold(expr: str, threshold: Threshold) -> str:
    needs_parens = " / " in expr or ") * " in expr
    left = f"({expr})" if needs_parens and not expr.startswith("(") else expr
    return f"{left} {threshold.comparison.value} {threshold.text}"
