"""PromQL: compile structured queries, and parse and inspect expressions with promql-parser.

This is the one module that imports `promql_parser`; parsing is cached because
the same expression is inspected by several checks and targets. The PromQL monitorgen
writes itself is inspected without parsing, from the tree it is written from (see
"compiling" below).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import replace
from datetime import timedelta
from functools import cached_property, lru_cache
from typing import Any

import promql_parser

from monitorgen.gotemplate import go_float
from monitorgen.immutable import immutable
from monitorgen.model import (
    Comparison,
    Matcher,
    Metric,
    MetricType,
    Query,
    QueryFunction,
    Threshold,
)

#: Functions a counter may be an argument of: they make its resets harmless, or they
#: read whether and when it has samples, not its value.
COUNTER_SAFE_FUNCTIONS = frozenset(
    {
        "rate",
        "increase",
        "irate",
        "resets",
        "changes",
        # Whether and when the series has samples, never the value that only grows:
        "absent",
        "absent_over_time",
        "present_over_time",
        "count_over_time",
        "timestamp",
    }
)
#: Grafana macros and template variables replaced by parseable stand-ins before parsing.
#: What a dashboard variable stands for when a query is read as PromQL: any value.
ANY_VARIABLE_VALUE = ".*"
_GRAFANA_SUBSTITUTIONS = (
    (re.compile(r"\$__(rate_interval|interval|range)\b"), "5m"),
    (re.compile(r"\[\$\{?\w+\}?\]"), "[5m]"),
    (re.compile(r"\$\{?(\w+)\}?"), ANY_VARIABLE_VALUE),
)


class PromQLError(ValueError):
    """An expression that does not parse; the message is the parser's."""


#: Distinct expressions kept parsed: a spec of 5,000 alerts has about 12,000 (alerts,
#: panels, generated rules), and checks and targets walk them all several times over,
#: in the same order, so a smaller cache would miss every time.
PARSE_CACHE_SIZE = 1 << 16


#: The most operators and brackets an expression may hold. promql_parser recurses once
#: per level of its syntax tree and crashes the whole process (a stack overflow, not an
#: exception) from 4,200 chained operators or 2,750 right-nested sums (5,500 operators
#: and brackets); real expressions hold dozens.
MOST_OPERATORS = 2000
_OPERATOR_OR_QUOTED = re.compile(
    r"""("(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|`[^`]*`)|[-+*/%^(<>=!]|\b(?:and|or|unless|atan2)\b"""
)


@lru_cache(maxsize=PARSE_CACHE_SIZE)
def parse(expr: str) -> Any:
    """Parse PromQL, raising PromQLError with the parser's message."""
    if len(expr) > MOST_OPERATORS:  # a shorter text cannot hold more
        _refuse_deep_nesting(expr)
    try:
        return promql_parser.parse(expr)
    except (ValueError, TypeError) as exc:
        raise PromQLError(str(exc)) from None


def regex_refused(pattern: str) -> bool:
    """Whether the RE2-family engine Prometheus and Alertmanager share refuses `pattern`
    (lookaround, backreferences, ...), asked of the parser's own regex engine through a
    matcher: Python's `re` accepts what they do not."""
    try:
        promql_parser.parse(f"x{{x=~{string_literal(pattern)}}}")
    except (ValueError, TypeError):
        return True
    return False


def _refuse_deep_nesting(expr: str) -> None:
    """PromQLError when `expr` holds more than MOST_OPERATORS operators and brackets
    outside its strings: each may add a level to the tree the parser recurses over."""
    count = sum(1 for m in _OPERATOR_OR_QUOTED.finditer(expr) if m.group(1) is None)
    if count > MOST_OPERATORS:
        raise PromQLError(
            f"the expression holds {count} operators and brackets, more than the "
            f"{MOST_OPERATORS} monitorgen parses; split it into recording rules"
        )


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


@immutable
class SelectorUse:
    """One series selector found in an expression, with what encloses it."""

    name: str | None
    labels: tuple[tuple[str, str, str], ...]
    """(label, operator, value) of each matcher."""
    range: timedelta | None
    function: str | None
    """The innermost function whose argument this selector (or its range) is."""
    in_counter_function: bool


