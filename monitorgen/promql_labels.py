"""Which labels the series of a PromQL result carry, found from the parse tree (or,
for a text monitorgen wrote, from the tree it wrote it from: `promql.emit`).

An alert's `$labels.x` is empty when the expression drops `x` (a `sum by (a)`
keeps only `a`). The walk follows Prometheus' rules for aggregations, functions
and vector matching; a selector of an unknown series makes the result "open"
(any label may be there), so no finding is ever a guess.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from monitorgen.immutable import immutable
from monitorgen.promql import (
    LabelSource,
    children,
    is_filtering_comparison,
    is_scalar,
    parse,
    written,
)

#: Known labels of a stored series name, or None when the series is not known.
LabelLookup = Callable[[str], frozenset[str] | None]

_NO_LABEL_FUNCTIONS = frozenset({"vector", "time", "pi", "scalar"})
_ADDS_LABEL_FUNCTIONS = frozenset({"label_replace", "label_join"})
_KEEPS_SERIES_AGGREGATIONS = frozenset({"topk", "bottomk", "limitk", "limit_ratio"})


@immutable
class OutputLabels:
    """Labels a result's series may carry; `open` means others may be there too."""

    names: frozenset[str]
    open: bool = False

    def may_have(self, label: str) -> bool:
        return self.open or label in self.names

    def keep(self, labels: frozenset[str]) -> OutputLabels:
        return OutputLabels(labels if self.open else self.names & labels)

    def drop(self, labels: frozenset[str]) -> OutputLabels:
        return OutputLabels(self.names - labels, self.open)

    def add(self, labels: frozenset[str]) -> OutputLabels:
        return OutputLabels(self.names | labels, self.open)


NO_LABELS = OutputLabels(frozenset())


def output_labels(expr: str, lookup: LabelLookup) -> OutputLabels:
    """The labels of `expr`'s result series; raises PromQLError when it does not parse.
    A text monitorgen wrote is answered from its shape (`promql.emit`), unparsed."""
    tree = written(expr)
    if tree is None:
        return parsed_output_labels(expr, lookup)
    return _union([_source_labels(source, lookup) for source in tree.label_sources()])


@immutable
class MissingGrouping:
    """A `by` label of an aggregation that the series it aggregates do not carry."""

    operator: str
    label: str
    carried: frozenset[str]


def groupings_without_labels(expr: str, lookup: LabelLookup) -> list[MissingGrouping]:
    """Each `by` label whose aggregation's input cannot carry it (an empty label in the
    result, and one group where several were meant); none where the input is open."""
    found: list[MissingGrouping] = []
    stack = [parse(expr)]
    while stack:
        node = stack.pop()
        stack.extend(children(node))
        modifier = getattr(node, "modifier", None)
        if _kind(node) != "AggregateExpr" or modifier is None:
            continue
        if str(modifier.type).endswith("Without"):
            continue
        inner = _labels(node.expr, lookup)
        if inner.open:
            continue
        operator = str(node.op).strip()
        for label in modifier.labels:
            if label not in inner.names:
                found.append(MissingGrouping(operator, label, inner.names))
    return found


def parsed_output_labels(expr: str, lookup: LabelLookup) -> OutputLabels:
    """`output_labels` from the parse tree, whoever wrote the text."""
    return _labels(parse(expr), lookup)


def _source_labels(source: LabelSource, lookup: LabelLookup) -> OutputLabels:
    if source.series is None:
        labels = OutputLabels(source.matched)
    else:
        known = lookup(source.series)
        labels = (
            OutputLabels(source.matched, open=True)
            if known is None
            else OutputLabels(known | source.matched)
        )
    for keep, names in source.steps:
        labels = labels.keep(names) if keep else labels.drop(names)
    return labels


def _union(branches: list[OutputLabels]) -> OutputLabels:
    """The labels of `a or b`: either branch's series may be in the result."""
    if len(branches) == 1:
        return branches[0]
    names = frozenset().union(*(labels.names for labels in branches))
    return OutputLabels(names, any(labels.open for labels in branches))


def _kind(node: Any) -> str:
    return type(node).__name__


def _labels(node: Any, lookup: LabelLookup) -> OutputLabels:
    kind = _kind(node)
    if kind in ("ParenExpr", "UnaryExpr", "SubqueryExpr"):
        return _labels(node.expr, lookup)
    if kind == "MatrixSelector":
        return _labels(node.vector_selector, lookup)
    if kind == "VectorSelector":
        return _selector(node, lookup)
    if kind == "AggregateExpr":
        return _aggregate(node, lookup)
    if kind == "Call":
        return _call(node, lookup)
    if kind == "BinaryExpr":
        return _binary(node, lookup)
    return NO_LABELS


