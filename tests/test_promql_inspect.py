"""`promql.inspect`: the facts the checks read from an expression, in the order its
selectors appear, with the function and range each selector is under."""

from __future__ import annotations

from datetime import timedelta

import pytest

from monitorgen.promql import MOST_OPERATORS, ExprFacts, SelectorUse, inspect
from monitorgen.promql_labels import groupings_without_labels, unguarded_divisions

FIVE_MINUTES = timedelta(minutes=5)


def _use(
    name: str,
    labels: tuple[tuple[str, str, str], ...] = (),
    range_: timedelta | None = None,
    function: str | None = None,
) -> SelectorUse:
    counter_safe = function in ("rate", "increase", "irate", "resets")
    return SelectorUse(name, labels, range_, function, counter_safe)


def test_selectors_functions_aggregations_and_a_top_level_division() -> None:
    facts = inspect('sum by (job) (rate(x{a="1"}[5m])) / sum(rate(y[5m]))')
    assert facts == ExprFacts(
        selectors=(
            _use("x", (("a", "=", "1"),), FIVE_MINUTES, "rate"),
            _use("y", (), FIVE_MINUTES, "rate"),
        ),
        functions=("rate", "rate"),
        aggregations=(("sum", ("job",)), ("sum", ())),
        top_is_comparison=False,
        divisions=1,
        division_inside_aggregation=False,
        unguarded_divisions=1,
    )
    assert facts.metric_names == ("x", "y")


@pytest.mark.parametrize(
    "expr",
    [
        "sum(rate(a[5m])) / sum(rate(b[5m]))",
        "sum(rate(a[5m])) / (sum(rate(b[5m])) > 0)",
        "sum(rate(a[5m])) / (sum(rate(b[5m])) > bool 0)",
        "a / 2 / (3 * scalar(b)) / day_of_month()",
        "(a / b) / ((c / d) >= 1) / -(e / (f < 1))",
        "sum(a / b) / count(c)",
        "rate(a[5m])",
    ],
)
def test_unguarded_divisions_are_counted_in_the_one_walk(expr: str) -> None:
    assert inspect(expr).unguarded_divisions == len(unguarded_divisions(expr))


def test_a_division_inside_an_aggregation() -> None:
    facts = inspect("sum(rate(a[5m]) / rate(b[5m]))")
    assert (facts.divisions, facts.division_inside_aggregation) == (1, True)
    assert not inspect("sum(a) / sum(b)").division_inside_aggregation


@pytest.mark.parametrize(
    ("expr", "function", "range_"),
    [
        ("max_over_time(x[1h])", "max_over_time", timedelta(hours=1)),
        # parentheses, a matrix and a subquery leave the selector the call's argument
        ("abs((x))", "abs", None),
        ("increase((x[5m]))", "increase", FIVE_MINUTES),
        ("max_over_time((rate(x[5m]))[1h:5m])", "rate", FIVE_MINUTES),
        # anything else between them does not
        ("abs(-(x))", None, None),
        ("quantile(0.9, x)", None, None),
        ("abs(sum(x))", None, None),
        ("x + rate(y[5m])", None, None),
    ],
)
def test_the_function_and_range_a_selector_is_under(
    expr: str, function: str | None, range_: timedelta | None
) -> None:
    first = inspect(expr).selectors[0]
    assert (first.name, first.function, first.range) == ("x", function, range_)
    assert first.in_counter_function is (function in ("rate", "increase"))


def test_selectors_in_the_order_they_are_written() -> None:
    facts = inspect("z + b * on() topk(3, c) - max_over_time(a[5m:] offset 1m)")
    assert [s.name for s in facts.selectors] == ["z", "b", "c", "a"]
    assert facts.metric_names == ("a", "b", "c", "z")


def test_matcher_operators() -> None:
    (use,) = inspect('x{a!="1",b=~"c.*",d!~"e"}').selectors
    assert use.labels == (("a", "!=", "1"), ("b", "=~", "c.*"), ("d", "!~", "e"))


@pytest.mark.parametrize(
    ("expr", "compares"),
    [("x > 1", True), ("((x > 1))", True), ("x > bool 1", False), ("(x > 1) + 1", False)],
)
def test_top_level_comparison(expr: str, compares: bool) -> None:
    assert inspect(expr).top_is_comparison is compares


def test_deep_nesting_does_not_reach_the_recursion_limit() -> None:
    depth = MOST_OPERATORS - 1  # the deepest the parser is given (with rate's bracket)
    (use,) = inspect("(" * depth + "rate(x[5m])" + ")" * depth).selectors
    assert (use.function, use.range) == ("rate", FIVE_MINUTES)


@pytest.mark.parametrize(
    ("expr", "missing"),
    [
        ("sum by (region) (rate(a_total[5m]))", [("sum", "region")]),
        ("sum by (code, region) (rate(a_total[5m]))", [("sum", "region")]),
        ("max by (code) (sum by (code) (rate(a_total[5m])))", []),
        ("max by (route) (sum by (code) (rate(a_total[5m])))", [("max", "route")]),
        ("sum by (instance, le) (rate(a_total[5m]))", [("sum", "le")]),
        ("sum by (region) (unknown_series)", []),
        ("sum without (region) (rate(a_total[5m]))", []),
        ("sum by (dst) (label_replace(a_total, 'dst', '$1', 'code', '(.*)'))", []),
    ],
)
def test_a_grouping_by_a_label_the_input_lacks_is_found(
    expr: str, missing: list[tuple[str, str]]
) -> None:
    def lookup(name: str) -> frozenset[str] | None:
        return frozenset({"code", "job", "instance"}) if name == "a_total" else None

    found = groupings_without_labels(expr, lookup)
    assert [(f.operator, f.label) for f in found] == missing