@immutable
class ExprFacts:
    """What checks need to know about an expression, gathered in one walk."""

    selectors: tuple[SelectorUse, ...]
    functions: tuple[str, ...]
    aggregations: tuple[tuple[str, tuple[str, ...]], ...]
    """(operator, `by` labels) of each aggregation."""
    top_is_comparison: bool
    """The expression keeps only the series that pass a comparison (`x > 1`, not
    `x > bool 1`, which keeps every series as 0 or 1)."""
    divisions: int
    division_inside_aggregation: bool
    """A division right inside an aggregation one NaN turns NaN (NAN_SPREADING_AGGREGATIONS)."""
    unguarded_divisions: int = 0
    """Divisions whose denominator can be 0 (it rates or counts something) and is not
    filtered by a comparison (`promql_labels.unguarded_divisions`)."""

    @cached_property
    def metric_names(self) -> tuple[str, ...]:
        """Found once: the facts of an expression are shared by every check."""
        return tuple(sorted({s.name for s in self.selectors if s.name}))


_COMPARISONS = frozenset({">", "<", ">=", "<=", "==", "!="})
#: Aggregations whose result is NaN when one input is: max, min, topk, bottomk, count
#: and group pass over a NaN (or count it) instead.
NAN_SPREADING_AGGREGATIONS = frozenset({"sum", "avg", "stddev", "stdvar", "quantile"})
_SCALAR_FUNCTIONS = frozenset({"scalar", "time", "pi", "day_of_month", "year"})


@lru_cache(maxsize=PARSE_CACHE_SIZE)
def inspect(expr: str) -> ExprFacts:
    """The facts of an expression: from the tree monitorgen wrote it from (`emit`), or
    found by parsing it."""
    tree = _WRITTEN.get(expr)
    return written_facts(tree) if tree is not None else parsed_facts(expr)


def parsed_facts(expr: str) -> ExprFacts:
    """Walk an expression's parse tree once and record its selectors, functions and shape."""
    tree = parse(expr)
    walker = _Walker()
    walker.walk(tree)
    # `x > bool 10` compares but filters nothing: 0 or 1 for every series, like no comparison
    return walker.facts(is_filtering_comparison(without_brackets(tree)))


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


class _Found:
    """What a walk gathers, of a parse tree (`_Walker`) or of a written tree."""

    def __init__(self) -> None:
        self.selectors: list[SelectorUse] = []
        self.functions: list[str] = []
        self.aggregations: list[tuple[str, tuple[str, ...]]] = []
        self.divisions = 0
        self.division_in_aggregation = False
        self.unguarded_divisions = 0

    def facts(self, top_is_comparison: bool) -> ExprFacts:
        return ExprFacts(
            tuple(self.selectors),
            tuple(self.functions),
            tuple(self.aggregations),
            top_is_comparison,
            self.divisions,
            self.division_in_aggregation,
            self.unguarded_divisions,
        )


class _Walker(_Found):
    """Collects facts in one depth-first walk, in promql_parser.walk's order.

    Each pending node carries its context down: the function it is an argument of
    (seen through matrix selectors, parentheses and subqueries), the range of its
    matrix selector, and whether an aggregation encloses it. That spares searching the
    ancestors at every selector, and promql_parser.walk's per-node callbacks, which
    cost more than the parse; iterative, so no nesting depth reaches Python's
    recursion limit.
    """

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
                op = str(node.op).strip()
                self.aggregations.append((op, labels))
                spreads = op in NAN_SPREADING_AGGREGATIONS
                push((node.expr, None, None, spreads))
                if node.param is not None:
                    push((node.param, None, None, spreads))
            elif kind == "MatrixSelector":
                push((node.vector_selector, function, node.range, in_aggregation))
            elif kind in ("ParenExpr", "SubqueryExpr"):
                push((node.expr, function, None, in_aggregation))
            elif kind == "UnaryExpr":
                push((node.expr, None, None, in_aggregation))


def _kind(node: Any) -> str:
    return type(node).__name__