def _selector(node: Any, lookup: LabelLookup) -> OutputLabels:
    matched = frozenset(m.name for m in node.matchers.matchers if m.name != "__name__")
    known = lookup(node.name) if node.name else None
    if known is None:
        return OutputLabels(matched, open=True)
    return OutputLabels(known | matched)


def _aggregate(node: Any, lookup: LabelLookup) -> OutputLabels:
    inner = _labels(node.expr, lookup)
    op = str(node.op).strip()
    if op in _KEEPS_SERIES_AGGREGATIONS:
        return inner
    modifier = node.modifier
    grouping = frozenset(modifier.labels) if modifier is not None else frozenset()
    if modifier is not None and str(modifier.type).endswith("Without"):
        result = inner.drop(grouping)
    else:
        result = inner.keep(grouping)
    if op == "count_values" and _kind(node.param) == "StringLiteral":
        result = result.add(frozenset({node.param.val}))
    return result


def _call(node: Any, lookup: LabelLookup) -> OutputLabels:
    name = node.func.name
    args = list(node.args)
    if name in ("absent", "absent_over_time"):
        return _equality_matchers(args[0]) if args else NO_LABELS
    if name in _NO_LABEL_FUNCTIONS:
        return NO_LABELS
    if name == "histogram_quantile" and len(args) == 2:
        return _labels(args[1], lookup).drop(frozenset({"le"}))
    vectors = [a for a in args if _kind(a) not in ("NumberLiteral", "StringLiteral")]
    result = _labels(vectors[0], lookup) if vectors else NO_LABELS
    if name in _ADDS_LABEL_FUNCTIONS and len(args) > 1 and _kind(args[1]) == "StringLiteral":
        result = result.add(frozenset({args[1].val}))
    return result


def _equality_matchers(node: Any) -> OutputLabels:
    while _kind(node) in ("ParenExpr", "MatrixSelector"):
        node = node.expr if _kind(node) == "ParenExpr" else node.vector_selector
    if _kind(node) != "VectorSelector":
        return NO_LABELS
    names = frozenset(
        m.name
        for m in node.matchers.matchers
        if str(m.op).endswith("Equal") and not str(m.op).endswith("NotEqual")
    )
    return OutputLabels(names - {"__name__"})


def _binary(node: Any, lookup: LabelLookup) -> OutputLabels:
    if is_scalar(node.lhs):
        return _labels(node.rhs, lookup)
    if is_scalar(node.rhs):
        return _labels(node.lhs, lookup)
    lhs, rhs = _labels(node.lhs, lookup), _labels(node.rhs, lookup)
    op = str(node.op).strip()
    if op in ("and", "unless"):
        return lhs
    if op == "or":
        return OutputLabels(lhs.names | rhs.names, lhs.open or rhs.open)
    modifier = node.modifier
    matching = modifier.matching if modifier is not None else None
    card = str(modifier.card) if modifier is not None else "OneToOne"
    extra = frozenset(modifier.group_labels or ()) if modifier is not None else frozenset()
    if card.endswith("ManyToOne"):
        return lhs.add(extra)
    if card.endswith("OneToMany"):
        return rhs.add(extra)
    if matching is None or not matching.labels:
        return lhs
    labels = frozenset(matching.labels)
    return lhs.keep(labels) if str(matching.type).endswith("Include") else lhs.drop(labels)


def unguarded_divisions(expr: str) -> list[str]:
    """Denominators that can be 0 (they rate or count something) and are not filtered
    by a comparison, so the quotient is NaN or Inf when nothing happens."""
    found: list[str] = []
    stack = [parse(expr)]
    while stack:
        node = stack.pop()
        if _kind(node) == "BinaryExpr" and str(node.op).strip() == "/":
            denominator = node.rhs
            if not is_scalar(denominator) and not is_filtering_comparison(denominator):
                found.append(str(denominator))
        stack.extend(children(node))
    return found


def always_compares(expr: str) -> bool:
    """Every branch of the expression filters by a comparison or tests absence:
    `(a > 1 and b > 1) or absent(c)`."""
    tree = written(expr)
    return tree.always_compares() if tree is not None else parsed_always_compares(expr)


def parsed_always_compares(expr: str) -> bool:
    """`always_compares` from the parse tree, whoever wrote the text."""
    return _compares(parse(expr))


def _compares(node: Any) -> bool:
    kind = _kind(node)
    if kind == "ParenExpr":
        return _compares(node.expr)
    if kind == "Call":
        return bool(node.func.name in ("absent", "absent_over_time"))
    op = str(getattr(node, "op", "")).strip()
    if kind == "BinaryExpr" and op == "or":
        return _compares(node.lhs) and _compares(node.rhs)
    if kind == "BinaryExpr" and op in ("and", "unless"):
        return _compares(node.lhs)
    return is_filtering_comparison(node)
