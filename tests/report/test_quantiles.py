"""LatencySketch against exact nearest-rank percentiles."""

from __future__ import annotations

import math
import random

import pytest

from monitorgen.report import LatencySketch

QUANTILES = (0.0, 0.01, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1.0)


def exact(values: list[float], quantile: float) -> float:
    ordered = sorted(values)
    rank = max(1, math.ceil(quantile * len(ordered) - 1e-9))
    return ordered[rank - 1]


def sketch_of(values: list[float], accuracy: float = 0.01) -> LatencySketch:
    sketch = LatencySketch(relative_accuracy=accuracy)
    for value in values:
        sketch.add(value)
    return sketch


def samples(seed: int) -> list[float]:
    rng = random.Random(seed)
    shape = seed % 4
    if shape == 0:
        return [rng.lognormvariate(6, 1.5) for _ in range(5_000)]
    if shape == 1:
        return [rng.uniform(0.01, 60_000) for _ in range(5_000)]
    if shape == 2:
        return [float(rng.randint(1, 50)) for _ in range(3_000)]  # many ties
    return [rng.expovariate(1 / 800) + 5 for _ in range(rng.randint(1, 200))]


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("accuracy", [0.01, 0.05])
def test_percentiles_within_relative_error(seed: int, accuracy: float) -> None:
    values = samples(seed)
    sketch = sketch_of(values, accuracy)
    for quantile in QUANTILES:
        truth = exact(values, quantile)
        estimate = sketch.quantile(quantile)
        assert estimate is not None
        assert abs(estimate - truth) <= accuracy * truth * (1 + 1e-9), (quantile, truth)


def test_mean_count_and_extremes_are_exact() -> None:
    values = [3.0, 1.5, 1000.0, 250.25]
    sketch = sketch_of(values)
    assert sketch.count == 4
    assert sketch.total == sum(values)
    assert sketch.mean() == sum(values) / 4
    assert sketch.quantile(0.0) == 1.5
    assert sketch.quantile(1.0) == 1000.0


def test_memory_is_bounded_by_the_range_not_the_count() -> None:
    sketch = LatencySketch()
    rng = random.Random(7)
    for _ in range(50_000):
        sketch.add(rng.lognormvariate(5, 3))
    # Buckets span [0.001, 1e9] with gamma = 1.01 / 0.99, plus one below and one above.
    expected_limit = math.ceil(math.log(1e9) / math.log(1.01 / 0.99)) - math.ceil(
        math.log(0.001) / math.log(1.01 / 0.99)
    )
    assert sketch.bucket_limit == expected_limit + 3
    assert sketch.bucket_count <= sketch.bucket_limit < 1_500


def test_values_outside_the_range() -> None:
    sketch = sketch_of([0.0, 0.0005, 2e9, 3e9])
    assert sketch.quantile(0.25) == 0.0  # below min_value: the smallest value seen
    assert sketch.quantile(0.5) == 0.0
    assert sketch.quantile(0.75) == 3e9  # above max_value: the largest value seen
    assert sketch.quantile(1.0) == 3e9


def test_empty_sketch() -> None:
    sketch = LatencySketch()
    assert sketch.quantile(0.5) is None
    assert sketch.mean() is None
    assert sketch.count == 0


def test_merge_equals_one_sketch() -> None:
    rng = random.Random(3)
    values = [rng.uniform(1, 5_000) for _ in range(2_000)]
    left, right = sketch_of(values[:700]), sketch_of(values[700:])
    left.merge(right)
    whole = sketch_of(values)
    for quantile in QUANTILES:
        assert left.quantile(quantile) == whole.quantile(quantile)
    assert left.count == whole.count
    with pytest.raises(ValueError, match="different settings"):
        left.merge(LatencySketch(relative_accuracy=0.02))


@pytest.mark.parametrize("bad", [-1.0, math.inf, math.nan])
def test_rejects_invalid_values(bad: float) -> None:
    with pytest.raises(ValueError):
        LatencySketch().add(bad)


def test_rejects_invalid_settings() -> None:
    with pytest.raises(ValueError):
        LatencySketch(relative_accuracy=0)
    with pytest.raises(ValueError):
        LatencySketch(min_value=10, max_value=1)
    with pytest.raises(ValueError):
        LatencySketch().quantile(1.5)
