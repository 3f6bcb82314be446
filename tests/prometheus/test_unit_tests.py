"""The generated `rules.test.yml`: what each test group sets up and expects."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Hashable
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from benchmarks.synthetic import generate
from monitorgen import slo_tests
from monitorgen.gotemplate import TemplateError, parse_template
from monitorgen.gotemplate import render as expand
from monitorgen.model import Alert, Spec
from monitorgen.pipeline import compile_spec
from monitorgen.promql import seconds
from monitorgen.rule_inputs import (
    Late,
    NotDerivable,
    Scenario,
    Series,
    Timeline,
    Turn,
    duration_seconds,
    ratio_scenarios,
    timeline,
)
from monitorgen.rule_set import Rule
from monitorgen.slo import error_budget
from monitorgen.structured_form import counter_ratio_form
from monitorgen.targets import promtool_tests
from monitorgen.targets.promtool_tests import (
    TESTS_PATH,
    Condition,
    _knob_pair,
    duration_text,
    fires_at,
    first_firing,
    simulate,
    unit_test_groups,
)
from monitorgen.targets.promtool_tests import render as render_tests

from .helpers import SHAPES, SPEC_PATHS, load_spec, spec_from_text


def generated(spec_path: str) -> tuple[str, dict[str, Any]]:
    (artifact,) = render_tests(load_spec(spec_path))
    assert artifact.path == TESTS_PATH
    text = artifact.content.decode()
    return text, yaml.safe_load(text)


def groups_named(data: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    return [test for test in data["tests"] if test["name"].startswith(prefix)]


def test_every_threshold_alert_has_a_firing_and_a_silent_test() -> None:
    for spec_path in SPEC_PATHS:
        spec = load_spec(spec_path)
        text, data = generated(spec_path)
        for alert in spec.alerts:
            names = [t["name"] for t in groups_named(data, f"{alert.name} ")]
            if f"Not tested here: {alert.name}:" in text:
                assert names == []
                continue
            assert "fires when" in names[0] and "stays silent" in names[1]
            function = alert.query.function.value if alert.query is not None else ""
            # a gauge's window read by *_over_time: one more group tells the functions
            # apart, and for max and min one more feeds a run of values; a ratio's or a
            # quantile's (or a raw ratio of two counters'): one more group fills it with
            # late events
            two_counters = counter_ratio_form(spec, alert.expr) is not None
            shares = function in ("ratio", "quantile") or two_counters
            extremes = function in ("max_over_time", "min_over_time")
            extra = 2 if extremes else 1 if function.endswith("_time") or shares else 0
            assert len(names) == 2 + extra, names
            markers = (" fill its ",) if shares else ("the window's", "a run of values")
            assert all(any(m in name for m in markers) for name in names[2:]), names


def test_a_firing_test_checks_one_evaluation_before_for_has_passed() -> None:
    spec = load_spec("tests/specs/http_api.yaml")
    _, data = generated("tests/specs/http_api.yaml")
    (test,) = groups_named(data, "HttpTooManyInFlight fires")
    before, at = test["alert_rule_test"]
    assert seconds(at["eval_time"]) - seconds(before["eval_time"]) == seconds(
        spec.prometheus.evaluation_interval
    )
    assert before["exp_alerts"] == []
    # A constant gauge holds from the first evaluation: it fires exactly `for` later.
    assert at["eval_time"] == "2m"
    (alert,) = at["exp_alerts"]
    assert alert["exp_labels"] == {"service": "http_api", "severity": "warning", "team": "platform"}
    assert alert["exp_annotations"]["description"] == "201 requests are in flight."


def test_inputs_sit_just_beside_the_threshold() -> None:
    _, data = generated("specs/llm.yaml")
    (firing,) = groups_named(data, "QualityDegradation fires")
    (silent,) = groups_named(data, "QualityDegradation stays silent")
    # Averaged over two series (twice the value and 0, an exact mean): 1% under 0.8,
    # and exactly on it, where < and <= part.
    assert [s["values"] for s in firing["input_series"]] == ["1.598+0x41", "0+0x41"]
    assert [s["values"] for s in silent["input_series"]] == ["1.6+0x49", "0+0x49"]
    (labels,) = [a["exp_labels"] for a in firing["alert_rule_test"][-1]["exp_alerts"]]
    assert {"task_type", "scenario"} <= set(labels)


def test_raw_promql_that_cannot_be_driven_is_listed_not_guessed() -> None:
    text, data = generated("tests/specs/queue_worker.yaml")
    assert "# Not tested here: NoRecentSuccess: raw PromQL" in text
    assert groups_named(data, "NoRecentSuccess") == []
    # failed jobs over processed ones: a ratio of two counters, which is driven
    assert "# Not tested here: JobFailuresHigh" not in text
    assert len(groups_named(data, "JobFailuresHigh")) == 3


def test_a_simple_raw_comparison_is_driven_like_a_structured_one() -> None:
    _, data = generated("tests/specs/http_api.yaml")
    (firing,) = groups_named(data, "HttpTargetDown fires")
    (series,) = firing["input_series"]
    assert series["series"] == 'up{instance="localhost:8080",job="orders-api"}'
    assert series["values"].startswith("0+0x")


def test_slo_tests_cover_fast_and_slow_burns_no_errors_no_traffic_and_absence() -> None:
    _, data = generated("tests/specs/http_api.yaml")
    names = [t["name"] for t in groups_named(data, "SLO availability:")]
    assert names == [
        "SLO availability: a fast burn pages",
        "SLO availability: a slow burn opens a ticket and does not page",
        "SLO availability: errors just under the page threshold opens a ticket",
        "SLO availability: errors just over the page threshold pages",
        "SLO availability: errors just under the ticket threshold alerts nothing",
        "SLO availability: errors just over the ticket threshold opens a ticket",
        "SLO availability: a 35m30s burst of errors pages while its 1h and 5m windows both "
        "burn past 14.4x",
        "SLO availability: traffic without errors records 0 and alerts nothing",
        "SLO availability: no traffic records nothing and alerts nothing",
        "SLO availability: a missing SLI raises HttpApiAvailabilitySliAbsent",
    ]
    fast, slow, *page_edge, under, over, _burst, no_errors, idle, absent = groups_named(
        data, "SLO availability:"
    )
    # 99.9%: the page tier's lowest threshold is its 6h/30m pair's 6x, 0.6%.
    assert [_error_share(group["input_series"]) for group in page_edge] == [
        pytest.approx(0.00594),
        pytest.approx(0.00606),
    ]
    assert [_tiers(group) for group in page_edge] == [["ticket"], ["page", "ticket"]]
    assert under["alert_rule_test"][0]["exp_alerts"] == []
    (ticket,) = over["alert_rule_test"][0]["exp_alerts"]
    assert ticket["exp_labels"]["slo_tier"] == "ticket"
    # 99.9%: the 3d/6h pair's 1x is the lowest threshold, 0.1%; 1% under and over it.
    shares = [_error_share(group["input_series"]) for group in (under, over)]
    assert shares == [pytest.approx(0.00099), pytest.approx(0.00101)]
    tiers = [a["exp_labels"]["slo_tier"] for a in fast["alert_rule_test"][0]["exp_alerts"]]
    assert sorted(tiers) == ["page", "ticket"]
    (ticket,) = slow["alert_rule_test"][0]["exp_alerts"]
    assert ticket["exp_labels"]["slo_tier"] == "ticket"
    assert no_errors["promql_expr_test"][0]["exp_samples"][0]["value"] == 0
    assert idle["promql_expr_test"][0]["exp_samples"] == []
    assert absent["input_series"] == []
    assert absent["alert_rule_test"][-1]["eval_time"] == duration_text(600)


@pytest.mark.parametrize(
    ("spec_path", "slo"),
    [("tests/specs/http_api.yaml", "availability"), ("specs/llm.yaml", "latency")],
)
def test_a_burst_of_errors_pages_once_the_long_window_is_half_full_until_the_short_empties(
    spec_path: str, slo: str
) -> None:
    """Clean traffic for 3h, then errors at about twice the 14.4x threshold for some
    35m, then clean again: the 1h/5m pair pages from about 30m into the burst until about
    half of the 5m window is clean, and not one evaluation before or after, while the
    1h window still burns; the 6h/30m pair never reaches its 6x."""
    spec = load_spec(spec_path)
    _, data = generated(spec_path)
    (burst,) = [t for t in groups_named(data, f"SLO {slo}: a ") if "burst of errors" in t["name"]]
    evaluation = int(seconds(spec.prometheus.evaluation_interval))
    assert burst["interval"] == duration_text(evaluation)  # 5 samples in the 5m window
    changing = [s["values"].split(" ") for s in burst["input_series"] if " " in s["values"]]
    assert changing  # the errors (or the requests within the bound) turn twice
    samples_before = {int(runs[0].rsplit("x", 1)[1]) for runs in changing}
    samples_during = {int(runs[1].rsplit("x", 1)[1]) + 1 for runs in changing}
    begins, length = samples_before.pop() * evaluation, samples_during.pop() * evaluation
    assert not samples_before | samples_during  # every changing series turns together
    assert begins == 3 * 3600 and 30 * 60 < length <= 36 * 60
    assert duration_text(length) in burst["name"]

    def paged(check: dict[str, Any]) -> bool:
        return any(a["exp_labels"].get("slo_tier") == "page" for a in check["exp_alerts"])

    before, first, last, after = burst["alert_rule_test"]
    times = [seconds(check["eval_time"]) for check in (before, first, last, after)]
    assert [paged(check) for check in (before, first, last, after)] == [False, True, True, False]
    assert times[1] - times[0] == times[3] - times[2] == evaluation
    assert 25 * 60 < times[1] - begins < 35 * 60  # the 1h window about half full
    assert 0 < times[3] - (begins + length) <= 5 * 60  # the 5m window about half clean
    values = [
        float(a["exp_annotations"]["description"].split("%")[0].rsplit(" ", 1)[-1]) / 100
        for check in (first, last)
        for a in check["exp_alerts"]
        if a["exp_labels"].get("slo_tier") == "page"
    ]
    threshold = 14.4 * float(error_budget(next(s for s in spec.slos if s.name == slo)))
    # The alert's value is the 1h ratio: just past the threshold, then further past it.
    assert values[0] == pytest.approx(threshold, rel=0.05) and values[1] > 1.1 * threshold


def test_no_burst_test_where_the_burst_would_need_more_errors_than_events(
    tmp_path: Path,
) -> None:
    """At 95%, 14.4x the budget is 72% of the events: twice that cannot fail."""
    spec = spec_from_text(
        tmp_path,
        "version: 1\nservice: lax\n"
        "metrics:\n  - {name: lax_requests_total, type: counter, help: R., labels: [code]}\n"
        "slos:\n  - name: avail\n    objective: 95\n    sli:\n      ratio:\n"
        '        errors: {metric: lax_requests_total, where: {code: "500"}}\n'
        "        total: {metric: lax_requests_total}\n",
    )
    data = yaml.safe_load(render_tests(spec)[0].content)
    names = [t["name"] for t in data["tests"]]
    assert "SLO avail: a fast burn pages" in names
    assert not [name for name in names if "burst" in name]


def _tiers(group: dict[str, Any]) -> list[str]:
    return sorted(a["exp_labels"]["slo_tier"] for a in group["alert_rule_test"][0]["exp_alerts"])


def _error_share(series: list[dict[str, str]]) -> float:
    """Errors per sample over all events per sample, of two growing counters."""
    per_sample = {s["series"]: float(s["values"].split("+")[1].split("x")[0]) for s in series}
    errors = sum(v for k, v in per_sample.items() if 'code="5' in k)
    return errors / sum(per_sample.values())


def test_the_queue_worker_slo_without_absent_alert_has_no_absent_test() -> None:
    _, data = generated("tests/specs/queue_worker.yaml")
    assert not [t for t in data["tests"] if "missing SLI" in t["name"]]
    (fast,) = groups_named(data, "SLO job_success: a fast burn")
    queues = {a["exp_labels"]["queue"] for a in fast["alert_rule_test"][0]["exp_alerts"]}
    assert queues == {"invoices"}


def _every_knob(
    top: int, value_of: Callable[[int], float | None], condition: Condition
) -> tuple[int, int | None] | None:
    """The closest firing/silent pair found by trying every knob value."""
    values = [(knob, value_of(knob)) for knob in range(top + 1)]
    firing = [k for k, v in values if condition.holds(v)]
    silent = [k for k, v in values if v is not None and not condition.holds(v)]
    if not firing:
        return None
    if not silent:
        return firing[0], None
    pairs = [(abs(f - s), f, s) for f in (firing[0], firing[-1]) for s in (silent[0], silent[-1])]
    _, fire, quiet = min(pairs)
    return fire, quiet


@given(
    steps=st.lists(st.integers(min_value=0, max_value=3), min_size=1, max_size=60),
    threshold=st.integers(min_value=-2, max_value=100),
    op=st.sampled_from([">", ">=", "<", "<=", "==", "!="]),
)
def test_the_knob_search_finds_the_pair_that_trying_every_value_finds(
    steps: list[int], threshold: int, op: str
) -> None:
    """Any non-decreasing expression, plateaus included: the binary search for ordered
    comparisons agrees with the exhaustive one it replaced."""
    values = list(itertools.accumulate(steps))
    condition = Condition(op, float(threshold))

    def value_of(knob: int) -> float:
        return float(values[knob])

    top = len(values) - 1
    assert _knob_pair(top, value_of, condition) == _every_knob(top, value_of, condition)


@given(
    holding=st.lists(st.booleans(), min_size=1, max_size=40),
    hold_steps=st.integers(min_value=0, max_value=8),
    keep_steps=st.integers(min_value=0, max_value=4),
)
def test_reading_backwards_and_the_first_firing_agree_with_the_simulation(
    holding: list[bool], hold_steps: int, keep_steps: int
) -> None:
    tl = Timeline(step=15, evaluation=30)
    rule = Rule(
        expr="x > 0",
        path=(),
        expr_path=(),
        alert="A",
        for_=duration_text(hold_steps * tl.evaluation),
        keep_firing_for=duration_text(keep_steps * tl.evaluation),
    )

    def value_at(at: int) -> float | None:
        return 1.0 if holding[at // tl.evaluation] else None

    scenario = Scenario([], value_at, {})
    condition = Condition(">", 0.0)
    horizon = (len(holding) - 1) * tl.evaluation
    *_, last = simulate(scenario, condition, rule, tl, horizon)
    assert fires_at(horizon, scenario, condition, rule, tl) is last.firing
    first = next((s for s in simulate(scenario, condition, rule, tl, horizon) if s.firing), None)
    assert first_firing(scenario, condition, rule, tl, horizon) == first


def test_alerts_that_share_a_search_get_what_each_would_get_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """500 alerts with a few dozen windows, thresholds and `for` durations: the
    searches and simulations remembered across alerts give every alert the groups it
    gets when each of them is worked out on its own."""
    (compiled, *_) = compile_spec(generate(100).write(tmp_path))
    assert compiled.spec is not None
    shared = unit_test_groups(compiled.spec)
    remembered: dict[Hashable, Any] = compiled.spec.derived("promtool_tests.remembered", dict)
    simulations = [key for key in remembered if isinstance(key, tuple) and key[0] == "first firing"]
    firing_groups = [test for test in shared[0] if " fires when " in test["name"]]
    assert len(simulations) < len(firing_groups)

    def every_time(spec: Spec, key: Hashable, compute: Callable[[], Any]) -> Any:
        return compute()

    monkeypatch.setattr(promtool_tests, "remembered", every_time)
    monkeypatch.setattr(slo_tests, "remembered", every_time)
    assert unit_test_groups(compiled.spec) == shared


def _expanded_in_full(template: str, value: float, labels: dict[str, str]) -> str | None:
    """What the template expands to by parsing it, None when it cannot be expanded."""
    try:
        return expand(parse_template(template), value, labels)
    except TemplateError:
        return None


@given(
    template=st.text(alphabet="ab {}$.|", max_size=12)
    | st.sampled_from(["warning", "", "}}", "{{ $value }}", "x {{ $labels.a }}"])
)
def test_a_template_without_actions_expands_to_its_text_as_parsing_it_would(
    template: str,
) -> None:
    labels = {"a": "1"}
    try:
        text: str | None = promtool_tests._expanded(template, 0.5, tuple(labels.items()))
    except NotDerivable:
        text = None
    assert text == _expanded_in_full(template, 0.5, labels)


@given(
    start=st.fractions(min_value=0, max_value=1000, max_denominator=64),
    step=st.fractions(min_value=0, max_value=1000, max_denominator=1024),
    index=st.integers(min_value=0, max_value=500),
)
def test_a_series_value_is_the_correctly_rounded_exact_value(
    start: Fraction, step: Fraction, index: int
) -> None:
    """The integer growth (with its shortcut for series starting at 0) gives the float
    nearest to the exact value, as Prometheus reads the written series."""
    series = Series("x", (), start=start, step_increase=step)
    assert series.value(index) == float(start + step * index)


def _expanded_notation(text: str) -> list[Fraction | None]:
    """promtool's series notation read back: `_xn` is n missing samples, `a+bxn` is
    the n + 1 values a, a+b, ..., a+nb."""
    values: list[Fraction | None] = []
    for run in text.split(" "):
        head, count = run.rsplit("x", 1)
        if head == "_":
            values.extend([None] * int(count))
            continue
        first, increase = head.split("+")
        values.extend(Fraction(first) + Fraction(increase) * i for i in range(int(count) + 1))
    return values


_INCREASES = st.fractions(min_value=0, max_value=1000, max_denominator=40)


@given(
    step=_INCREASES,
    turns=st.dictionaries(st.integers(min_value=1, max_value=40), _INCREASES, max_size=3),
    samples=st.integers(min_value=1, max_value=45),
    delay=st.integers(min_value=0, max_value=3),
)
def test_a_turned_series_is_written_as_it_is_worked_out(
    step: Fraction, turns: dict[int, Fraction], samples: int, delay: int
) -> None:
    """Runs of `step` per sample up to the first turn's sample, then of each turn's
    increase past its sample (turns past the end left out): the written values read
    back are the values the expected results are worked out from."""
    ordered = tuple(Turn(at, increase) for at, increase in sorted(turns.items()))
    series = Series("x", (), step_increase=step, turns=ordered, delay=delay)
    written = _expanded_notation(series.values(samples + delay))
    assert written[:delay] == [None] * delay
    exact, value, per = [], Fraction(0), step
    for index in range(samples + 1):
        exact.append(value)
        per = next((t.increase for t in reversed(ordered) if t.at <= index), step)
        value += per
    assert written[delay:] == pytest.approx(exact, rel=1e-12)
    assert [series.value(i) for i in range(samples + 1)] == [float(v) for v in exact]


def test_a_late_series_is_missing_then_counts_from_0() -> None:
    series = Series("x", (), step_increase=Fraction(5), delay=4)
    assert _expanded_notation(series.values(7)) == [None] * 4 + [0, 5, 10, 15]


def test_an_alert_the_spec_tests_itself_gets_its_tests_written_out() -> None:
    """The series as written; the expected alert with the rule's labels and annotations,
    its $value taken from the test; no note that the alert is untested."""
    text, data = generated(SHAPES)
    notes = [line for line in text.splitlines() if line.startswith("# Not tested here")]
    assert not [note for note in notes if "RoomHeatsUp" in note]
    warming, steady = groups_named(data, "RoomHeatsUp:")
    assert warming["name"] == "RoomHeatsUp: a room warming by a degree a minute"
    assert warming["input_series"] == [
        {"series": 'shapes_temperature_celsius{room="lab"}', "values": "20+0.5x60"}
    ]
    (check,) = warming["alert_rule_test"]
    assert (check["eval_time"], check["alertname"]) == ("20m", "RoomHeatsUp")
    (alert,) = check["exp_alerts"]
    assert alert["exp_labels"] == {"room": "lab", "service": "shapes", "severity": "warning"}
    assert alert["exp_annotations"]["description"] == "lab will be at 100 degrees in an hour."
    assert steady["alert_rule_test"][0]["exp_alerts"] == []


QUANTILES = """\
version: 1
service: pin
metrics:
  - {name: pin_seconds, type: histogram, help: Time., buckets: [0.1, 0.5, 1, 2.5, 5, 10]}
