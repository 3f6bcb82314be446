"""The structured condition a raw PromQL alert expression is, when it is one.

A spec may write as raw `expr` what a structured `condition` compiles to, such as
`sum by (queue) (rate(jobs_total{status="failed"}[5m])) > 1`, or compare a series one
of its recording rules records from such a query. Whatever can be derived for the
structured condition (the promtool tests' inputs) then holds for the raw text too. The
structured form is read off the expression's tree and accepted only when compiling it
gives the same tree, brackets aside, and the semantic checks accept it: nothing is
guessed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar

from monitorgen.immutable import immutable
from monitorgen.model import (
    Comparison,
    Matcher,
    Metric,
    MetricType,
    Query,
    QueryFunction,
    Spec,
    Threshold,
)
from monitorgen.promql import (
    PromQLError,
    compile_query,
    format_duration,
    format_number,
    parse,
    without_brackets,
)
from monitorgen.semantic.references import check_query

_T = TypeVar("_T")
#: The aggregations a structured condition may use (the schema's list).
_AGGREGATIONS = ("sum", "avg", "min", "max", "count")
_RANGE_FUNCTIONS = {
    f.value: f
    for f in (
        QueryFunction.RATE,
        QueryFunction.INCREASE,
        QueryFunction.AVG_OVER_TIME,
        QueryFunction.MAX_OVER_TIME,
        QueryFunction.MIN_OVER_TIME,
    )
}


@immutable
class StructuredForm:
    """What a raw comparison is as a structured condition."""

    query: Query
    threshold: Threshold
    labels: tuple[tuple[str, str], ...] = ()
    """Labels the compared series carries besides the query's: a recording rule's."""


def structured_form(spec: Spec, expr: str) -> StructuredForm | None:
    """What `expr` is as a structured condition, or None when it is not one.
    Remembered per spec: the rule file's descriptions and the promtool tests ask."""
    return _remembered(spec, "structured_form", expr, _read_off)


def _read_off(spec: Spec, expr: str) -> StructuredForm | None:
    compared = _compared(expr)
    threshold = _threshold(*compared[1:]) if compared is not None else None
    if compared is None or threshold is None:
        return None
    query = _query_of(spec, compared[0])
    if query is not None:
        return StructuredForm(query, threshold)
    recorded = _recorded(spec, compared[0])
    if recorded is None:
        return None
    return StructuredForm(recorded[0], threshold, recorded[1])


def bare_rate_form(spec: Spec, expr: str) -> StructuredForm | None:
    """`rate(counter{...}[window]) <op> number` (or `increase`) with no aggregation, as
    the structured query summed by every label of the series: fed one series, both
    return it with its labels. None for anything else."""
    return _remembered(spec, "bare_rate_form", expr, _bare_rate)


def _bare_rate(spec: Spec, expr: str) -> StructuredForm | None:
    compared = _compared(expr)
    threshold = _threshold(*compared[1:]) if compared is not None else None
    if compared is None or threshold is None:
        return None
    ranged = _range_call(compared[0])
    if ranged is None or ranged[0] not in (QueryFunction.RATE, QueryFunction.INCREASE):
        return None
    function, name, where, window = ranged
    metric = _metric(spec, name, "_count")
    if metric is None or metric.type is MetricType.GAUGE:
        return None
    every_label = tuple(sorted({*metric.label_names, "instance", "job"}))
    query = Query(metric.name, function, "sum", window, every_label, where)
    return None if _problems(spec, query) else StructuredForm(query, threshold)


def stopped_counter_form(spec: Spec, expr: str) -> Query | None:
    """The query of `query == 0` when it is a summed rate or increase of a counter: an
    alert that fires while nothing is counted ("no orders for 15 minutes")."""
    return _remembered(spec, "stopped_counter_form", expr, _stopped_counter)


def _stopped_counter(spec: Spec, expr: str) -> Query | None:
    compared = _compared(expr)
    if compared is None or compared[1:] != ("==", 0.0):
        return None
    query = _query_of(spec, compared[0])
    counted = (QueryFunction.RATE, QueryFunction.INCREASE)
    if query is None or query.function not in counted or query.aggregation != "sum":
        return None
    return query


