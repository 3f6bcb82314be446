"""InfluxDB line protocol from the generated module, against a fake /write endpoint.

Escaping, typed fields and tags admitted like labels; batching by size and interval, the
bounded queue, retries, rejected and failed writes counted, flush/close and exit. The live
round trip through a real InfluxDB is in test_influx_live.py.
"""

from __future__ import annotations

import base64
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from fractions import Fraction
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from prometheus_client import CollectorRegistry

from tests.harness import CaptureServer, free_port, wait_for

from .conftest import LLM_MODULE
from .exposition import value

CALL: dict[str, Any] = {
    "task_type": "chat",
    "model": "gpt-4o",
    "provider": "openai",
    "input_tokens": 100,
    "output_tokens": 10,
    "latency_ms": 50.0,
}


class FakeInflux:
    """A /write endpoint on 127.0.0.1 answering with scripted statuses (then 204).

    `hold` keeps every answer back until it is set, like a server that hangs.
    """

    def __init__(self, answers: list[tuple[int, str]] | None = None) -> None:
        self.answers = list(answers or [])
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.hold = threading.Event()
        self.hold.set()
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                fake.hold.wait(10)
                with fake._lock:
                    fake.requests.append((self.path, dict(self.headers.items()), body))
                    status, text = fake.answers.pop(0) if fake.answers else (204, "")
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,))
        self._thread.daemon = True
        self._thread.start()

    def lines(self) -> list[str]:
        with self._lock:
            return [line for _, _, body in self.requests for line in body.decode().splitlines()]

    def stop(self) -> None:
        self.hold.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake() -> Iterator[FakeInflux]:
    server = FakeInflux()
    yield server
    server.stop()


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def metrics(llm_module: ModuleType, registry: CollectorRegistry) -> Iterator[Any]:
    instance = llm_module.LlmMetrics(registry=registry)
    yield instance
    instance.configure_influx(None)


def split(text: str, separator: str) -> list[str]:
    """`text` split at `separator` where it is neither escaped nor inside a quoted string,
    the way InfluxDB's scanner reads a line."""
    pieces, current, quoted, escaped = [], "", False, False
    for char in text:
        if char == separator and not quoted and not escaped:
            pieces.append(current)
            current = ""
            continue
        current += char
        quoted = quoted != (char == '"' and not escaped)
        escaped = char == "\\" and not escaped
    return [*pieces, current]


def parse(line: str) -> tuple[str, dict[str, str], int]:
    """A line's measurement with its tags, its fields as written, and its timestamp."""
    head, fields, stamp = split(line, " ")
    pairs = (split(pair, "=") for pair in split(fields, ","))
    return head, {key: text for key, text in pairs}, int(stamp)


def dropped(registry: CollectorRegistry, reason: str) -> float:
    return value(registry, "llm_monitoring_influx_dropped_total", reason=reason)


def written(registry: CollectorRegistry) -> float:
    return value(registry, "llm_monitoring_influx_written_total")


# --- line protocol -----------------------------------------------------------


def test_measurements_escape_commas_and_spaces(llm_module: ModuleType) -> None:
    assert llm_module.influx_measurement("llm call,x=1") == "llm\\ call\\,x=1"


def test_keys_escape_commas_equals_signs_and_spaces(llm_module: ModuleType) -> None:
    assert llm_module.influx_key("a b,c=d") == "a\\ b\\,c\\=d"
    assert llm_module.influx_key("time") == "time_", "InfluxDB refuses a key named time"


def test_string_fields_are_quoted_with_quotes_and_backslashes_escaped(
    llm_module: ModuleType,
) -> None:
    assert llm_module.influx_string('say "hi" \\o/, a=b') == '"say \\"hi\\" \\\\o/, a=b"'


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("eu west", "eu\\ west"),
        ("a,b=c", "a\\,b\\=c"),
        ('"quoted"', '"quoted"'),
        ("back\\slash", "back\\slash"),
        ("ends with\\", None),
        ("a\\,b", None),
        ("a\\ b", None),
        ("two\nlines", None),
    ],
)
def test_tag_values_escape_or_refuse_what_influxdb_cannot_store(
    llm_module: ModuleType, text: str, escaped: str | None
) -> None:
    """InfluxDB 1.x keeps backslashes in tags as they are: one before a separator escapes it."""
    assert llm_module.influx_tag_value(text) == escaped