def without_brackets(node: Any) -> Any:
    """The expression inside any brackets around the whole of `node`."""
    while _kind(node) == "ParenExpr":
        node = node.expr
    return node


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
    node = without_brackets(node)
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
#
# monitorgen writes most of the PromQL it checks: structured queries, thresholds,
# recording rules and SLO rules. The functions below build each text from its parts
# as a small tree of `PromQL` nodes, which keep the structure the text is written
# from. `emit` remembers a finished tree by its text, so `inspect`,
# `promql_labels.output_labels` and `promql_labels.always_compares` answer for it from
# the tree, by the parse tree's own rules, without parsing; only the spec's own PromQL,
# and what a node declines to describe (a name the parser reads as a keyword, a
# window it refuses), is parsed. The tests prove, over real specs and generated
# queries, that every described text parses and that its facts are the parser's.

#: Words the parser reads as keywords or numbers in some places of a query (`on`,
#: `bool`, `inf`), in any case: a text naming one is left to the parser's verdict.
_KEYWORDS = frozenset(
    {
        *("and", "or", "unless", "atan2", "by", "without", "on", "ignoring"),
        *("group_left", "group_right", "bool", "offset", "start", "end", "inf", "nan"),
        *("sum", "avg", "count", "min", "max", "group", "stddev", "stdvar", "topk"),
        *("bottomk", "count_values", "quantile", "limitk", "limit_ratio"),
    }
)
_SERIES_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
#: A raw matcher a selector can describe: a Grafana variable once expanded (`.*`), or
#: a plain word.
_PLAIN_EXTRA = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)(=~|=)"(\.\*|\w*)"')
_AGGREGATIONS = frozenset({"sum", "avg", "min", "max", "count"})
_RANGE_FUNCTIONS = frozenset(
    {"rate", "increase", "irate", "avg_over_time", "max_over_time", "min_over_time"}
)
_BINARY_OPERATORS = frozenset({"+", "-", "*", "/", "and", "or", "unless", *_COMPARISONS})
#: Set operators, which the parser refuses between a number and anything.
_SCALAR_REFUSED = frozenset({"and", "or", "unless"})


@immutable
class LabelSource:
    """One branch of a result's labels: the labels of `series` with its matched ones
    (any label, when the series is unknown), or exactly `matched` when `series` is
    None; then kept (True) or dropped (False) in turn by what encloses it."""

    series: str | None
    matched: frozenset[str]
    steps: tuple[tuple[bool, frozenset[str]], ...] = ()


class PromQL:
    """PromQL monitorgen writes: its text and, in subclasses, the node it is.

    `described` is False when the text is left to the parser. `comparison` (the node,
    parentheses aside, is a comparison; monitorgen never writes `bool`, so it also
    filters) and `scalar` (`is_scalar`) are what enclosing nodes need to know.
    """

    __slots__ = ("described", "text")
    comparison = False
    scalar = False

    def __init__(self, text: str, described: bool = False) -> None:
        self.text = text
        self.described = described

    def collect(
        self, found: _Found, function: str | None, range_: timedelta | None, in_aggregation: bool
    ) -> None:
        """Add this node's facts; `function` and `range_` are those a selector here is under."""

    def label_sources(self) -> tuple[LabelSource, ...]:
        """The branches whose labels the result's series carry (`output_labels`)."""
        return ()

    def always_compares(self) -> bool:
        return False


class _Selector(PromQL):
    __slots__ = ("matchers", "name")

    def __init__(
        self, name: str, matchers: tuple[tuple[str, str, str], ...], extra: tuple[str, ...]
    ) -> None:
        texts = [f"{label}{op}{string_literal(value)}" for label, op, value in matchers]
        if extra:
            texts.extend(extra)
            matchers = (*matchers, *filter(None, map(_extra_parts, extra)))
        self.text = f"{name}{{{','.join(texts)}}}" if texts else name
        self.described = (
            _plain_series(name)
            and len(matchers) == len(texts)
            and all([_plain_label(label) for label, _, _ in matchers])
        )
        self.name = name
        self.matchers = matchers

    def collect(
        self, found: _Found, function: str | None, range_: timedelta | None, in_aggregation: bool
    ) -> None:
        safe = function in COUNTER_SAFE_FUNCTIONS
        found.selectors.append(SelectorUse(self.name, self.matchers, range_, function, safe))

    def label_sources(self) -> tuple[LabelSource, ...]:
        return (LabelSource(self.name, frozenset(label for label, _, _ in self.matchers)),)