@immutable
class CounterRatioForm:
    """`part / whole <op> number`, each side a summed rate (or increase) of a counter of
    its own, over one window and grouping: an error rate written over an errors counter
    and a requests counter, which no structured condition compiles to."""

    part: Query
    whole: Query
    threshold: Threshold


def counter_ratio_form(spec: Spec, expr: str) -> CounterRatioForm | None:
    """What `expr` is as a ratio of two counters, or None when it is not one (each side
    read off as `structured_form` reads a query: nothing is guessed)."""
    return _remembered(spec, "counter_ratio_form", expr, _counter_ratio)


def _counter_ratio(spec: Spec, expr: str) -> CounterRatioForm | None:
    compared = _compared(expr)
    threshold = _threshold(*compared[1:]) if compared is not None else None
    if compared is None or threshold is None:
        return None
    ratio = compared[0]
    if _kind(ratio) != "BinaryExpr" or str(ratio.op).strip() != "/" or ratio.modifier is not None:
        return None
    part = _query_of(spec, without_brackets(ratio.lhs))
    whole = _query_of(spec, without_brackets(ratio.rhs))
    if part is None or whole is None or not _same_kind_of_sum(part, whole):
        return None
    return CounterRatioForm(part, whole, threshold)


def _remembered(spec: Spec, name: str, expr: str, read: Callable[[Spec, str], _T]) -> _T:
    """`read(spec, expr)` once per spec and expression."""
    known: dict[str, _T] = spec.derived(name, dict)
    if expr not in known:
        known[expr] = read(spec, expr)
    return known[expr]


def _compared(expr: str) -> tuple[Any, str, float] | None:
    """`lhs <op> number` as the left side (brackets aside), the operator and the number;
    None for any other expression (or one with `bool`, `on` or `ignoring`)."""
    try:
        tree = without_brackets(parse(expr))
    except PromQLError:
        return None
    if _kind(tree) != "BinaryExpr" or tree.modifier is not None:
        return None
    if _kind(tree.rhs) != "NumberLiteral":
        return None
    return without_brackets(tree.lhs), str(tree.op).strip(), float(tree.rhs.val)


def _threshold(op: str, value: float) -> Threshold | None:
    """A structured threshold: `>` is `above`, `<` is `below`."""
    comparison = {">": Comparison.ABOVE, "<": Comparison.BELOW}.get(op)
    return None if comparison is None else Threshold(comparison, value, format_number(value))


def _same_kind_of_sum(part: Query, whole: Query) -> bool:
    """Two sums of one function of two counters over the same window and grouping."""
    counted = (QueryFunction.RATE, QueryFunction.INCREASE)
    return (
        part.metric != whole.metric  # one counter's ratio is a structured `ratio`
        and part.function is whole.function
        and part.function in counted
        and part.aggregation == whole.aggregation == "sum"
        and part.window == whole.window
        and set(part.by) == set(whole.by)
        and part.scale is None
        and whole.scale is None
    )


def _query_of(spec: Spec, node: Any) -> Query | None:
    """The structured query that compiles to `node`, if the semantic checks accept it."""
    query = _query(spec, node)
    if query is None or _problems(spec, query) or not _compiles_to(spec, query, node):
        return None
    return query


def _recorded(spec: Spec, node: Any) -> tuple[Query, tuple[tuple[str, str], ...]] | None:
    """The query behind `record`, a series that one of the spec's recording rules records
    from a structured query, and the labels that rule adds. Its group is evaluated
    before the alerts' at each step, so an alert on it sees that query's value of the
    same step."""
    if _kind(node) != "VectorSelector" or node.offset or node.at:
        return None
    if node.matchers.matchers or node.matchers.or_matchers:
        return None
    rules = [rule for rule in spec.recording_rules if rule.record == node.name]
    if len(rules) != 1:
        return None
    try:
        recorded = without_brackets(parse(rules[0].expr))
    except PromQLError:
        return None
    query = _query_of(spec, recorded)
    return None if query is None else (query, rules[0].labels)


