"""PromQL monitorgen writes is checked without parsing it: its facts come from the tree
it was written from (`promql.emit`). These tests prove that the tree says what the
parser says, that every text described parses, and that the checks parse no more than
the spec's own PromQL."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import promql_parser
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.synthetic import generate
from monitorgen import pipeline, promql
from monitorgen.lint import rules as rule_lint
from monitorgen.lint import run_lint
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
    PromQL,
    absent,
    aggregation,
    binary,
    compile_query,
    emit,
    expand_grafana,
    format_number,
    histogram_quantile,
    number,
    parenthesized,
    parse,
    parsed_facts,
    range_function,
    selector_expr,
    vector,
    with_threshold,
    written,
    written_facts,
)
from monitorgen.promql_labels import (
    LabelLookup,
    always_compares,
    output_labels,
    parsed_always_compares,
    parsed_output_labels,
)
from monitorgen.rule_set import all_rules, rule_groups
from monitorgen.semantic import check_spec
from monitorgen.semantic.promql_usage import expressions

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted(
    [
        *ROOT.glob("specs/*.yaml"),
        *ROOT.glob("tests/specs/*.yaml"),
        *ROOT.glob("tests/*/specs/*.yaml"),
    ]
)


def _no_series_known(name: str) -> frozenset[str] | None:
    return None


def _some_series_known(name: str) -> frozenset[str] | None:
    """Known series with labels that queries keep, drop and match; others unknown."""
    return frozenset({"job", "instance", "model", "le", "code"}) if len(name) % 2 else None


def assert_described_as_parsed(text: str, lookups: tuple[LabelLookup, ...] = ()) -> None:
    """The text parses, and its tree gives the parser's facts, labels and comparisons."""
    tree = written(text)
    assert tree is not None, text
    parse(text)  # raises PromQLError: the compiler wrote PromQL that does not parse
    assert written_facts(tree) == parsed_facts(text), text
    for lookup in (_no_series_known, _some_series_known, *lookups):
        assert output_labels(text, lookup) == parsed_output_labels(text, lookup), text
    assert always_compares(text) == parsed_always_compares(text), text


# ------------------------------------------------------------ every text of real specs


def _specs(path: Path) -> Iterator[Spec]:
    for compiled in pipeline.compile_spec(path):
        assert compiled.spec is not None, compiled.diagnostics
        yield compiled.spec


def _synthetic_100() -> Path:
    return generate(100).write(Path(tempfile.mkdtemp(prefix="monitorgen-written-")))


def _written_texts(spec: Spec) -> Iterator[tuple[str, str]]:
    """(what, text) of each PromQL text monitorgen writes for a spec: structured
    queries as the checks see them, and the rules it generates (retention aside)."""
    for expr in expressions(spec):
        if expr.structured:
            yield f"structured query at {expr.path}", expr.text
    for group, rule in all_rules(spec):
        if not rule.written_by_user and ".retention." not in group.name:
            yield f"rule {rule.name} of {group.name}", rule.expr


def _check_every_written_text(spec: Spec) -> int:
    lookup = rule_lint.label_lookup(spec, rule_lint.Rules(rule_groups(spec)))
    count = 0
    for what, text in _written_texts(spec):
        assert written(text) is not None, f"{what} is not described: {text}"
        assert_described_as_parsed(text, (lookup,))
        count += 1
    return count


@pytest.mark.parametrize("path", SPECS, ids=[p.name for p in SPECS])
def test_every_text_a_spec_writes_is_described_as_the_parser_reads_it(path: Path) -> None:
    checked = sum(_check_every_written_text(spec) for spec in _specs(path))
    if path.parent.name == "specs" and path.parent.parent == ROOT:
        assert checked > 50  # the flagship's alerts, panels and rules


def test_every_text_of_the_synthetic_spec_is_described_as_the_parser_reads_it() -> None:
    (spec,) = _specs(_synthetic_100())
    assert _check_every_written_text(spec) > 1000


