"""The generated module writes to a real InfluxDB 1.x (Debian's influxd) on 127.0.0.1.

Events recorded through the module are queried back with InfluxQL and their totals compared
exactly; tag values and strings that need escaping come back unchanged; a field type conflict
and wrong credentials are counted, not raised.
"""

from __future__ import annotations

import json
import math
import random
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any, Self
from urllib.parse import urlencode

import pytest
from prometheus_client import CollectorRegistry

from tests.harness import assert_listens_only_on_loopback, free_port, require_binary
from tests.harness.net import http_request
from tests.harness.servers import ServerBase, ServerStartError

from .exposition import samples, value

pytestmark = pytest.mark.e2e

_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))
ADMIN = ("admin", "admin-secret")
TASKS = ("chat", "summarize", "translate, v=2")
MODELS = ("gpt-4o", "claude-sonnet")
EVENTS = 300


class InfluxServer(ServerBase):
    """influxd with its data, config and log in a working directory; HTTP and RPC on
    127.0.0.1 only; everything else that listens is off."""

    name = "influxd"
    ready_path = "/ping"

    def __init__(self, workdir: Path, binary: str, auth: bool = False) -> None:
        super().__init__(workdir)
        self.binary = binary
        self.auth = auth

    def start(self) -> Self:
        self._launch(self._argv)
        return self

    def _argv(self, port: int) -> list[str]:
        config = self.workdir / "influxdb.conf"
        data = self.workdir / "data"
        config.write_text(
            f'reporting-disabled = true\nbind-address = "127.0.0.1:{free_port()}"\n'
            f'[meta]\n  dir = "{data / "meta"}"\n'
            f'[data]\n  dir = "{data / "data"}"\n  wal-dir = "{data / "wal"}"\n'
            "  query-log-enabled = false\n"
            f'[http]\n  bind-address = "127.0.0.1:{port}"\n'
            f"  auth-enabled = {str(self.auth).lower()}\n  log-enabled = false\n"
            "[monitor]\n  store-enabled = false\n"
            "[continuous_queries]\n  enabled = false\n"
        )
        return [self.binary, "run", "-config", str(config)]

    def _wait_ready(self) -> None:
        """influxd 1.6 answers /ping with 204 No Content once it serves."""
        try:
            self.wait_for(self._pings, timeout=self.start_timeout, message="influxd /ping")
        except AssertionError as err:
            raise ServerStartError(f"influxd not ready: {err}\n{self._log()}") from err

    def _pings(self) -> bool:
        try:
            return http_request(self.url + self.ready_path, timeout=1.0)[0] == 204
        except OSError:
            return False

    def query(self, statement: str, database: str = "", post: bool = False) -> Any:
        """Run InfluxQL (as the admin with auth on); the first statement's result."""
        params = {"q": statement, "db": database, "epoch": "ns"}
        if self.auth:
            params.update(u=ADMIN[0], p=ADMIN[1])
        url = f"{self.url}/query?{urlencode(params)}"
        status, body = http_request(url, method="POST" if post else "GET", timeout=10)
        assert status == 200, body
        (result,) = json.loads(body)["results"]
        assert "error" not in result, result
        return result

    def create_database(self, name: str) -> None:
        self.query(f'CREATE DATABASE "{name}"', post=True)

    def write(self, database: str, line: str) -> None:
        """Write a line directly, as another client would."""
        request = urllib.request.Request(
            f"{self.url}/write?{urlencode({'db': database})}", data=line.encode(), method="POST"
        )
        with _NO_PROXY.open(request, timeout=5) as response:
            assert response.status == 204

    def series(self, statement: str, database: str) -> list[dict[str, Any]]:
        return list(self.query(statement, database).get("series", []))


def start_influx(factory: pytest.TempPathFactory, auth: bool) -> Iterator[InfluxServer]:
    binary = require_binary("influxd")
    server = InfluxServer(factory.mktemp("influxd"), binary, auth)
    with server:
        assert_listens_only_on_loopback(server.pid)
        yield server