class _RangeCall(PromQL):
    __slots__ = ("function", "range", "series")

    def __init__(self, function: str, series: _Selector, window: str) -> None:
        self.range = _range(window)
        self.text = f"{function}({series.text}[{window}])"
        self.described = (
            series.described and self.range is not None and function in _RANGE_FUNCTIONS
        )
        self.function = function
        self.series = series

    def collect(
        self, found: _Found, function: str | None, range_: timedelta | None, in_aggregation: bool
    ) -> None:
        found.functions.append(self.function)
        self.series.collect(found, self.function, self.range, in_aggregation)

    def label_sources(self) -> tuple[LabelSource, ...]:
        return self.series.label_sources()


class _Aggregation(PromQL):
    __slots__ = ("by", "inner", "op")

    def __init__(self, op: str, by: tuple[str, ...], inner: PromQL) -> None:
        text = f"{op} by ({', '.join(by)}) ({inner.text})" if by else f"{op}({inner.text})"
        described = (
            inner.described
            and not inner.scalar
            and op in _AGGREGATIONS
            and all(map(_plain_label, by))
        )
        self.text = text
        self.described = described
        self.op = op
        self.by = by
        self.inner = inner

    def collect(
        self, found: _Found, function: str | None, range_: timedelta | None, in_aggregation: bool
    ) -> None:
        found.aggregations.append((self.op, self.by))
        self.inner.collect(found, None, None, self.op in NAN_SPREADING_AGGREGATIONS)

    def label_sources(self) -> tuple[LabelSource, ...]:
        kept = (True, frozenset(self.by))
        return tuple(
            LabelSource(s.series, s.matched, (*s.steps, kept)) for s in self.inner.label_sources()
        )


class _Binary(PromQL):
    __slots__ = ("comparison", "lhs", "op", "rhs", "scalar")

    def __init__(self, lhs: PromQL, op: str, rhs: PromQL) -> None:
        described = (
            lhs.described
            and rhs.described
            and op in _BINARY_OPERATORS
            and not (op in _SCALAR_REFUSED and (lhs.scalar or rhs.scalar))
            and not (op in _COMPARISONS and lhs.scalar and rhs.scalar)
        )
        self.text = f"{lhs.text} {op} {rhs.text}"
        self.described = described
        self.lhs = lhs
        self.op = op
        self.rhs = rhs
        self.comparison = op in _COMPARISONS
        self.scalar = lhs.scalar and rhs.scalar

    def collect(
        self, found: _Found, function: str | None, range_: timedelta | None, in_aggregation: bool
    ) -> None:
        if self.op == "/":
            found.divisions += 1
            found.division_in_aggregation |= in_aggregation
            if not self.rhs.scalar and not self.rhs.comparison:
                found.unguarded_divisions += 1
        self.lhs.collect(found, None, None, in_aggregation)
        self.rhs.collect(found, None, None, in_aggregation)

    def label_sources(self) -> tuple[LabelSource, ...]:
        if self.lhs.scalar:
            return self.rhs.label_sources()
        if self.rhs.scalar or self.op != "or":
            return self.lhs.label_sources()
        return self.lhs.label_sources() + self.rhs.label_sources()

    def always_compares(self) -> bool:
        if self.op == "or":
            return self.lhs.always_compares() and self.rhs.always_compares()
        if self.op in ("and", "unless"):
            return self.lhs.always_compares()
        return self.comparison


class _Paren(PromQL):
    __slots__ = ("comparison", "inner", "scalar")

    def __init__(self, inner: PromQL) -> None:
        self.text = f"({inner.text})"
        self.described = inner.described
        self.inner = inner
        self.comparison = inner.comparison
        self.scalar = inner.scalar

    def collect(
        self, found: _Found, function: str | None, range_: timedelta | None, in_aggregation: bool
    ) -> None:
        self.inner.collect(found, function, None, in_aggregation)

    def label_sources(self) -> tuple[LabelSource, ...]:
        return self.inner.label_sources()

    def always_compares(self) -> bool:
        return self.inner.always_compares()


class _Number(PromQL):
    __slots__ = ()
    scalar = True