@pytest.mark.parametrize(
    ("value", "kind", "text"),
    [
        (3, "int", "3i"),
        (-7, "int", "-7i"),
        (3.0, "int", "3i"),
        (Decimal(12), "int", "12i"),
        (Fraction(10, 2), "int", "5i"),
        (2**63 - 1, "int", f"{2**63 - 1}i"),
        (2**63, "int", None),
        (3.5, "int", None),
        (True, "int", None),
        ("3", "int", None),
        (0.25, "float", "0.25"),
        (2, "float", "2.0"),
        (1e16, "float", "1e+16"),
        (Decimal("0.5"), "float", "0.5"),
        (float("nan"), "float", None),
        (float("inf"), "float", None),
        (False, "float", None),
        (True, "bool", "true"),
        (False, "bool", "false"),
        (1, "bool", None),
        ('a "b"', "str", '"a \\"b\\""'),
        (5, "str", None),
    ],
)
def test_field_values_keep_their_declared_type(
    llm_module: ModuleType, value: object, kind: str, text: str | None
) -> None:
    assert llm_module.influx_field_value(value, kind) == text


def test_the_write_url_asks_for_nanoseconds(llm_module: ModuleType) -> None:
    url = llm_module.influx_write_url("http://127.0.0.1:8086/", "llm db", "one_year")
    parts = urlsplit(url)
    assert (parts.netloc, parts.path) == ("127.0.0.1:8086", "/write")
    assert parse_qs(parts.query) == {"db": ["llm db"], "precision": ["ns"], "rp": ["one_year"]}


@pytest.mark.parametrize(
    "url",
    ["127.0.0.1:8086", "ftp://127.0.0.1", "http://", "http://u:p@127.0.0.1:8086", "http://h?db=x"],
)
def test_urls_that_are_not_a_plain_influxdb_address_are_refused(
    llm_module: ModuleType, url: str
) -> None:
    with pytest.raises(ValueError):
        llm_module.influx_write_url(url, "llm")


def test_an_event_becomes_one_line(metrics: Any, fake: FakeInflux) -> None:
    writer = metrics.configure_influx(fake.url, "llm")
    before = time.time_ns()
    metrics.record_llm_call(**CALL, cost_usd=0.5)
    after = time.time_ns()
    assert writer.flush(5)
    (line,) = fake.lines()
    head, fields, stamp = parse(line)
    assert head == "llm_call,model=gpt-4o,provider=openai,status=ok,task_type=chat"
    assert fields == {
        "input_tokens": "100i",
        "output_tokens": "10i",
        "latency_ms": "50.0",
        "cached_input_tokens": "0i",
        "reasoning_tokens": "0i",
        "cost_usd": "0.5",
        "total_tokens": "110i",
    }
    assert before <= stamp <= after
    path, headers, _ = fake.requests[0]
    assert parse_qs(urlsplit(path).query) == {"db": ["llm"], "precision": ["ns"]}
    assert "Authorization" not in headers


def test_the_point_carries_the_cost_computed_from_pricing(
    metrics: Any, fake: FakeInflux, registry: CollectorRegistry
) -> None:
    writer = metrics.configure_influx(fake.url)
    metrics.record_llm_call(**CALL)
    assert writer.flush(5)
    (line,) = fake.lines()
    sent = float(parse(line)[1]["cost_usd"])
    labels = {"task_type": "chat", "model": "gpt-4o"}
    assert sent == value(registry, "llm_cost_usd_total", **labels) > 0


def test_tags_are_admitted_like_the_labels(
    metrics: Any, fake: FakeInflux, registry: CollectorRegistry
) -> None:
    """status declares its values and task_type caps them at 50: InfluxDB sees the same
    `other` as Prometheus, and nothing is counted twice."""
    writer = metrics.configure_influx(fake.url)
    metrics.record_llm_call(**{**CALL, "status": "exploded"})
    for index in range(51):
        metrics.record_llm_call(**{**CALL, "task_type": f"task-{index}"})
    assert writer.flush(5)
    heads = [parse(line)[0] for line in fake.lines()]
    assert "status=other" in heads[0]
    assert heads[49].endswith(",task_type=task-48")
    assert heads[50].endswith(",task_type=other") and heads[51].endswith(",task_type=other")
    dropped_labels = {"metric": "llm_requests_total", "reason": "too_many_values"}
    assert value(registry, "llm_monitoring_dropped_total", **dropped_labels) == 2


