"""The typed model every target consumes. No YAML, no I/O: plain frozen values.

Every named item keeps `path`, its place in the spec document (`("alerts", 3)`),
so a finding about it can be shown at the right line and column.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import field
from enum import Enum
from typing import Any, TypeVar

from monitorgen.immutable import immutable

Path = tuple[str | int, ...]
_Derived = TypeVar("_Derived")


class MetricType(Enum):
    COUNTER = "counter"
    GAUGE = "gauge"
    HISTOGRAM = "histogram"
    SUMMARY = "summary"


class Severity(Enum):
    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"


#: What the generated module records instead of a value outside a label's `values` or
#: past its `max_values`: a query may select it to watch for such values.
OTHER_LABEL_VALUE = "other"


@immutable
class Label:
    name: str
    values: tuple[str, ...] = ()
    """Allowed values; empty means any value (bounded by `max_values`). The module
    records OTHER_LABEL_VALUE for any other."""
    max_values: int | None = None
    description: str = ""


@immutable
class Metric:
    name: str
    type: MetricType
    help: str
    unit: str = ""
    labels: tuple[Label, ...] = ()
    buckets: tuple[float, ...] = ()
    path: Path = ()

    @property
    def label_names(self) -> tuple[str, ...]:
        return tuple(label.name for label in self.labels)

    def series_names(self) -> tuple[str, ...]:
        """The names Prometheus stores for this metric."""
        if self.type is MetricType.HISTOGRAM:
            return (f"{self.name}_bucket", f"{self.name}_sum", f"{self.name}_count")
        if self.type is MetricType.SUMMARY:
            return (self.name, f"{self.name}_sum", f"{self.name}_count")
        return (self.name,)


class QueryFunction(Enum):
    RATE = "rate"
    INCREASE = "increase"
    VALUE = "value"
    QUANTILE = "quantile"
    RATIO = "ratio"
    AVG_OVER_TIME = "avg_over_time"
    MAX_OVER_TIME = "max_over_time"
    MIN_OVER_TIME = "min_over_time"


@immutable
class Matcher:
    """`label` matches `value` exactly, or any of `values` (as a regex alternation)."""

    label: str
    values: tuple[str, ...]

    @property
    def is_regex(self) -> bool:
        return len(self.values) > 1


@immutable
class Query:
    """A structured query over one declared metric; compiled to PromQL by `monitorgen.promql`."""

    metric: str
    function: QueryFunction
    aggregation: str = "sum"
    window: str = "5m"
    by: tuple[str, ...] = ()
    where: tuple[Matcher, ...] = ()
    total_where: tuple[Matcher, ...] = ()
    quantile: float = 0.95
    scale: float | None = None
    written: frozenset[str] = field(default=frozenset(), compare=False)
    """The fields the spec wrote; the others hold defaults. Not part of equality: queries
    that compute the same PromQL are equal however they were written."""


class Comparison(Enum):
    ABOVE = ">"
    BELOW = "<"


@immutable
class Threshold:
    comparison: Comparison
    value: float
    text: str
    """The number exactly as the spec wrote it, so output carries no float noise."""


@immutable
class ExpectedFiring:
    """A series a hand-written test expects the alert to fire for."""

    labels: tuple[tuple[str, str], ...]
    """The series' labels, as the expression returns them (the alert adds its own)."""
    value: float | None = None
    """The expression's value, which the labels and annotations may show as $value."""


@immutable
class AlertTest:
    """A hand-written promtool test of one alert: input series, and at time `at` the
    series it fires for (none: it stays silent)."""

    name: str
    input_series: tuple[tuple[str, str], ...]
    """(series, values in promtool's expanding notation)."""
    at: str
    fires: tuple[ExpectedFiring, ...]
    interval: str | None = None
    path: Path = ()


@immutable
class Alert:
    name: str
    severity: Severity
    summary: str
    expr: str
    """The complete PromQL condition (compiled from `query` + `threshold`, or raw)."""
    query: Query | None = None
    threshold: Threshold | None = None
    for_: str = "0s"
    keep_firing_for: str | None = None
    description: str = ""
    runbook_url: str | None = None
    labels: tuple[tuple[str, str], ...] = ()
    annotations: tuple[tuple[str, str], ...] = ()
    dashboard_uid: str | None = None
    dashboard_panel: str | None = None
    tests: tuple[AlertTest, ...] = ()
    path: Path = ()

    @property
    def is_structured(self) -> bool:
        return self.query is not None