def _query(spec: Spec, node: Any) -> Query | None:
    kind = _kind(node)
    if kind == "AggregateExpr":
        return _aggregated(spec, node)
    if kind == "Call" and node.func.name == "histogram_quantile":
        return _quantile(spec, node)
    if kind == "BinaryExpr" and node.modifier is None:
        op = str(node.op).strip()
        if op == "/":
            return _ratio(spec, node)
        if op == "*" and _kind(node.rhs) == "NumberLiteral":
            return _scaled(spec, node)
    return None


def _scaled(spec: Spec, node: Any) -> Query | None:
    """`(query) * number`: a query with its `scale`."""
    query = _query(spec, without_brackets(node.lhs))
    if query is None or query.scale is not None:
        return None
    return replace(query, scale=float(node.rhs.val))


def _aggregated(spec: Spec, node: Any) -> Query | None:
    """`agg by (...) (series)` of a gauge, or `agg by (...) (fn(series[window]))`."""
    grouping = _grouping(node)
    if grouping is None:
        return None
    aggregation, by, inner = grouping
    if _kind(inner) == "VectorSelector":
        selected = _selector(inner)
        if selected is None:
            return None
        name, where = selected
        function, window = QueryFunction.VALUE, "5m"
    else:
        ranged = _range_call(inner)
        if ranged is None:
            return None
        function, name, where, window = ranged
    metric = _metric(spec, name, "_count" if function is not QueryFunction.VALUE else None)
    if metric is None:
        return None
    return Query(metric.name, function, aggregation, window, by, where)


def _quantile(spec: Spec, node: Any) -> Query | None:
    """`histogram_quantile(q, sum by (le, ...) (rate(name_bucket[window])))`."""
    if len(node.args) != 2:
        return None
    quantile, summed = node.args
    grouping = _grouping(without_brackets(summed))
    if _kind(quantile) != "NumberLiteral" or grouping is None:
        return None
    if not 0 < quantile.val < 1:  # as a structured quantile must be: 0 and 1 are edge cases
        return None
    _sum, by, inner = grouping
    ranged = _range_call(inner)
    if ranged is None or not ranged[1].endswith("_bucket"):
        return None
    _rate, name, where, window = ranged
    metric = spec.metric(name.removesuffix("_bucket"))
    if metric is None:
        return None
    by = tuple(label for label in by if label != "le")
    return Query(
        metric.name, QueryFunction.QUANTILE, "sum", window, by, where, (), float(quantile.val)
    )


def _ratio(spec: Spec, node: Any) -> Query | None:
    """`(sum by (...) (rate(part[window])) or 0 * whole) / sum by (...) (rate(whole[window]))`,
    or without the `or 0 * whole` that makes a part with no series a share of 0, and
    dividing by `(whole > 0)` or by `whole` (a share of nothing is NaN, or no result)."""
    part = _aggregated(spec, _part_of(without_brackets(node.lhs)))
    whole = _aggregated(spec, _unguarded(without_brackets(node.rhs)))
    if part is None or whole is None:
        return None
    return Query(
        part.metric, QueryFunction.RATIO, "sum", part.window, part.by, part.where, whole.where
    )


def _unguarded(node: Any) -> Any:
    """`whole` of `whole > 0`; any other node as it is."""
    if (
        _kind(node) == "BinaryExpr"
        and str(node.op).strip() == ">"
        and node.modifier is None
        and _kind(node.rhs) == "NumberLiteral"
        and node.rhs.val == 0
    ):
        return without_brackets(node.lhs)
    return node


def _grouping(node: Any) -> tuple[str, tuple[str, ...], Any] | None:
    """(aggregation, by labels, what is aggregated) of `agg [by (...)] (inner)`."""
    if _kind(node) != "AggregateExpr" or node.param is not None:
        return None
    aggregation = str(node.op).strip()
    modifier = node.modifier
    if aggregation not in _AGGREGATIONS:
        return None
    if modifier is not None and not str(modifier.type).endswith("By"):
        return None
    by = tuple(modifier.labels) if modifier is not None else ()
    return aggregation, by, node.expr


