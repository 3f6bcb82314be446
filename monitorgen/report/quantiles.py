"""Latency percentiles in constant memory.

`LatencySketch` is a log-bucketed histogram. With relative accuracy ``a`` and
``gamma = (1 + a) / (1 - a)``, bucket ``i`` counts the values in
``(gamma ** (i - 1), gamma ** i]`` and answers for them with
``2 * gamma ** i / (gamma + 1)``, which lies within ``a * v`` of every value
``v`` in the bucket. Bucket counts are exact, so the bucket holding the
value of a given rank is known exactly and every percentile is within a
relative error ``a`` (1% by default) of the exact nearest-rank percentile.

The bound holds for values in ``[min_value, max_value]``. Smaller values
share one bucket answered with the smallest value seen (absolute error below
``min_value``), larger ones one bucket answered with the largest value seen.
The lowest and highest ranks answer with the exact minimum and maximum, and
every answer is clamped to them. The number of buckets is fixed by the range
and the accuracy (about 1,400 for the defaults), whatever the number of
values added.
"""

from __future__ import annotations

import math

DEFAULT_RELATIVE_ACCURACY = 0.01
DEFAULT_MIN_VALUE = 0.001
DEFAULT_MAX_VALUE = 1e9

_RANK_EPSILON = 1e-9


def nearest_rank(quantile: float, count: int) -> int:
    """Return the 1-based nearest rank of ``quantile`` among ``count`` values."""
    if not 0.0 <= quantile <= 1.0:
        raise ValueError(f"quantile must be within [0, 1], got {quantile}")
    return max(1, math.ceil(quantile * count - _RANK_EPSILON))


class LatencySketch:
    """Fixed-size histogram of non-negative values answering percentiles."""

    __slots__ = (
        "_buckets",
        "_count",
        "_high",
        "_log_gamma",
        "_low",
        "_max",
        "_max_index",
        "_min",
        "_min_index",
        "_min_value",
        "_sum",
        "relative_accuracy",
    )

    def __init__(
        self,
        relative_accuracy: float = DEFAULT_RELATIVE_ACCURACY,
        min_value: float = DEFAULT_MIN_VALUE,
        max_value: float = DEFAULT_MAX_VALUE,
    ) -> None:
        if not 0.0 < relative_accuracy < 1.0:
            raise ValueError("relative_accuracy must be within (0, 1)")
        if not 0.0 < min_value < max_value:
            raise ValueError("need 0 < min_value < max_value")
        self.relative_accuracy = relative_accuracy
        self._log_gamma = math.log((1.0 + relative_accuracy) / (1.0 - relative_accuracy))
        self._min_value = min_value
        self._min_index = self._index(min_value)
        self._max_index = self._index(max_value)
        self._buckets: dict[int, int] = {}
        self._low = 0
        self._high = 0
        self._count = 0
        self._sum = 0.0
        self._min = math.inf
        self._max = -math.inf

    @property
    def bucket_limit(self) -> int:
        """Return the most buckets this sketch can ever hold."""
        return self._max_index - self._min_index + 3

    @property
    def bucket_count(self) -> int:
        """Return the number of buckets in use."""
        return len(self._buckets) + (1 if self._low else 0) + (1 if self._high else 0)

    @property
    def count(self) -> int:
        """Return the number of values added."""
        return self._count

    @property
    def total(self) -> float:
        """Return the exact sum of the values added."""
        return self._sum

    def mean(self) -> float | None:
        """Return the exact mean, or None when empty."""
        return self._sum / self._count if self._count else None

    def add(self, value: float) -> None:
        """Record one non-negative finite value."""
        if not 0.0 <= value < math.inf:
            raise ValueError(f"value must be finite and non-negative, got {value}")
        self._count += 1
        self._sum += value
        if value < self._min:
            self._min = value
        if value > self._max:
            self._max = value
        if value < self._min_value:
            self._low += 1
            return
        index = math.ceil(math.log(value) / self._log_gamma)
        if index > self._max_index:
            self._high += 1
            return
        self._buckets[index] = self._buckets.get(index, 0) + 1

    def merge(self, other: LatencySketch) -> None:
        """Add every value recorded by ``other``, built with the same settings."""
        if (other._log_gamma, other._min_value, other._max_index) != (
            self._log_gamma,
            self._min_value,
            self._max_index,
        ):
            raise ValueError("cannot merge sketches with different settings")
        self._count += other._count
        self._sum += other._sum
        self._low += other._low
        self._high += other._high
        self._min = min(self._min, other._min)
        self._max = max(self._max, other._max)
        for index, count in other._buckets.items():
            self._buckets[index] = self._buckets.get(index, 0) + count

    def quantile(self, quantile: float) -> float | None:
        """Return the nearest-rank ``quantile`` estimate, or None when empty."""
        rank = nearest_rank(quantile, self._count)
        if not self._count:
            return None
        if rank <= self._low or rank == 1:
            return self._min
        if rank > self._count - self._high or rank == self._count:
            return self._max
        seen = self._low
        for index in sorted(self._buckets):
            seen += self._buckets[index]
            if seen >= rank:
                return self._clamp(self._value(index))
        return self._max

    def _index(self, value: float) -> int:
        return math.ceil(math.log(value) / self._log_gamma)

    def _value(self, index: int) -> float:
        gamma = math.exp(self._log_gamma)
        return 2.0 * math.exp(index * self._log_gamma) / (gamma + 1.0)

    def _clamp(self, value: float) -> float:
        return min(max(value, self._min), self._max)
