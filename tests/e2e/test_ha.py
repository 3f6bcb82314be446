"""High availability: one Prometheus sends the flagship's alerts to two clustered
Alertmanagers and, as a control, to two unclustered ones, all with the generated config.

The alerts are the flagship's real "no data" alerts (LlmAvailabilitySliAbsent,
LlmLatencySliAbsent), which fire as soon as Prometheus evaluates its rules because no
application is running. Each goes to the `slack` receiver. The clustered pair must deliver
each exactly once, the unclustered pair twice: so a broken deduplication is noticed.

How long to wait before counting: a clustered Alertmanager at position p in the cluster
holds a notification for p * --cluster.peer-timeout and then sends it unless the
notification log gossiped by its peers shows it was sent. With two members the duplicate,
if deduplication failed, would leave one peer timeout after the first notification. The
test runs the cluster with a 1 s peer timeout (gossip every 50 ms settles the log in well
under that) and counts PEER_TIMEOUT + DELIVERY_MARGIN after the first notification.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest
import yaml

from tests.harness import (
    FAST_CLUSTER_ARGS,
    AlertmanagerServer,
    CaptureServer,
    PrometheusServer,
    SmtpCapture,
    assert_listens_only_on_loopback,
    require_binary,
    start_alertmanager_cluster,
    stop_servers,
)

from . import notifications
from .overrides import compress_rules
from .stack import ROUTE_TIMING, SCRAPE_INTERVAL, TIMEOUT, alertmanager_files, build_spec

pytestmark = pytest.mark.e2e

SPEC = Path(__file__).resolve().parents[2] / "specs" / "llm.yaml"
ALERTS = ("LlmAvailabilitySliAbsent", "LlmLatencySliAbsent")
RECEIVER = "slack"
PEER_TIMEOUT = 1.0
DELIVERY_MARGIN = 1.0


@dataclass
class AlertmanagerPair:
    members: list[AlertmanagerServer]
    capture: CaptureServer

    def deliveries(self, alertname: str) -> int:
        """Firing notifications of the receiver that carry the alert."""
        return sum(
            1
            for request in self.capture.for_receiver(RECEIVER)
            if notifications.from_request(request).about(alertname)
        )


@dataclass
class HaStack:
    clustered: AlertmanagerPair
    unclustered: AlertmanagerPair
    prometheus: PrometheusServer


@pytest.fixture(scope="module")
def ha(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HaStack]:
    require_binary("prometheus")
    require_binary("prometheus-alertmanager")
    workdir = tmp_path_factory.mktemp("ha-stack")
    build_spec(SPEC, workdir / "build")
    out = workdir / "build" / SPEC.stem
    config = (out / "alertmanager" / "alertmanager.yml").read_text()
    templates = alertmanager_files(out)
    with ExitStack() as cleanup:
        captures = [cleanup.enter_context(CaptureServer()) for _ in range(2)]
        mails = [cleanup.enter_context(SmtpCapture()) for _ in range(2)]
        started: list[AlertmanagerServer | PrometheusServer] = []
        cleanup.callback(lambda: stop_servers(reversed(started)))
        cluster = start_alertmanager_cluster(
            config,
            2,
            captures[0],
            mails[0],
            workdirs=[workdir / "am-clustered-0", workdir / "am-clustered-1"],
            route_timing=ROUTE_TIMING,
            extra_files=templates,
            extra_args=(*FAST_CLUSTER_ARGS, f"--cluster.peer-timeout={PEER_TIMEOUT:g}s"),
        )
        started.extend(cluster)
        solo = []
        for index in range(2):
            server = AlertmanagerServer(
                config,
                captures[1],
                mails[1],
                route_timing=ROUTE_TIMING,
                extra_files=templates,
                workdir=workdir / f"am-solo-{index}",
            )
            started.append(server)
            solo.append(server.start())
        rules = compress_rules(yaml.safe_load((out / "prometheus" / "rules.yml").read_text()))
        prometheus = PrometheusServer(
            (out / "prometheus" / "prometheus.yml").read_text(),
            {"rules.yml": rules},
            alertmanagers=[m.address for m in [*cluster, *solo]],
            interval=SCRAPE_INTERVAL,
            workdir=workdir / "prometheus",
        )
        started.append(prometheus)
        prometheus.start()
        yield HaStack(
            AlertmanagerPair(cluster, captures[0]), AlertmanagerPair(solo, captures[1]), prometheus
        )


def _count_after_duplicates_had_time(pair: AlertmanagerPair) -> dict[str, int]:
    def all_delivered() -> bool:
        return all(pair.deliveries(alertname) for alertname in ALERTS)

    pair.members[0].wait_for(all_delivered, TIMEOUT, "every alert delivered")
    time.sleep(PEER_TIMEOUT + DELIVERY_MARGIN)
    return {alertname: pair.deliveries(alertname) for alertname in ALERTS}


def _peer_count_is(member: AlertmanagerServer, count: int) -> bool:
    return len(member.status()["cluster"]["peers"]) == count


def test_servers_listen_only_on_loopback(ha: HaStack) -> None:
    for server in [*ha.clustered.members, *ha.unclustered.members, ha.prometheus]:
        assert_listens_only_on_loopback(server.pid)


def test_clustered_alertmanagers_form_one_cluster(ha: HaStack) -> None:
    for member in ha.clustered.members:
        assert member.wait_for(partial(_peer_count_is, member, 2), 10, "two peers")
    for member in ha.unclustered.members:
        assert member.status()["cluster"]["status"] == "disabled"


def test_clustered_pair_delivers_each_alert_exactly_once(ha: HaStack) -> None:
    assert _count_after_duplicates_had_time(ha.clustered) == dict.fromkeys(ALERTS, 1)


def test_unclustered_pair_delivers_each_alert_twice(ha: HaStack) -> None:
    assert _count_after_duplicates_had_time(ha.unclustered) == dict.fromkeys(ALERTS, 2)