@immutable
class RecordingRule:
    record: str
    expr: str
    labels: tuple[tuple[str, str], ...] = ()
    query: Query | None = None
    path: Path = ()


@immutable
class Selector:
    metric: str
    where: tuple[Matcher, ...] = ()
    series: str = ""
    """The stored series it reads when not the metric's name (a histogram's `_count`)."""

    @property
    def stored(self) -> str:
        return self.series or self.metric


@immutable
class RatioSli:
    errors: Selector
    total: Selector


@immutable
class LatencySli:
    metric: str
    """A histogram; the SLI counts requests slower than `threshold` seconds as errors."""
    threshold: float
    threshold_text: str
    where: tuple[Matcher, ...] = ()


#: What a raw SLI writes where each burn-rate window goes.
WINDOW_PLACEHOLDER = "{{window}}"


@immutable
class RawSli:
    error_ratio_query: str
    """PromQL with WINDOW_PLACEHOLDER standing for each burn-rate window."""


@immutable
class SloTier:
    enabled: bool
    severity: Severity
    labels: tuple[tuple[str, str], ...] = ()


@immutable
class Slo:
    name: str
    objective: float
    """Target in percent, e.g. 99.5."""
    objective_text: str
    period: str
    sli: RatioSli | LatencySli | RawSli
    page: SloTier
    ticket: SloTier
    alert_name: str
    description: str = ""
    summary: str = ""
    runbook_url: str | None = None
    by: tuple[str, ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    absent_alert: bool = True
    path: Path = ()


class PanelType(Enum):
    TIMESERIES = "timeseries"
    STAT = "stat"
    GAUGE = "gauge"
    BARGAUGE = "bargauge"
    TABLE = "table"
    HEATMAP = "heatmap"


@immutable
class PanelQuery:
    expr: str
    """PromQL as Grafana should run it (structured queries use `$__rate_interval`)."""
    legend: str = ""
    query: Query | None = None
    explicit_window: bool = False
    distribution: bool = False
    """A heatmap of a histogram: the rate of each bucket, not `query`'s quantile."""


@immutable
class PanelThreshold:
    value: float
    color: str


@immutable
class Panel:
    title: str
    type: PanelType
    queries: tuple[PanelQuery, ...]
    description: str = ""
    unit: str | None = None
    min: float | None = None
    max: float | None = None
    decimals: int | None = None
    stack: bool = False
    width: int | None = None
    height: int | None = None
    thresholds: tuple[PanelThreshold, ...] = ()
    alerts: tuple[str, ...] = ()
    """Alerts drawn on this panel: listed in the spec, or found by shared metrics."""
    links: tuple[tuple[str, str], ...] = ()
    time_from: str | None = None
    """The panel's own time range: `now/d` (today so far), `now/M`, or a duration."""
    path: Path = ()


@immutable
class Row:
    title: str
    panels: tuple[Panel, ...]
    collapsed: bool = False


@immutable
class Variable:
    name: str
    label: str
    metric: str
    multi: bool = True
    include_all: bool = True


@immutable
class Dashboard:
    uid: str
    title: str
    rows: tuple[Row, ...]
    description: str = ""
    tags: tuple[str, ...] = ()
    refresh: str = "1m"
    time: str = "6h"
    variables: tuple[Variable, ...] = ()
    path: Path = ()

    def panels(self) -> tuple[Panel, ...]:
        return tuple(panel for row in self.rows for panel in row.panels)


@immutable
class EmailConfig:
    to: str
    from_: str | None = None
    smarthost: str | None = None
    auth_username: str | None = None
    auth_password_file: str | None = None
    auth_identity: str | None = None
    require_tls: bool | None = None
    send_resolved: bool = True
    subject: str | None = None
    html: str | None = None
    text: str | None = None


@immutable
class SlackConfig:
    api_url_file: str
    channel: str | None = None
    username: str | None = None
    title: str | None = None
    text: str | None = None
    icon_emoji: str | None = None
    send_resolved: bool = True


@immutable
class WebhookConfig:
    url: str
    credentials_file: str | None = None
    auth_type: str = "Bearer"
    max_alerts: int = 0
    send_resolved: bool = True


@immutable
class PagerdutyConfig:
    routing_key_file: str | None = None
    service_key_file: str | None = None
    severity: str | None = None
    description: str | None = None
    send_resolved: bool = True


@immutable
class OpsgenieResponder:
    type: str
    name: str


@immutable
class OpsgenieConfig:
    api_key_file: str
    priority: str | None = None
    message: str | None = None
    description: str | None = None
    responders: tuple[OpsgenieResponder, ...] = ()
    send_resolved: bool = True


@immutable
class Receiver:
    name: str
    email: tuple[EmailConfig, ...] = ()
    slack: tuple[SlackConfig, ...] = ()
    webhook: tuple[WebhookConfig, ...] = ()
    pagerduty: tuple[PagerdutyConfig, ...] = ()
    opsgenie: tuple[OpsgenieConfig, ...] = ()
    path: Path = ()


@immutable
class RouteMatcher:
    """An Alertmanager matcher: `label op value` with op one of = != =~ !~."""

    label: str
    op: str
    value: str

    def __str__(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace('"', '\\"')
        return f'{self.label}{self.op}"{escaped}"'


@immutable
class Route:
    receiver: str | None = None
    matchers: tuple[RouteMatcher, ...] = ()
    group_by: tuple[str, ...] | None = None
    group_wait: str | None = None
    group_interval: str | None = None
    repeat_interval: str | None = None
    continue_: bool = False
    mute_time_intervals: tuple[str, ...] = ()
    active_time_intervals: tuple[str, ...] = ()
    routes: tuple[Route, ...] = ()
    path: Path = ()


@immutable
class TimeRange:
    start: str
    end: str


@immutable
class TimeInterval:
    name: str
    times: tuple[TimeRange, ...] = ()
    weekdays: tuple[str, ...] = ()
    days_of_month: tuple[str, ...] = ()
    months: tuple[str, ...] = ()
    years: tuple[str, ...] = ()
    location: str | None = None
    path: Path = ()


@immutable
class InhibitRule:
    source: tuple[RouteMatcher, ...]
    target: tuple[RouteMatcher, ...]
    equal: tuple[str, ...] = ()
    path: Path = ()


@immutable
class RoutingTest:
    labels: tuple[tuple[str, str], ...]
    receivers: tuple[str, ...]
    path: Path = ()


@immutable
class Routing:
    """The route tree: `root` carries the default receiver and grouping."""

    root: Route
    time_intervals: tuple[TimeInterval, ...] = ()
    inhibit_rules: tuple[InhibitRule, ...] = ()
    tests: tuple[RoutingTest, ...] = ()


@immutable
class EventField:
    name: str
    type: str
    """One of str, int, float, bool."""
    description: str = ""
    default: str | int | float | bool | None = None
    optional: bool = False

    @property
    def required(self) -> bool:
        return self.default is None and not self.optional


class UpdateOp(Enum):
    INC = "inc"
    OBSERVE = "observe"
    SET = "set"


@immutable
class EventUpdate:
    metric: str
    op: UpdateOp
    field: str | None
    """The event field giving the amount; None means the constant `amount`."""
    amount: float = 1.0
    scale: float | None = None
    labels: tuple[tuple[str, str], ...] = ()
    """Label name -> `$field` (the event field's value) or a literal value."""
    path: Path = ()


@immutable
class CostMapping:
    """Which event fields the pricing table reads to compute the cost field."""

    field: str
    model: str
    input_tokens: str
    output_tokens: str
    cached_input_tokens: str | None = None
    reasoning_tokens: str | None = None


@immutable
class Event:
    name: str
    fields: tuple[EventField, ...]
    updates: tuple[EventUpdate, ...]
    description: str = ""
    cost: CostMapping | None = None
    trace: bool = True
    path: Path = ()


@immutable
class ModelPrice:
    """USD (or the table's currency) per one million tokens."""

    input: float
    output: float
    cached_input: float | None = None
    reasoning: float | None = None


@immutable
class Pricing:
    currency: str
    models: tuple[tuple[str, ModelPrice], ...]


@immutable
class Baseline:
    tokens_per_request: float | None = None
    cost_per_request: float | None = None


@immutable
class TurnedOff:
    """An alert item with `enabled: false` (a whole alert, or a switch with no expression
    of its own): every alert of its name (and severity, when it gives one) is left out."""

    name: str
    severity: Severity | None
    path: Path
    names_nothing: bool
    """A switch (no alert of its own) whose name (and severity) no whole alert has."""

    def turns_off(self, alert: Alert) -> bool:
        return alert.name == self.name and self.severity in (None, alert.severity)


@immutable
class ScrapeJob:
    """One job Prometheus scrapes: static `targets` or the `target_files` listing them."""

    job: str
    targets: tuple[str, ...] = ()
    target_files: tuple[str, ...] = ()
    metrics_path: str = "/metrics"
    scheme: str = "http"
    scrape_interval: str | None = None
    """None: the global interval."""
    labels: tuple[tuple[str, str], ...] = ()
    credentials_file: str | None = None
    ca_file: str | None = None
    path: Path = ()


#: Where the service's own job is scraped when the spec names no targets.
DEFAULT_TARGET = "localhost:8000"


@immutable
class PrometheusSettings:
    job: str
    targets: tuple[str, ...]
    metrics_path: str = "/metrics"
    scheme: str = "http"
    scrape_interval: str = "15s"
    evaluation_interval: str = "1m"
    alertmanagers: tuple[str, ...] = ("localhost:9093",)
    external_labels: tuple[tuple[str, str], ...] = ()
    url: str = "http://localhost:9090"
    """Where Grafana reaches this Prometheus server."""
    target_files: tuple[str, ...] = ()
    credentials_file: str | None = None
    ca_file: str | None = None
    scrape_jobs: tuple[ScrapeJob, ...] = ()
    """The exporters scraped besides the service itself."""

    @property
    def instance(self) -> str:
        """An `instance` label the service's series may carry (in generated tests)."""
        return self.targets[0] if self.targets else DEFAULT_TARGET

    def service_job(self) -> ScrapeJob:
        return ScrapeJob(
            job=self.job,
            targets=self.targets,
            target_files=self.target_files,
            metrics_path=self.metrics_path,
            scheme=self.scheme,
            credentials_file=self.credentials_file,
            ca_file=self.ca_file,
            path=("prometheus",),
        )

    def jobs(self) -> tuple[ScrapeJob, ...]:
        """Every job this Prometheus scrapes, the service's own first."""
        return (self.service_job(), *self.scrape_jobs)


@immutable
class GrafanaSettings:
    url: str | None = None
    folder: str = ""


@immutable
class TraceSettings:
    directory: str = "logs"
    log_content: bool = False


@immutable
class ReportMail:
    """Where the daily report is e-mailed; the password only ever comes from a file."""

    to: tuple[str, ...]
    from_: str
    smarthost: str
    """`host` or `host:port`."""
    auth_username: str | None = None
    auth_password_file: str | None = None
    require_tls: bool = True


#: The event whose trace entries the daily report counts (their `type`).
LLM_CALL = "llm_call"


@immutable
class ReportSettings:
    """The daily report (`report:`): what the schedule target runs and where it delivers."""

    title: str
    working_directory: str
    """Absolute folder the scheduled report runs in (holds the spec, traces and archive)."""
    schedule: str = "0 1 * * *"
    """A 5-field cron expression in the host's time zone."""
    archive_dir: str = "reports"
    mail: ReportMail | None = None
    path: Path = ()


#: A retention tier that never expires.
FOREVER = "forever"


@immutable
class RetentionSeries:
    """A declared metric whose hourly and daily aggregates are recorded and kept."""

    metric: str
    by: tuple[str, ...]
    """Labels the aggregates keep besides `job`."""
    path: Path = ()


@immutable
class RemoteWrite:
    """The long-term store the aggregates are shipped to; secrets only as files."""

    url: str
    name: str
    credentials_file: str | None = None
    auth_type: str = "Bearer"
    auth_username: str | None = None
    auth_password_file: str | None = None
    path: Path = ()


@immutable
class Retention:
    """How long each resolution is kept (`retention:`); periods are durations or FOREVER."""

    raw: str = "7d"
    hourly: str = "30d"
    daily: str = "1y"
    monthly: str = FOREVER
    series: tuple[RetentionSeries, ...] | None = None
    """None: the counters and histograms the generated recordings aggregate."""
    remote_write: RemoteWrite | None = None
    thanos: bool = False
    path: Path = ("retention",)


@immutable
class Spec:
    """One service's whole monitoring, as every target sees it."""

    name: str
    """The output folder name: the spec file's stem, plus `.<environment>` when one applies."""
    service: str
    source: str
    """The spec file as the user named it, for generated headers."""
    title: str
    description: str
    prometheus: PrometheusSettings
    grafana: GrafanaSettings
    metrics: tuple[Metric, ...] = ()
    external_metrics: tuple[str, ...] = ()
    events: tuple[Event, ...] = ()
    alerts: tuple[Alert, ...] = ()
    alerts_turned_off: tuple[TurnedOff, ...] = ()
    """The items with `enabled: false`; `alerts` holds none of what they turn off."""
    alerts_of_environments: frozenset[str] = frozenset()
    """The names of the alerts the spec's environments declare: routing, which every
    environment shares, may name an alert only some of them have."""
    recording_rules: tuple[RecordingRule, ...] = ()
    slos: tuple[Slo, ...] = ()
    dashboards: tuple[Dashboard, ...] = ()
    receivers: tuple[Receiver, ...] = ()
    routing: Routing | None = None
    default_inhibit: bool = True
    pricing: Pricing | None = None
    baseline: Baseline | None = None
    trace: TraceSettings = field(default_factory=TraceSettings)
    report: ReportSettings | None = None
    retention: Retention | None = None
    runbook_base_url: str | None = None
    lint_disabled: tuple[str, ...] = ()
    environment: str | None = None

    def metric(self, name: str) -> Metric | None:
        return self._metrics_by_name().get(name)

    def _metrics_by_name(self) -> dict[str, Metric]:
        cache: dict[str, Metric] | None = self.__dict__.get("_metric_index")
        if cache is None:
            cache = {}
            for metric in self.metrics:  # the first of a name, as the duplicate check says
                cache.setdefault(metric.name, metric)
            object.__setattr__(self, "_metric_index", cache)
        return cache

    def metric_for_series(self, series: str) -> Metric | None:
        """The declared metric behind a stored series name (`x_bucket` -> histogram `x`).
        Remembered per name: checks ask about every selector of thousands of expressions."""
        found: dict[str, Metric | None] = self.__dict__.setdefault("_series_index", {})
        if series not in found:
            found[series] = self._find_metric_for_series(series)
        return found[series]

    def _find_metric_for_series(self, series: str) -> Metric | None:
        direct = self.metric(series)
        if direct is not None:
            return direct
        for suffix in ("_bucket", "_sum", "_count"):
            if series.endswith(suffix):
                base = self.metric(series.removesuffix(suffix))
                if base is not None and series in base.series_names():
                    return base
        return None

    def alert(self, name: str) -> Alert | None:
        return _first_by_name(self, "_alert_index", self.alerts).get(name)

    def alerts_named(self, name: str) -> tuple[Alert, ...]:
        """Every alert of the name: alerts may share one when their severities differ
        (a warning and a critical tier of one condition)."""
        first = self.alert(name)
        if first is None:
            return ()
        index: dict[str, tuple[Alert, ...]] = self.derived("alerts_sharing_a_name", self._shared)
        return index.get(name, (first,))

    def _shared(self) -> dict[str, tuple[Alert, ...]]:
        by_name: dict[str, list[Alert]] = {}
        for alert in self.alerts:
            by_name.setdefault(alert.name, []).append(alert)
        return {name: tuple(found) for name, found in by_name.items() if len(found) > 1}

    def receiver(self, name: str) -> Receiver | None:
        return _first_by_name(self, "_receiver_index", self.receivers).get(name)

    def derived(self, key: str, compute: Callable[[], _Derived]) -> _Derived:
        """A value computed from this spec once (rule groups, panel links): the spec is
        frozen, so it never goes stale, and checks and targets share one copy."""
        cache: dict[str, Any] = self.__dict__.setdefault("_derived", {})
        if key not in cache:
            cache[key] = compute()
        value: _Derived = cache[key]
        return value


_Named = TypeVar("_Named", Alert, Receiver)


def _first_by_name(spec: Spec, key: str, items: tuple[_Named, ...]) -> dict[str, _Named]:
    """Name -> the first item of that name, built once per spec (which is frozen), so
    lookups in a loop over thousands of alerts stay linear."""
    index: dict[str, _Named] | None = spec.__dict__.get(key)
    if index is None:
        index = {}
        for item in items:
            index.setdefault(item.name, item)
        object.__setattr__(spec, key, index)
    return index
