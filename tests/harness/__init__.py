"""Live-stack test harness: Prometheus, Alertmanager, capture servers and a metrics app.

Every server binds 127.0.0.1 only, runs in its own temporary directory and is
stopped by PID. Fixtures live in ``tests.harness.fixtures``.
"""

from .capture import CapturedMail, CapturedRequest, CaptureServer, SmtpCapture
from .metrics_app import MetricsApp
from .net import (
    LOOPBACK,
    BoundSocket,
    assert_listens_only_on_loopback,
    bound_sockets,
    free_port,
    http_json,
)
from .process import (
    WaitTimeout,
    assert_no_leftover_processes,
    harness_pids,
    leftover_pids,
    pid_alive,
    require_binary,
    wait_for,
)
from .rewrite import (
    RECEIVER_HEADER,
    rewrite_alertmanager_config,
    rewrite_prometheus_config,
)
from .servers import (
    FAST_CLUSTER_ARGS,
    FAST_ROUTE_TIMING,
    AlertmanagerServer,
    GeneratedConfigPrometheus,
    NodeExporter,
    PrometheusServer,
    ServerStartError,
    start_alertmanager_cluster,
    stop_servers,
)

__all__ = [
    "FAST_CLUSTER_ARGS",
    "FAST_ROUTE_TIMING",
    "LOOPBACK",
    "RECEIVER_HEADER",
    "AlertmanagerServer",
    "BoundSocket",
    "CaptureServer",
    "CapturedMail",
    "CapturedRequest",
    "GeneratedConfigPrometheus",
    "MetricsApp",
    "NodeExporter",
    "PrometheusServer",
    "ServerStartError",
    "SmtpCapture",
    "WaitTimeout",
    "assert_listens_only_on_loopback",
    "assert_no_leftover_processes",
    "bound_sockets",
    "free_port",
    "harness_pids",
    "http_json",
    "leftover_pids",
    "pid_alive",
    "require_binary",
    "rewrite_alertmanager_config",
    "rewrite_prometheus_config",
    "start_alertmanager_cluster",
    "stop_servers",
    "wait_for",
]