def _range_call(node: Any) -> tuple[QueryFunction, str, tuple[Matcher, ...], str] | None:
    if _kind(node) != "Call" or node.func.name not in _RANGE_FUNCTIONS or len(node.args) != 1:
        return None
    (matrix,) = node.args
    if _kind(matrix) != "MatrixSelector":
        return None
    selected = _selector(matrix.vector_selector)
    if selected is None:
        return None
    name, where = selected
    return _RANGE_FUNCTIONS[node.func.name], name, where, format_duration(matrix.range)


def _selector(node: Any) -> tuple[str, tuple[Matcher, ...]] | None:
    """The series name and its matchers as a structured `where`: `=` for one value, `=~`
    for alternatives (compiling tells whether they were literal)."""
    if _kind(node) != "VectorSelector" or not node.name or node.offset or node.at:
        return None
    where = []
    for matcher in node.matchers.matchers:
        op = str(matcher.op)
        if op.endswith(".Equal"):
            where.append(Matcher(matcher.name, (matcher.value,)))
        elif op.endswith(".Re"):
            where.append(Matcher(matcher.name, tuple(matcher.value.split("|"))))
        else:
            return None
    if node.matchers.or_matchers:
        return None
    return node.name, tuple(where)


def _metric(spec: Spec, name: str, histogram_suffix: str | None) -> Metric | None:
    """The declared metric `name` is the series of (a histogram's or a summary's
    `_count` under a range function)."""
    metric = spec.metric(name)
    if metric is not None or histogram_suffix is None:
        return metric
    stem = spec.metric(name.removesuffix(histogram_suffix))
    counted = (MetricType.HISTOGRAM, MetricType.SUMMARY)
    if stem is not None and name.endswith(histogram_suffix) and stem.type in counted:
        return stem
    return None


def _problems(spec: Spec, query: Query) -> bool:
    return any(True for _ in check_query(spec, query, ()))


def _compiles_to(spec: Spec, query: Query, node: Any) -> bool:
    """Whether `query` compiles to the tree `node`. Brackets do not count: they only
    shape the tree, which is compared (`sum(x) * 60` is the tree of `(sum(x)) * 60`).
    A ratio may leave out `or 0 * whole`: the tests feed a part series all the same. It
    may divide by `(whole > 0)`, as a recorded ratio does."""
    metric = spec.metric(query.metric)
    assert metric is not None
    written = _shape(node)
    for recorded in (False, True):
        compiled = _shape(parse(compile_query(query, metric, recorded=recorded)))
        if written in (compiled, _without_zero_part(compiled)):
            return True
    return False


def _part_of(node: Any) -> Any:
    """`part` of `part or 0 * whole`; any other node as it is."""
    if _kind(node) == "BinaryExpr" and str(node.op).strip() == "or":
        zero_times = without_brackets(node.rhs)
        if _kind(zero_times) == "BinaryExpr" and str(zero_times.op).strip() == "*":
            return without_brackets(node.lhs)
    return node


def _without_zero_part(shape: Any) -> Any:
    """The shape of a compiled ratio without its `or 0 * whole`, wherever it stands."""
    if not isinstance(shape, tuple):
        return shape
    if shape[:2] == ("BinaryExpr", "or") and shape[4][:2] == ("BinaryExpr", "*"):
        return _without_zero_part(shape[3])
    return tuple(_without_zero_part(part) for part in shape)


def _shape(node: Any) -> Any:
    """The tree without its brackets, in nested tuples; the labels of a grouping in
    their sorted order, which does not change what it means."""
    kind = _kind(node)
    if kind == "ParenExpr":
        return _shape(node.expr)
    if kind == "BinaryExpr":
        modifier = str(node.modifier) if node.modifier is not None else ""
        return (kind, str(node.op), modifier, _shape(node.lhs), _shape(node.rhs))
    if kind == "AggregateExpr":  # `by (tenant, le)` groups as `by (le, tenant)` does
        param = _shape(node.param) if node.param is not None else None
        modifier = node.modifier
        grouping = (str(modifier.type), tuple(sorted(modifier.labels))) if modifier else None
        return (kind, str(node.op), grouping, param, _shape(node.expr))
    if kind == "Call":
        return (kind, node.func.name, tuple(_shape(arg) for arg in node.args))
    if kind == "UnaryExpr":
        return (kind, _shape(node.expr))
    return (kind, str(node))


def _kind(node: Any) -> str:
    return type(node).__name__