def test_the_checks_parse_only_the_specs_own_promql(monkeypatch: pytest.MonkeyPatch) -> None:
    (spec,) = _specs(_synthetic_100())
    promql.parse.cache_clear()
    promql.inspect.cache_clear()
    parsed: list[str] = []
    parser = promql_parser.parse

    def counted(text: str) -> object:
        parsed.append(text)
        return parser(text)

    monkeypatch.setattr(promql_parser, "parse", counted)
    check_spec(spec)
    run_lint(spec)
    own = {e.text for e in expressions(spec) if not e.structured}
    own |= {rule.expr for _group, rule in all_rules(spec) if rule.written_by_user}
    assert parsed, "the spec's own PromQL is parsed"
    assert set(parsed) <= own
    assert len(parsed) == len(set(parsed))


# ------------------------------------------------------------ generated structured queries

_KEYWORDS = ("on", "bool", "Inf", "nan", "by", "without", "sum", "offset", "atan2", "le")
_identifiers = st.from_regex(r"[a-z_][a-z0-9_]{0,6}", fullmatch=True)
_names = st.one_of(
    _identifiers,
    _identifiers,
    st.sampled_from((*_KEYWORDS, "__name__", "group_left", "rate", "x:y")),
)
_plain_names = st.from_regex(r"[a-z][a-z0-9]{0,5}_[a-z0-9_]{0,4}", fullmatch=True).filter(
    lambda name: name not in promql._KEYWORDS
)
_label_values = st.one_of(
    st.text(max_size=8),
    st.sampled_from(('a"b', "a\\b", "a\nb", "\\", '"', "$x", "${x}", "[$x]", "$__range", "")),
)
_plain_windows = st.sampled_from(("5m", "1h30m", "30s", "1d", "2w", "1ms"))
_windows = st.one_of(
    st.sampled_from(("5m", "1h30m", "30s", "1d", "2w", "1ms", "0s", "5m1h", "1h1h")),
    st.builds(lambda n, unit: f"{n}{unit}", st.integers(0, 10**6), st.sampled_from("smhdwy")),
)
_numbers = st.one_of(
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from((0.95, 1e-06, 0.1 + 0.2, -0.5, 3600)),
)


@st.composite
def _matchers(draw: st.DrawFn, names: st.SearchStrategy[str]) -> tuple[Matcher, ...]:
    labels = draw(st.lists(names, max_size=3, unique=True))
    found = []
    for label in labels:
        values = draw(st.lists(_label_values, min_size=1, max_size=3))
        found.append(Matcher(label, tuple(values)))
    return tuple(found)


@st.composite
def _queries(
    draw: st.DrawFn,
    names: st.SearchStrategy[str],
    windows: st.SearchStrategy[str] = _windows,
    aggregations: tuple[str, ...] = ("sum", "avg", "min", "max", "count", "topk"),
) -> tuple[Query, Metric]:
    metric = Metric(draw(names), draw(st.sampled_from(MetricType)), "")
    query = Query(
        metric=metric.name,
        function=draw(st.sampled_from(QueryFunction)),
        aggregation=draw(st.sampled_from(aggregations)),
        window=draw(windows),
        by=tuple(draw(st.lists(names, max_size=3, unique=True))),
        where=draw(_matchers(names)),
        total_where=draw(_matchers(names)),
        quantile=draw(st.floats(0.001, 0.999)),
        scale=draw(st.one_of(st.none(), st.floats(1e-9, 1e12), st.sampled_from((60, 3600.0)))),
    )
    return query, metric


_thresholds = st.builds(
    lambda comparison, value: Threshold(comparison, float(value), format_number(value)),
    st.sampled_from(Comparison),
    _numbers,
)