def test_an_empty_tag_value_leaves_the_tag_out(metrics: Any, fake: FakeInflux) -> None:
    writer = metrics.configure_influx(fake.url)
    metrics.record_llm_call(**{**CALL, "task_type": ""})
    assert writer.flush(5)
    (line,) = fake.lines()
    assert parse(line)[0] == "llm_call,model=gpt-4o,provider=openai,status=ok"


def test_a_tag_value_influxdb_cannot_store_is_sent_as_other(
    metrics: Any, fake: FakeInflux, registry: CollectorRegistry
) -> None:
    writer = metrics.configure_influx(fake.url)
    metrics.record_llm_call(**{**CALL, "task_type": "ends\\"})
    metrics.record_llm_call(**{**CALL, "task_type": "eu, west=1"})
    assert writer.flush(5)
    first, second = (parse(line)[0] for line in fake.lines())
    assert first.endswith(",task_type=other")
    assert second.endswith(",task_type=eu\\,\\ west\\=1")
    labels = {"task_type": "ends\\", "model": "gpt-4o", "provider": "openai", "status": "ok"}
    assert value(registry, "llm_requests_total", **labels) == 1, "Prometheus keeps it"


def test_bool_string_and_optional_fields(shop_module: ModuleType, fake: FakeInflux) -> None:
    """`express` is a label but a bool, so a field; `from` is a str but no label, so a string
    field; optional fields left as None are not sent."""
    metrics = shop_module.ShopMetrics(registry=CollectorRegistry())
    writer = metrics.configure_influx(fake.url, "shop")
    metrics.record_order(region="eu", duration_ms=12.5, express=True, from_='a "b, c=d"')
    metrics.record_queue(depth=4)
    assert writer.flush(5)
    order, queue = fake.lines()
    assert parse(order)[:2] == (
        "order,channel=web,region=eu",
        {"duration_ms": "12.5", "express": "true", "items": "1i", "from": '"a \\"b, c=d\\""'},
    )
    assert parse(queue)[:2] == ("queue", {"depth": "4i"})
    metrics.configure_influx(None)


def test_an_event_without_fields_counts_one(metrics: Any, fake: FakeInflux) -> None:
    writer = metrics.configure_influx(fake.url)
    metrics.record_quality_check(task_type="chat", check="tone", result="pass")
    assert writer.flush(5)
    (line,) = fake.lines()
    head, fields, _ = parse(line)
    assert (head, fields) == (
        "quality_check,check=tone,result=pass,task_type=chat",
        {"count": "1i"},
    )


def test_invalid_field_values_are_left_out_and_counted(
    metrics: Any, fake: FakeInflux, registry: CollectorRegistry
) -> None:
    writer = metrics.configure_influx(fake.url)
    metrics.record_llm_call(**{**CALL, "input_tokens": 2.5, "latency_ms": float("nan")})
    metrics.record_llm_call(**{**CALL, "input_tokens": Decimal(7)})
    assert writer.flush(5)
    first, second = (parse(line)[1] for line in fake.lines())
    assert "input_tokens" not in first and "latency_ms" not in first
    assert "total_tokens" not in first and first["output_tokens"] == "10i"
    assert (second["input_tokens"], second["total_tokens"]) == ("7i", "17i")
    assert dropped(registry, "invalid_field") == 3, "input_tokens, latency_ms, total_tokens"


def test_recording_never_raises_when_a_point_cannot_be_made(
    metrics: Any, fake: FakeInflux, registry: CollectorRegistry
) -> None:
    writer = metrics.configure_influx(fake.url)
    metrics.record_llm_call(**{**CALL, "model": ["unhashable"]})
    metrics.record_llm_call(**CALL)
    assert writer.flush(5)
    assert len(fake.lines()) == 1
    errors = {"event": "llm_call", "stage": "influx"}
    assert value(registry, "llm_monitoring_errors_total", **errors) == 1


