"""A module generated into a temporary folder from a small spec with every kind of update."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from monitorgen.model import OTHER_LABEL_VALUE

from .exposition import families, histogram, key, samples, value

DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def shop(shop_module: ModuleType, registry: CollectorRegistry) -> Any:
    return shop_module.ShopMetrics(registry=registry)


def test_every_kind_of_update(shop: Any, registry: CollectorRegistry) -> None:
    shop.record_order(region="eu", duration_ms=30.0, amount_eur=19.5, payload=512)
    shop.record_order(region="eu", duration_ms=700.0, express=True, items=-2)
    shop.record_order(region="us", duration_ms=4.0, channel="app", items=3, payload=128)
    shop.record_queue(depth=7)
    shop.record_queue(depth=4)
    order = {"kind": "order"}
    expected = {
        key("shop_orders_total", region="eu", channel="web", express="false", **order): 1,
        key("shop_orders_total", region="eu", channel="web", express="true", **order): 1,
        key("shop_orders_total", region="us", channel="app", express="false", **order): 1,
        key("shop_basket_items", region="eu"): -1,
        key("shop_basket_items", region="us"): 3,
        **histogram("shop_checkout_seconds", DEFAULT_BUCKETS, [0.03, 0.7], region="eu"),
        **histogram("shop_checkout_seconds", DEFAULT_BUCKETS, [0.004], region="us"),
        key("shop_revenue_eur_total", region="eu"): 19.5,
        key("shop_revenue_eur_total", region="us"): 0,
        key("shop_payload_bytes_count"): 2,
        key("shop_payload_bytes_sum"): 640,
        key("shop_queue_depth"): 4,
    }
    assert samples(registry) == pytest.approx(expected, rel=1e-12)


def test_types_and_documentation(shop: Any, registry: CollectorRegistry) -> None:
    shop.record_order(region="eu", duration_ms=1.0, payload=1)
    shop.record_queue(depth=1)
    found = families(registry)
    assert found["shop_payload_bytes"].type == "summary"
    assert found["shop_queue_depth"].type == "gauge"
    assert found["shop_queue_depth"].documentation == 'Depth of the "pick" queue.'
    assert found["shop_orders"].documentation.startswith("Orders by region, channel and delivery")
    assert found["shop_orders"].documentation.endswith("implicitly joined string pieces.")


def test_the_cap_of_two_channels(shop: Any, registry: CollectorRegistry) -> None:
    for channel in ("web", "app", "phone", "fax", "web"):
        shop.record_order(region="eu", duration_ms=1.0, channel=channel)
    labels = {"region": "eu", "express": "false", "kind": "order"}
    assert value(registry, "shop_orders_total", channel="web", **labels) == 2
    assert value(registry, "shop_orders_total", channel="app", **labels) == 1
    assert value(registry, "shop_orders_total", channel=OTHER_LABEL_VALUE, **labels) == 2
    reason = {"metric": "shop_orders_total", "reason": "too_many_values"}
    assert value(registry, "shop_monitoring_dropped_total", **reason) == 2


def test_a_bool_label_needs_a_bool(shop: Any, registry: CollectorRegistry) -> None:
    shop.record_order(region="eu", duration_ms=1.0, express="yes")
    labels = {"region": "eu", "channel": "web", "kind": "order"}
    assert value(registry, "shop_orders_total", express="other", **labels) == 1
    reason = {"metric": "shop_orders_total", "reason": "wrong_type"}
    assert value(registry, "shop_monitoring_dropped_total", **reason) == 1


def test_a_gauge_may_go_down_but_not_to_nan(shop: Any, registry: CollectorRegistry) -> None:
    shop.record_queue(depth=5)
    shop.record_queue(depth=-1)
    shop.record_queue(depth=float("nan"))
    assert value(registry, "shop_queue_depth") == -1
    reason = {"metric": "shop_queue_depth", "reason": "not_finite"}
    assert value(registry, "shop_monitoring_dropped_total", **reason) == 1


def test_a_keyword_field_is_a_trailing_underscore_parameter(
    shop_module: ModuleType, tmp_path: Path
) -> None:
    shop = shop_module.ShopMetrics(registry=CollectorRegistry(), trace_directory=tmp_path)
    shop.record_order(region="us", duration_ms=2.0, from_="newsletter")
    shop.record_queue(depth=3)
    (path,) = tmp_path.glob("trace_*.jsonl")
    (entry,) = [json.loads(line) for line in path.read_text().splitlines()]
    assert entry["type"] == "order"
    assert entry["from"] == "newsletter"
    assert "total_tokens" not in entry, "only events with a cost mapping carry total_tokens"


def test_gauges_choose_their_multiprocess_mode(shop: Any) -> None:
    assert shop.shop_queue_depth._multiprocess_mode == "livemostrecent"
    assert shop.shop_basket_items._multiprocess_mode == "livesum"