alerts:
  - name: Slow
    severity: warning
    summary: Slow.
    condition: {metric: pin_seconds, quantile: QUANTILE, COMPARISON: THRESHOLD}
"""


@pytest.mark.parametrize("quantile", ["0.5", "0.9", "0.99", "0.999"])
@pytest.mark.parametrize(
    ("comparison", "threshold"),
    [("above", "1.5"), ("above", "0.3"), ("below", "4"), ("above", "2.5"), ("below", "0.3")],
)
def test_a_quantile_is_driven_just_past_and_just_short_of_its_threshold(
    quantile: str, comparison: str, threshold: str, tmp_path: Path
) -> None:
    """Observations split between two buckets set the quantile anywhere inside a bucket:
    both inputs sit within 1% of the threshold, not at the two ends of its bucket."""
    text = QUANTILES.replace("QUANTILE", quantile).replace("COMPARISON", comparison)
    spec = spec_from_text(tmp_path, text.replace("THRESHOLD", threshold))
    (alert,) = spec.alerts
    firing, silent = promtool_tests.structured_scenarios(spec, alert, timeline(spec))
    assert silent is not None
    steady = int(seconds("5m"))
    fire_value, quiet_value = firing.value_at(steady), silent.value_at(steady)
    assert fire_value is not None and quiet_value is not None
    limit = float(threshold)
    condition = Condition(">" if comparison == "above" else "<", limit)
    assert condition.holds(fire_value) and not condition.holds(quiet_value)
    assert abs(fire_value - limit) <= 0.01 * limit, fire_value
    assert abs(quiet_value - limit) <= 0.01 * limit, quiet_value


@pytest.mark.parametrize(("window", "told_apart"), [("1m", True), ("45s", False)])
def test_a_window_of_fewer_than_four_samples_gets_no_group_telling_the_functions_apart(
    tmp_path: Path, window: str, told_apart: bool
) -> None:
    """Under four samples a window may hold one of the two alternating values alone
    (Prometheus 3 leaves its start out), or a mean may land on the threshold."""
    spec = spec_from_text(
        tmp_path,
        "version: 1\nservice: win\nprometheus: {scrape_interval: 15s}\n"
        "metrics:\n  - {name: win_depth, type: gauge, help: D.}\n"
        "alerts:\n"
        + "".join(
            f"  - {{name: {name}, severity: warning, summary: s, condition: "
            f"{{metric: win_depth, function: {name.lower()}_over_time, window: {window}, "
            "above: 10}}\n"
            for name in ("Max", "Min", "Avg")
        ),
    )
    tests, skipped = unit_test_groups(spec)
    assert skipped == []
    names = [test["name"] for test in tests]
    assert len([n for n in names if "the window's" in n]) == (3 if told_apart else 0), names


def _filling_groups(
    spec_path: str, function: str
) -> list[tuple[Alert, dict[str, Any], int, int, Timeline]]:
    """Each alert of `function` (read as structured) with its filling-window group, its
    window and the delay before its late events, in seconds."""
    spec = load_spec(spec_path)
    _, data = generated(spec_path)
    tl = timeline(spec)
    found = []
    for alert in spec.alerts:
        if alert.query is None:
            alert, _labels = promtool_tests._as_structured(spec, alert)
        if alert.query is None or alert.query.function.value != function:
            continue
        (group,) = groups_named(data, f"{alert.name} fires when")[1:]
        window = int(seconds(alert.query.window))
        delay = -(-window // tl.evaluation) * tl.evaluation
        found.append((alert, group, window, delay, tl))
    assert found
    return found


def _crossed_while_filling(alert: Alert, group: dict[str, Any], window: int, delay: int) -> None:
    """Silent one evaluation before it first fires, and past the threshold (before
    `for`) only after the late events began and before the window is full of them."""
    before, first, *_ = group["alert_rule_test"]
    assert before["exp_alerts"] == [] and first["exp_alerts"]
    crossed = seconds(first["eval_time"]) - duration_seconds(alert.for_)
    assert delay < crossed <= delay + window, (alert.name, crossed)


@pytest.mark.parametrize("spec_path", ["specs/llm.yaml", SHAPES])
def test_a_ratio_first_fires_as_its_window_fills_with_the_events_that_begin_late(
    spec_path: str,
) -> None:
    """The events that push the share past the threshold begin a window after the
    others: the alert fires once the share crosses, while the window fills."""
    for alert, group, window, delay, tl in _filling_groups(spec_path, "ratio"):
        assert alert.query is not None and alert.threshold is not None
        late_ones = [s for s in group["input_series"] if s["values"].startswith("_x")]
        on_time = [s for s in group["input_series"] if not s["values"].startswith("_x")]
        assert late_ones and on_time
        assert all(s["values"].startswith(f"_x{delay // tl.step} 0+") for s in late_ones)
        # `above`: the matching events begin late; `below`: the others do.
        above = alert.threshold.comparison.value == ">"
        for series in group["input_series"]:
            selected = all(
                any(f'{m.label}="{v}"' in series["series"] for v in m.values)
                for m in alert.query.where
            )
            assert (series in late_ones) == (selected == above), series
        _crossed_while_filling(alert, group, window, delay)


@pytest.mark.parametrize("spec_path", ["specs/llm.yaml", SHAPES])
def test_a_quantile_first_fires_as_its_window_fills_with_the_observations_that_begin_late(
    spec_path: str,
) -> None:
    """Until the late observations begin, every one falls in the lowest bucket (`above`)
    or the +Inf bucket (`below`): each bucket's series grows in two runs, turning a
    window after the start."""
    for alert, group, window, delay, tl in _filling_groups(spec_path, "quantile"):
        assert alert.threshold is not None
        above = alert.threshold.comparison.value == ">"
        runs = [s["values"].split(" ") for s in group["input_series"]]
        assert all(len(run) == 2 and run[0].endswith(f"x{delay // tl.step}") for run in runs)
        early = [run[0].split("x")[0] for run in runs]  # `0+<per sample>` up to the turn
        every_one = early[-1]
        assert every_one != "0+0"
        if above:
            assert set(early) == {every_one}
        else:
            assert set(early[:-1]) == {"0+0"}
        _crossed_while_filling(alert, group, window, delay)


def test_a_ratio_whose_events_begin_late_reads_the_silent_end_then_climbs() -> None:
    """Before the late events begin the share is 0 (matching ones late) or the whole
    (other ones late); it then moves one way only, and is steady once the window is full."""
    spec = load_spec("specs/llm.yaml")
    (alert,) = [a for a in spec.alerts if a.name == "HighErrorRate"]
    assert alert.query is not None
    metric = spec.metric(alert.query.metric)
    assert metric is not None
    tl = timeline(spec)
    split = ratio_scenarios(spec, metric, alert.query, tl)
    window, delay = 300, 300
    on_time = split(Fraction(51), Fraction(949)).value_at(2 * window)
    for late, silent_end in (
        (Late(part=delay // tl.step), 0.0),
        (Late(rest=delay // tl.step), 1.0),
    ):
        scenario = split(Fraction(51), Fraction(949), late)
        values = [scenario.value_at(at) for at in range(0, delay + 2 * window, tl.evaluation)]
        assert values[: delay // tl.evaluation + 1] == [None] + [silent_end] * (
            delay // tl.evaluation
        )
        ramp = [v for v in values[delay // tl.evaluation :] if v is not None]
        steps = [b - a for a, b in itertools.pairwise(ramp)]
        assert all(step <= 0 for step in steps) or all(step >= 0 for step in steps)
        assert ramp[-1] == pytest.approx(on_time) and ramp[0] == silent_end


_RUNS = """\
version: 1
service: runs
metrics:
  - {name: runs_temperature_celsius, type: gauge, help: T., labels: [zone]}
  - name: runs_requests_total
    type: counter
    help: R.
    labels: [{name: status, values: [ok, error, timeout]}]