def _check_if_described(text: str) -> bool:
    if written(text) is None:
        return False
    assert_described_as_parsed(text)
    return True


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_queries(_names), _thresholds)
def test_a_described_query_and_its_threshold_read_as_the_parser_reads_them(
    query_metric: tuple[Query, Metric], threshold: Threshold
) -> None:
    query, metric = query_metric
    text = compile_query(query, metric)
    if _check_if_described(text):
        _check_if_described(with_threshold(text, threshold))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    _queries(_names),
    st.one_of(st.none(), st.just("$__rate_interval"), st.just("$__interval"), _windows),
    st.lists(_names, max_size=2, unique=True),
)
def test_a_described_grafana_query_reads_as_the_parser_reads_it_expanded(
    query_metric: tuple[Query, Metric], window: str | None, variables: list[str]
) -> None:
    query, metric = query_metric
    extra = [f'{v}=~"${v}"' for v in variables]
    text = compile_query(query, metric, window=window, extra=extra)
    _check_if_described(expand_grafana(text))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    _queries(_plain_names, _plain_windows, ("sum", "avg", "min", "max", "count")),
    st.sampled_from(("5m", "1h30m", "$__rate_interval")),
    st.lists(_plain_names, max_size=2, unique=True),
    _thresholds,
)
def test_a_query_of_plain_names_and_values_is_always_described(
    query_metric: tuple[Query, Metric], window: str, variables: list[str], threshold: Threshold
) -> None:
    """Names that are no keyword, valid windows and values without `$`: the checks
    never parse such a query."""
    query, metric = query_metric
    text = compile_query(query, metric)
    assert _check_if_described(text)
    assert _check_if_described(with_threshold(text, threshold))
    extra = [f'{v}=~"${v}"' for v in variables]
    grafana = compile_query(query, metric, window=window, extra=extra)
    if not any("$" in v for m in (*query.where, *query.total_where) for v in m.values):
        assert _check_if_described(expand_grafana(grafana))


# ------------------------------------------------------------ trees of every builder

_tree_names = st.one_of(_identifiers, _identifiers, _identifiers, _names)
_selectors = st.builds(selector_expr, _tree_names, _matchers(_tree_names))
_leaves = st.one_of(
    _selectors,
    _selectors,
    st.builds(lambda value: number(format_number(value)), _numbers),
    st.builds(
        range_function,
        st.sampled_from(("rate", "increase", "irate", "avg_over_time", "abs")),
        _selectors,
        _windows,
    ),
    st.builds(absent, _selectors),
    st.builds(lambda value: vector(format_number(value)), _numbers),
)


def _operation(lhs: PromQL, op: str, rhs: PromQL) -> PromQL:
    """Operands in parentheses, so that the text parses as this tree whatever the
    operators' precedence."""
    return binary(parenthesized(lhs), op, parenthesized(rhs))


def _branches(children: st.SearchStrategy[PromQL]) -> st.SearchStrategy[PromQL]:
    return st.one_of(
        st.builds(
            aggregation,
            st.sampled_from(("sum", "avg", "max", "count", "topk")),
            st.lists(_tree_names, max_size=2, unique=True),
            children,
        ),
        st.builds(
            _operation,
            children,
            st.sampled_from(("+", "-", "*", "/", ">", "<=", "==", "and", "or", "unless")),
            children,
        ),
        st.builds(_operation, children, st.sampled_from(("or", "and", ">")), children),
        st.builds(parenthesized, children),
        st.builds(
            lambda quantile, buckets: histogram_quantile(format_number(quantile), buckets),
            st.floats(0.01, 0.99),
            children,
        ),
    )


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.recursive(_leaves, _branches, max_leaves=6))
def test_a_described_tree_of_any_builders_reads_as_the_parser_reads_it(tree: PromQL) -> None:
    _check_if_described(emit(tree))


@pytest.mark.parametrize(
    "tree",
    [
        histogram_quantile("0.9", parenthesized(selector_expr("x_bucket"))),
        binary(selector_expr("a", [Matcher("x", ("1",))]), "or", selector_expr("b")),
        binary(
            parenthesized(binary(selector_expr("a"), ">", number("1"))),
            "or",
            absent(selector_expr("b", [Matcher("y", ("1", "2")), Matcher("z", ("3",))])),
        ),
    ],
    ids=["parenthesized-argument", "or", "comparison-or-absent"],
)
def test_trees_the_random_ones_seldom_make_read_as_the_parser_reads_them(tree: PromQL) -> None:
    _check_if_described(emit(tree))
    assert written(tree.text) is tree


def test_a_name_the_parser_reads_as_a_keyword_is_left_to_the_parser() -> None:
    query = Query("on", QueryFunction.RATE)
    text = compile_query(query, Metric("on", MetricType.COUNTER, ""))
    assert written(text) is None
    with pytest.raises(promql.PromQLError):
        promql.inspect(text)