class _Call(PromQL):
    """`function(arguments)` of a function without a range: `vector`, `absent` or
    `histogram_quantile`, whose series' labels each treat in its own way."""

    __slots__ = ("arguments", "function")

    def __init__(self, function: str, *arguments: PromQL) -> None:
        text = f"{function}({', '.join(a.text for a in arguments)})"
        vectors = arguments[1:] if function == "histogram_quantile" else ()
        described = all(a.described for a in arguments) and not any(v.scalar for v in vectors)
        super().__init__(text, described)
        self.function = function
        self.arguments = arguments

    def collect(
        self, found: _Found, function: str | None, range_: timedelta | None, in_aggregation: bool
    ) -> None:
        found.functions.append(self.function)
        for argument in self.arguments:
            argument.collect(found, self.function, None, in_aggregation)

    def label_sources(self) -> tuple[LabelSource, ...]:
        if self.function == "histogram_quantile":
            dropped = (False, frozenset({"le"}))
            return tuple(
                LabelSource(s.series, s.matched, (*s.steps, dropped))
                for s in self.arguments[1].label_sources()
            )
        if self.function == "absent":
            (series,) = self.arguments
            assert isinstance(series, _Selector)
            fixed = frozenset(label for label, op, _ in series.matchers if op == "=")
            return (LabelSource(None, fixed),)
        return ()

    def always_compares(self) -> bool:
        return self.function == "absent"


#: Written trees by their text (`emit`); bounded like the parse cache.
_WRITTEN: dict[str, PromQL] = {}


def emit(expr: PromQL) -> str:
    """The finished text; its tree is remembered, when it describes the text, for the
    checks that inspect it."""
    if expr.described:
        if len(_WRITTEN) >= PARSE_CACHE_SIZE:
            del _WRITTEN[next(iter(_WRITTEN))]
        _WRITTEN[expr.text] = expr
    return expr.text


def written(expr: str) -> PromQL | None:
    """The tree monitorgen wrote a text from, when it describes the text."""
    return _WRITTEN.get(expr)


def written_facts(expr: PromQL) -> ExprFacts:
    """The facts `parsed_facts` finds, from a written tree."""
    found = _Found()
    expr.collect(found, None, None, False)
    return found.facts(expr.comparison)


@lru_cache(maxsize=4096)
def _plain_series(name: str) -> bool:
    return _SERIES_NAME.fullmatch(name) is not None and name.lower() not in _KEYWORDS


@lru_cache(maxsize=4096)
def _plain_label(name: str) -> bool:
    return (
        _LABEL_NAME.fullmatch(name) is not None
        and name.lower() not in _KEYWORDS
        and name != "__name__"
    )


def _extra_parts(text: str) -> tuple[str, str, str] | None:
    found = _PLAIN_EXTRA.fullmatch(text)
    return (found[1], found[2], found[3]) if found else None


@lru_cache(maxsize=1024)
def _range(window: str) -> timedelta | None:
    """A window's length as the parser reads it, or None where it refuses it (`0s`)."""
    try:
        return parse_duration(window)
    except ValueError:
        return None


def format_number(value: float) -> str:
    """A number as short as it reads: 10000, 0.8, 1e-06 (never 0.30000000000000004)."""
    if isinstance(value, bool):
        raise TypeError("not a number")
    if isinstance(value, int) or (float(value).is_integer() and abs(value) < 1e15):
        return str(int(value))
    return repr(float(value))


def client_le(bound: float) -> str:
    """A bucket bound as the Python client writes `le`: 0.5, 30.0, +Inf, and from a
    million on in exponent form (1e+06, 1.234567e+06), as Go's clients do."""
    if math.isinf(bound):
        return "+Inf" if bound > 0 else "-Inf"
    text = repr(float(bound))
    dot = text.find(".")
    if bound > 0 and dot > 6:
        mantissa = f"{text[0]}.{text[1:dot]}{text[dot + 1 :]}".rstrip("0").rstrip(".")
        return f"{mantissa}e+{dot - 1:02d}"
    return text


def le_spellings(bound: float) -> tuple[str, ...]:
    """Every way a client writes the `le` of one bucket bound: the Python client's
    (`30.0`, `1e+06`), Go's (`30`, `1e+06`) and the plain number (`1000000`)."""
    return tuple(
        dict.fromkeys((format_number(bound), repr(float(bound)), client_le(bound), go_float(bound)))
    )