alerts:
  - {name: Hot, severity: warning, for: 2m, summary: s,
     condition: {metric: runs_temperature_celsius, function: max_over_time, window: 10m, above: 30}}
  - {name: StaysHot, severity: warning, summary: s,
     condition: {metric: runs_temperature_celsius, function: min_over_time, window: 10m, above: 30}}
  - {name: Failing, severity: warning, summary: s,
     condition: {metric: runs_requests_total, function: ratio, where: {status: [error, timeout]},
                 above: 0.05}}
"""


def _run_edges(group: dict[str, Any], step: int) -> tuple[int, int]:
    """The times of a run's first and last sample, from its three runs of values."""
    (series,) = group["input_series"]
    counts = [int(run.split("x")[1]) + 1 if "x" in run else 1 for run in series["values"].split()]
    return counts[0] * step, (counts[0] + counts[1] - 1) * step


def test_a_run_of_values_pins_the_window_of_a_highest_or_lowest_value(tmp_path: Path) -> None:
    """max_over_time fires from the run's start (after `for`) until the window lets go
    of its last sample; min_over_time only once the window holds nothing but the run."""
    spec = spec_from_text(tmp_path, _RUNS)
    data = yaml.safe_load(render_tests(spec)[0].content)
    window, evaluation, step = 600, 60, 15
    for name, towards in (("Hot", True), ("StaysHot", False)):
        (group,) = [
            t
            for t in groups_named(data, f"{name} ")
            if "run of values" in t["name"] or "nothing but" in t["name"]
        ]
        start, end = _run_edges(group, step)
        before, first, last, after = (seconds(c["eval_time"]) for c in group["alert_rule_test"])
        states = [bool(c["exp_alerts"]) for c in group["alert_rule_test"]]
        assert states == [False, True, True, False]
        assert first - before == after - last == evaluation
        if towards:  # fires once `for` has passed on the run, until the window drops it
            assert start + 120 <= first < start + 120 + evaluation
            assert end + window - evaluation < last <= end + window
        else:  # fires once the window's oldest sample is in the run, until it ends
            assert start + window <= first < start + window + evaluation
            assert end - evaluation < last <= end
        # no evaluation reads the sample before the run, or its last, at its window's
        # very start (where Prometheus 2 and 3 part)
        assert (start - step + window) % evaluation and (end + window) % evaluation