@pytest.fixture(scope="module")
def influx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxServer]:
    yield from start_influx(tmp_path_factory, auth=False)


@pytest.fixture(scope="module")
def secured_influx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxServer]:
    for server in start_influx(tmp_path_factory, auth=True):
        # With no user yet, influxd lets the first one, an admin, be created unauthenticated.
        user, password = ADMIN
        status, body = http_request(
            f"{server.url}/query?"
            + urlencode(
                {"q": f"CREATE USER {user} WITH PASSWORD '{password}' WITH ALL PRIVILEGES"}
            ),
            method="POST",
        )
        assert status == 200, body
        yield server


def by_tag(series: list[dict[str, Any]], tag: str) -> dict[str, list[Any]]:
    """The first row of each series of a GROUP BY query, keyed by the tag value."""
    return {s["tags"][tag]: s["values"][0][1:] for s in series}


def record_calls(metrics: Any) -> list[dict[str, Any]]:
    """EVENTS calls in bursts: the same series many times within microseconds."""
    rng = random.Random(7)
    calls = []
    for index in range(EVENTS):
        call: dict[str, Any] = {
            "task_type": TASKS[index % len(TASKS)],
            "model": MODELS[index % len(MODELS)],
            "provider": "openai",
            "input_tokens": rng.randrange(0, 5000),
            "output_tokens": rng.randrange(0, 900),
            "latency_ms": rng.uniform(20, 4000),
        }
        if index % 4 == 0:
            call["baseline_tokens"] = rng.randrange(5000, 9000)
        metrics.record_llm_call(**call)
        calls.append(call)
    return calls


def test_recorded_events_add_up_exactly_in_influxdb(
    llm_module: ModuleType, influx: InfluxServer
) -> None:
    influx.create_database("llm")
    registry = CollectorRegistry()
    metrics = llm_module.LlmMetrics(registry=registry)
    writer = metrics.configure_influx(influx.url, "llm", batch_size=64, flush_interval=0.2)
    calls = record_calls(metrics)
    for result in ("pass", "pass", "fail"):
        metrics.record_quality_check(task_type="chat", check="tone", result=result)
    assert writer.flush(20)
    metrics.configure_influx(None)

    assert value(registry, "llm_monitoring_influx_written_total") == EVENTS + 3
    assert not [k for k in samples(registry) if k[0] == "llm_monitoring_influx_dropped_total"]

    sums = by_tag(
        influx.series(
            "SELECT sum(input_tokens), sum(total_tokens), count(latency_ms), "
            "sum(baseline_tokens), count(baseline_tokens) FROM llm_call GROUP BY task_type",
            "llm",
        ),
        "task_type",
    )
    assert set(sums) == set(TASKS)
    for task in TASKS:
        mine = [c for c in calls if c["task_type"] == task]
        baselines = [c["baseline_tokens"] for c in mine if "baseline_tokens" in c]
        assert sums[task] == [
            sum(c["input_tokens"] for c in mine),
            sum(c["input_tokens"] + c["output_tokens"] for c in mine),
            len(mine),
            sum(baselines),
            len(baselines),
        ], task

    latency = influx.series("SELECT sum(latency_ms), sum(cost_usd) FROM llm_call", "llm")
    latency_sum, cost_sum = latency[0]["values"][0][1:]
    assert math.isclose(latency_sum, sum(c["latency_ms"] for c in calls), rel_tol=1e-12)
    prometheus_cost = sum(
        value(registry, "llm_cost_usd_total", task_type=t, model=m) for t in TASKS for m in MODELS
    )
    assert cost_sum > 0 and math.isclose(cost_sum, prometheus_cost, rel_tol=1e-12)

    checks = by_tag(
        influx.series('SELECT sum("count") FROM quality_check GROUP BY "result"', "llm"), "result"
    )
    assert checks == {"pass": [2], "fail": [1]}

    keys = influx.series("SHOW FIELD KEYS FROM llm_call", "llm")[0]["values"]
    assert dict(keys) == {
        "input_tokens": "integer",
        "output_tokens": "integer",
        "cached_input_tokens": "integer",
        "reasoning_tokens": "integer",
        "baseline_tokens": "integer",
        "total_tokens": "integer",
        "latency_ms": "float",
        "cost_usd": "float",
    }


