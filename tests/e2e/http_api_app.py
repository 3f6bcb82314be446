"""The orders API's request handling, reduced to what it records in the generated module.

tests/specs/http_api.yaml declares metrics but no events, so its generated module has no
event functions; this stands in for the application, which uses the module's metric
objects directly. It is copied next to the generated http_api_metrics.py and run by
MetricsApp.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import http_api_metrics  # type: ignore[import-not-found]

METRICS = http_api_metrics.default_metrics()


def record_requests(
    route: str, code: str = "200", method: str = "GET", count: int = 1, seconds: float = 0.05
) -> None:
    """`count` requests to `route` answered with `code` after `seconds` each."""
    requests = METRICS.http_requests_total.labels(method=method, route=route, code=code)
    durations = METRICS.http_request_duration_seconds.labels(method=method, route=route)
    for _ in range(count):
        requests.inc()
        durations.observe(seconds)


def set_in_flight(value: float) -> None:
    """Requests being served right now."""
    METRICS.http_requests_in_flight.set(value)