def test_a_ratio_splits_its_selected_events_over_two_series_as_its_window_fills(
    tmp_path: Path,
) -> None:
    """In the filling-window test, halves on the two values the `where` lists: a rule
    reading one of them, or the highest, counts half and crosses at another time. The
    steady tests keep one selected series, whose share Prometheus adds up exactly."""
    spec = spec_from_text(tmp_path, _RUNS)
    data = yaml.safe_load(render_tests(spec)[0].content)
    steady, filling = groups_named(data, "Failing fires when > 0.05")

    def statuses(group: dict[str, Any]) -> dict[str, str]:
        found = {}
        for series in group["input_series"]:
            (status,) = [p for p in series["series"].split(",") if p.startswith("status=")]
            found[status.split("=")[1].strip('"}')] = series["values"]
        return found

    assert set(statuses(steady)) == {"error", "ok"}
    halves = statuses(filling)
    assert set(halves) == {"error", "timeout", "ok"}
    assert halves["error"] == halves["timeout"] and halves["error"].startswith("_x")
    per_sample = {k: Fraction(v.split()[-1].split("+")[1].split("x")[0]) for k, v in halves.items()}
    share = 2 * per_sample["error"] / sum(per_sample.values())
    assert 0.05 < share < 0.052  # just past the threshold, in the halves together