# --- the writer --------------------------------------------------------------


def test_lines_go_in_batches_of_batch_size(
    metrics: Any, fake: FakeInflux, registry: CollectorRegistry
) -> None:
    writer = metrics.configure_influx(fake.url, batch_size=3, flush_interval=60)
    for tokens in range(7):
        metrics.record_llm_call(**{**CALL, "input_tokens": tokens})
    wait_for(lambda: len(fake.requests) == 2, timeout=5, message="two full batches")
    assert writer.flush(5)
    sizes = [len(body.splitlines()) for _, _, body in fake.requests]
    assert sizes == [3, 3, 1]
    sent = [parse(line)[1]["input_tokens"] for line in fake.lines()]
    assert sent == [f"{tokens}i" for tokens in range(7)], "in the order recorded"
    assert written(registry) == 7


def test_timestamps_of_one_writer_strictly_increase(
    llm_module: ModuleType, fake: FakeInflux
) -> None:
    """InfluxDB keeps only the last point of a series at one time: equal or earlier clock
    readings must not make points overwrite each other."""
    writer = llm_module.InfluxWriter(fake.url, "llm", flush_interval=60)
    for stamp in (5, 5, 3, 9):
        writer.add("m value=1i", stamp)
    assert writer.close(5)
    assert [parse(line)[2] for line in fake.lines()] == [5, 6, 7, 9]