def test_tags_and_strings_that_need_escaping_come_back_unchanged(
    shop_module: ModuleType, influx: InfluxServer
) -> None:
    influx.create_database("shop")
    metrics = shop_module.ShopMetrics(registry=CollectorRegistry())
    writer = metrics.configure_influx(influx.url, "shop")
    channels = ("web, app=1", 'say "hi"')
    origins = (
        'a "quoted" \\ back\\slash',
        "comma, equals=sign\nand a new line",
        "",
        "a backslash at the end\\",
        'a backslash before a quote\\"',
    )
    for index, origin in enumerate(origins):
        metrics.record_order(
            region="eu",
            duration_ms=10.0 + index,
            channel=channels[index % 2],
            express=index == 1,
            from_=origin,
        )
    assert writer.flush(10)
    metrics.configure_influx(None)

    tags = influx.series('SHOW TAG VALUES FROM "order" WITH KEY = "channel"', "shop")
    assert {v for _, v in tags[0]["values"]} == set(channels)
    rows = influx.series('SELECT "from", express, duration_ms FROM "order"', "shop")[0]["values"]
    assert [row[1:] for row in rows] == [
        [origin, index == 1, 10.0 + index] for index, origin in enumerate(origins)
    ]


def test_a_field_type_conflict_is_a_counted_partial_write(
    llm_module: ModuleType, influx: InfluxServer
) -> None:
    """Another client made input_tokens a float: InfluxDB refuses those points and takes
    the rest of the batch."""
    influx.create_database("conflict")
    influx.write("conflict", "llm_call,task_type=chat input_tokens=1.5")
    registry = CollectorRegistry()
    metrics = llm_module.LlmMetrics(registry=registry)
    writer = metrics.configure_influx(influx.url, "conflict", flush_interval=60)
    call = {"model": "gpt-4o", "provider": "openai", "output_tokens": 1, "latency_ms": 1.0}
    for _ in range(3):
        metrics.record_llm_call(task_type="chat", input_tokens=1, **call)
    metrics.record_quality_check(task_type="chat", check="tone", result="pass")
    assert writer.flush(10)
    metrics.configure_influx(None)
    assert value(registry, "llm_monitoring_influx_dropped_total", reason="rejected") == 3
    assert value(registry, "llm_monitoring_influx_written_total") == 1
    counted = influx.series("SELECT count(input_tokens) FROM llm_call", "conflict")
    assert counted[0]["values"][0][1] == 1, "only the other client's point"


def test_credentials_from_a_password_file(
    llm_module: ModuleType, secured_influx: InfluxServer, tmp_path: Path
) -> None:
    secured_influx.create_database("secured")
    right, wrong = tmp_path / "right", tmp_path / "wrong"
    right.write_text(ADMIN[1] + "\n")
    wrong.write_text("not-the-password\n")
    registry = CollectorRegistry()
    metrics = llm_module.LlmMetrics(registry=registry)
    for password_file in (right, wrong):
        writer = metrics.configure_influx(
            secured_influx.url, "secured", username=ADMIN[0], password_file=password_file
        )
        metrics.record_quality_check(task_type="chat", check="tone", result="pass")
        assert writer.flush(10)
    metrics.configure_influx(None)
    assert value(registry, "llm_monitoring_influx_written_total") == 1
    assert value(registry, "llm_monitoring_influx_dropped_total", reason="rejected") == 1
    counted = secured_influx.series('SELECT sum("count") FROM quality_check', "secured")
    assert counted[0]["values"][0][1] == 1