def string_literal(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _matcher_parts(matcher: Matcher) -> tuple[str, str, str]:
    """(label, operator, value) as the parser reads them back from `matcher_text`."""
    if matcher.is_regex:
        return (matcher.label, "=~", "|".join(re.escape(v) for v in matcher.values))
    return (matcher.label, "=", matcher.values[0])


def matcher_text(matcher: Matcher) -> str:
    label, op, value = _matcher_parts(matcher)
    return f"{label}{op}{string_literal(value)}"


def selector(name: str, matchers: Iterable[Matcher], extra: Iterable[str] = ()) -> str:
    return selector_expr(name, matchers, extra).text


def selector_expr(name: str, matchers: Iterable[Matcher] = (), extra: Iterable[str] = ()) -> PromQL:
    """`name{matchers,extra}`; `extra` are raw matcher texts (Grafana variables)."""
    return _selector(name, tuple(matchers), tuple(extra))


@lru_cache(maxsize=PARSE_CACHE_SIZE)
def _selector(name: str, matchers: tuple[Matcher, ...], extra: tuple[str, ...]) -> _Selector:
    """Remembered (nodes never change): the alerts, panels and rules over one metric
    select its series alike, about three times per distinct selector."""
    return _Selector(name, tuple(map(_matcher_parts, matchers)), extra)


def range_function(function: str, series: PromQL, window: str) -> PromQL:
    """`function(series[window])`: a rate or an `*_over_time` of a selector."""
    if not isinstance(series, _Selector):
        return PromQL(f"{function}({series.text}[{window}])")
    return _RangeCall(function, series, window)


def aggregation(op: str, by: Iterable[str], inner: PromQL) -> PromQL:
    """`op by (by) (inner)`, or `op(inner)` without labels."""
    return _Aggregation(op, tuple(by), inner)


def binary(lhs: PromQL, op: str, rhs: PromQL) -> PromQL:
    """`lhs op rhs`, without `bool` or vector matching; the caller parenthesizes the
    operands so that the text parses as this one operation."""
    return _Binary(lhs, op, rhs)


def parenthesized(expr: PromQL) -> PromQL:
    return _Paren(expr)


def number(text: str) -> PromQL:
    return _Number(text, True)


def histogram_quantile(quantile: str, buckets: PromQL) -> PromQL:
    return _Call("histogram_quantile", number(quantile), buckets)


def vector(value: str) -> PromQL:
    return _Call("vector", number(value))


def absent(series: PromQL) -> PromQL:
    """`absent(series)` of a selector: one series, with the labels its equalities fix."""
    if not isinstance(series, _Selector):
        return PromQL(f"absent({series.text})")
    return _Call("absent", series)


def compile_query(
    query: Query,
    metric: Metric,
    *,
    window: str | None = None,
    extra: Iterable[str] = (),
    recorded: bool = False,
) -> str:
    """PromQL for a structured query. `window` overrides the range (Grafana: $__rate_interval);
    `extra` adds raw matchers (Grafana: `task_type=~"$task_type"`) to every selector. A
    `recorded` ratio divides by `(total > 0)`: a quiet period records nothing, not NaN.

    A Grafana query parses only once `expand_grafana` has replaced its macros and
    variables, so the tree remembered is that of the expanded text, built from the
    expanded parts (and only when that builds the very text `expand_grafana` writes)."""
    extra = tuple(extra)
    rng = window or query.window
    compiled = _compiled(query, metric, rng, extra, recorded)
    if window is None and not extra:
        return emit(compiled)
    expanded_extra = tuple(expand_grafana(e) for e in extra)
    expanded = _compiled(query, metric, expand_grafana(f"[{rng}]")[1:-1], expanded_extra)
    if expanded.text == expand_grafana(compiled.text):
        emit(expanded)
    return compiled.text


def compile_distribution(
    query: Query, metric: Metric, window: str, extra: Iterable[str] = ()
) -> str:
    """For a heatmap of a histogram: every bucket's rate, which Grafana draws as the
    distribution over time (`sum by (le, ...) (rate(m_bucket[w]))`)."""
    series = selector_expr(f"{metric.name}_bucket", query.where, tuple(extra))
    inner = range_function("rate", series, window)
    return aggregation("sum", ("le", *query.by), inner).text


def _compiled(
    query: Query, metric: Metric, rng: str, extra: tuple[str, ...], recorded: bool = False
) -> PromQL:
    fn = query.function
    if fn is QueryFunction.QUANTILE:
        return _quantile(query, metric, rng, extra)
    if fn is QueryFunction.RATIO:
        return _ratio(query, metric, rng, extra, recorded)
    name = (
        metric.name
        if metric.type in (MetricType.COUNTER, MetricType.GAUGE)
        else f"{metric.name}_count"
    )
    series = selector_expr(name, query.where, extra)
    inner = series if fn is QueryFunction.VALUE else range_function(fn.value, series, rng)
    return _scaled(aggregation(query.aggregation, query.by, inner), query.scale)


def compile_condition(query: Query, metric: Metric, threshold: Threshold) -> str:
    """PromQL for an alert's condition. A rate or an increase of events a `where`
    picks, compared `below`, counts a group without such events yet as 0 (`or 0 *` the
    same over all its events): "no successful run today" must fire for a job whose
    only series so far count failures, where the bare query returns nothing."""
    if not needs_zero_guard(query, threshold):
        return with_threshold(compile_query(query, metric), threshold)
    rng = query.window
    part = _compiled(query, metric, rng, ())
    total = _compiled(replace(query, where=_group_matchers(query)), metric, rng, ())
    zero = binary(number("0"), "*", parenthesized(total) if query.scale is not None else total)
    guarded = parenthesized(binary(part, "or", zero))
    return emit(binary(guarded, threshold.comparison.value, number(threshold.text)))


def needs_zero_guard(query: Query, threshold: Threshold) -> bool:
    """A `below` on a rate or an increase whose `where` picks among a group's series."""
    return (
        threshold.comparison is Comparison.BELOW
        and query.function in (QueryFunction.RATE, QueryFunction.INCREASE)
        and _group_matchers(query) != query.where
    )


def _group_matchers(query: Query) -> tuple[Matcher, ...]:
    """The `where` matchers on labels the query groups by: they choose which groups
    exist, which the zero guard must not widen (the other matchers choose events)."""
    return tuple(m for m in query.where if m.label in query.by)


def _quantile(query: Query, metric: Metric, rng: str, extra: tuple[str, ...]) -> PromQL:
    series = selector_expr(f"{metric.name}_bucket", query.where, extra)
    by = ("le", *[b for b in query.by if b != "le"])
    summed = aggregation("sum", by, range_function("rate", series, rng))
    return _scaled(histogram_quantile(format_number(query.quantile), summed), query.scale)


def _ratio(
    query: Query, metric: Metric, rng: str, extra: tuple[str, ...], recorded: bool
) -> PromQL:
    name = metric.name if metric.type is MetricType.COUNTER else f"{metric.name}_count"

    def summed_rate(where: tuple[Matcher, ...]) -> PromQL:
        series = selector_expr(name, where, extra)
        return aggregation("sum", query.by, range_function("rate", series, rng))

    # `or 0 * total`: a part with no series yet (no cache hit since a restart) is a
    # share of 0, which a `below` threshold must see, not no result at all.
    total = summed_rate(query.total_where)
    part = parenthesized(binary(summed_rate(query.where), "or", binary(number("0"), "*", total)))
    below = parenthesized(binary(total, ">", number("0"))) if recorded else total
    return _scaled(binary(part, "/", below), query.scale)


def _scaled(expr: PromQL, scale: float | None) -> PromQL:
    if scale is None:
        return expr
    return binary(parenthesized(expr), "*", number(format_number(scale)))


def with_threshold(expr: str, threshold: Threshold) -> str:
    """`expr` compared with the threshold; the tree `compile_query` remembered of
    `expr` carries over to the comparison."""
    needs_parens = " / " in expr or ") * " in expr
    left = written(expr) or PromQL(expr)
    if needs_parens and not expr.startswith("("):
        left = parenthesized(left)
    return emit(binary(left, threshold.comparison.value, number(threshold.text)))