def test_threads_recording_at_once_lose_no_point(
    metrics: Any, fake: FakeInflux, registry: CollectorRegistry
) -> None:
    threads, events = 4, 500
    writer = metrics.configure_influx(fake.url, batch_size=100, flush_interval=0.05)
    start = threading.Barrier(threads)

    def record(thread: int) -> None:
        start.wait()
        for index in range(events):
            metrics.record_llm_call(**{**CALL, "input_tokens": thread * events + index})

    workers = [threading.Thread(target=record, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert writer.flush(10)
    points = [parse(line) for line in fake.lines()]
    sent = sorted(int(fields["input_tokens"][:-1]) for _, fields, _ in points)
    assert sent == list(range(threads * events))
    stamps = [stamp for _, _, stamp in points]
    assert stamps == sorted(set(stamps)), "distinct and in the order queued"
    assert written(registry) == threads * events


def test_a_small_batch_goes_after_the_flush_interval(metrics: Any, fake: FakeInflux) -> None:
    metrics.configure_influx(fake.url, flush_interval=0.1)
    metrics.record_llm_call(**CALL)
    wait_for(lambda: fake.lines(), timeout=3, interval=0.02, message="the interval's batch")


def test_a_full_queue_drops_and_counts_without_blocking(
    metrics: Any, fake: FakeInflux, registry: CollectorRegistry
) -> None:
    """The server hangs: the thread waits on it, recording goes on and drops what does not fit."""
    fake.hold.clear()
    writer = metrics.configure_influx(fake.url, batch_size=2, max_queue=5, flush_interval=60)
    started = time.monotonic()
    for _ in range(200):
        metrics.record_llm_call(**CALL)
    assert time.monotonic() - started < 1.0
    assert dropped(registry, "queue_full") >= 200 - 2 - 5
    fake.hold.set()
    assert writer.flush(5)
    assert written(registry) + dropped(registry, "queue_full") == 200
    assert len(fake.lines()) == written(registry)


def test_failed_writes_are_retried_then_counted(
    llm_module: ModuleType,
    metrics: Any,
    fake: FakeInflux,
    registry: CollectorRegistry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(llm_module, "INFLUX_RETRY_DELAY", 0.01)
    fake.answers = [(503, "overloaded"), (500, "oops"), (503, "overloaded"), (503, "again")]
    writer = metrics.configure_influx(fake.url, batch_size=10, retries=2)
    for _ in range(4):
        metrics.record_llm_call(**CALL)
    assert writer.flush(10)
    assert len(fake.requests) == 3, "one try and two retries"
    assert dropped(registry, "write_failed") == 4
    metrics.record_llm_call(**CALL)
    assert writer.flush(10)
    assert len(fake.requests) == 5, "503, then accepted"
    assert written(registry) == 1


def test_an_unreachable_server_counts_write_failed(
    metrics: Any, registry: CollectorRegistry
) -> None:
    writer = metrics.configure_influx(f"http://127.0.0.1:{free_port()}", retries=0)
    for _ in range(3):
        metrics.record_llm_call(**CALL)
    assert writer.flush(10)
    assert dropped(registry, "write_failed") == 3
    assert written(registry) == 0


def test_a_partial_write_counts_only_the_points_influxdb_dropped(
    metrics: Any, fake: FakeInflux, registry: CollectorRegistry
) -> None:
    answer = '{"error":"partial write: field type conflict: ... dropped=2"}'
    fake.answers = [(400, answer), (404, '{"error":"database not found: \\"llm\\""}')]
    writer = metrics.configure_influx(fake.url, batch_size=5, flush_interval=60)
    for _ in range(5):
        metrics.record_llm_call(**CALL)
    assert writer.flush(5)
    assert (written(registry), dropped(registry, "rejected")) == (3, 2)
    metrics.record_llm_call(**CALL)
    assert writer.flush(5)
    assert (written(registry), dropped(registry, "rejected")) == (3, 3)
    assert len(fake.requests) == 2, "rejected points are not retried"


def test_credentials_come_from_a_password_file(
    metrics: Any, fake: FakeInflux, tmp_path: Path
) -> None:
    secret = tmp_path / "influx_password"
    secret.write_text("s3cret: with spaces\n")
    writer = metrics.configure_influx(fake.url, username="writer", password_file=secret)
    metrics.record_llm_call(**CALL)
    assert writer.flush(5)
    scheme, token = fake.requests[0][1]["Authorization"].split(" ")
    assert scheme == "Basic"
    assert base64.b64decode(token).decode() == "writer:s3cret: with spaces"


def test_configuration_mistakes_are_raised_at_start(metrics: Any, tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        metrics.configure_influx("http://127.0.0.1:8086", password_file=tmp_path / "x")
    with pytest.raises(FileNotFoundError):
        metrics.configure_influx(
            "http://127.0.0.1:8086", username="u", password_file=tmp_path / "missing"
        )
    with pytest.raises(ValueError):
        metrics.configure_influx("http://127.0.0.1:8086", batch_size=0)
    assert metrics.influx is None


def test_close_sends_what_is_queued_and_counts_later_points(
    metrics: Any, fake: FakeInflux, registry: CollectorRegistry
) -> None:
    writer = metrics.configure_influx(fake.url, flush_interval=60)
    assert writer._thread.daemon
    for _ in range(3):
        metrics.record_llm_call(**CALL)
    assert writer.close(5)
    assert len(fake.lines()) == 3
    assert not writer._thread.is_alive()
    writer.add("late value=1i", 1)
    assert dropped(registry, "closed") == 1


def test_reconfiguring_closes_the_previous_writer(metrics: Any, fake: FakeInflux) -> None:
    first = metrics.configure_influx(fake.url, flush_interval=60)
    metrics.record_llm_call(**CALL)
    second = metrics.configure_influx(fake.url, "other_db", flush_interval=60)
    assert first.closed and len(fake.lines()) == 1, "the first writer's point was sent"
    metrics.configure_influx(None)
    assert second.closed and metrics.influx is None
    metrics.record_llm_call(**CALL)
    assert len(fake.requests) == 1


EXIT_SCRIPT = textwrap.dedent(
    """
    import importlib.util, sys
    spec = importlib.util.spec_from_file_location("llm_metrics", sys.argv[1])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.configure_influx(sys.argv[2], "llm", flush_interval=60)
    module.record_llm_call(task_type="chat", model="gpt-4o", provider="openai",
                           input_tokens=5, output_tokens=1, latency_ms=1.0)
    """
)


def test_points_still_queued_are_sent_when_the_application_exits(
    capture_server: CaptureServer,
) -> None:
    """The module-level functions' writer is closed at exit, which sends its queue."""
    result = subprocess.run(
        [sys.executable, "-c", EXIT_SCRIPT, str(LLM_MODULE), capture_server.url],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    (request,) = capture_server.requests
    assert request.method == "POST" and request.path.startswith("/write?")
    assert request.body.decode().startswith("llm_call,model=gpt-4o,")
    assert "input_tokens=5i" in request.body.decode()
