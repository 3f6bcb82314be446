"""Map a schema-valid spec document to the typed model. Defaults are applied here only."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from monitorgen import model as m
from monitorgen.promql import (
    compile_condition,
    compile_distribution,
    compile_query,
    format_number,
)
from monitorgen.spec.loader import is_alert_switch

_ROUTE_MATCHER = re.compile(
    r"^\s*(?P<label>[a-zA-Z_][a-zA-Z0-9_]*)\s*(?P<op>=~|!~|!=|=)\s*"
    r'(?:"(?P<quoted>(?:[^"\\]|\\.)*)"|(?P<bare>[^"\s]*))\s*$'
)

DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def to_model(
    doc: Mapping[str, Any],
    *,
    name: str,
    source: str,
    environment: str | None,
    environments_of: Mapping[str, Any] | None = None,
) -> m.Spec:
    """Build the model; `doc` must already have passed the schema. `environments_of` is
    the spec whose `environments` an environment's model is made from (`doc` itself by
    default)."""
    service = doc["service"]
    metrics = tuple(_metric(x, ("metrics", i)) for i, x in enumerate(doc.get("metrics", [])))
    by_name: dict[str, m.Metric] = {}
    for metric in metrics:  # the first of a name: a duplicate is reported at the second
        by_name.setdefault(metric.name, metric)
    raw_alerts = doc.get("alerts", [])
    turned_off = _turned_off(raw_alerts)
    alerts = tuple(
        alert
        for alert in (
            _alert(x, ("alerts", i), by_name, doc.get("runbook_base_url"))
            for i, x in enumerate(raw_alerts)
            if not is_alert_switch(x)
        )
        if not any(off.turns_off(alert) for off in turned_off)
    )
    alerts_by_measure = _alerts_by_measure(alerts)
    # Every tier turned off: a panel that lists the alert no longer shows it.
    turned_off_names = frozenset(off.name for off in turned_off) - {a.name for a in alerts}
    routing = doc.get("routing")
    return m.Spec(
        name=name,
        service=service,
        source=source,
        title=doc.get("title", service),
        description=doc.get("description", ""),
        prometheus=_prometheus(doc.get("prometheus", {}), service),
        grafana=m.GrafanaSettings(**_pick(doc.get("grafana", {}), "url", "folder")),
        metrics=metrics,
        external_metrics=tuple(doc.get("external_metrics", ())),
        events=tuple(_event(x, ("events", i)) for i, x in enumerate(doc.get("events", []))),
        alerts=alerts,
        alerts_turned_off=turned_off,
        alerts_of_environments=_alerts_of_environments(environments_of or doc),
        recording_rules=tuple(
            _recording_rule(x, ("recording_rules", i), by_name)
            for i, x in enumerate(doc.get("recording_rules", []))
        ),
        slos=tuple(
            _slo(x, ("slos", i), service, by_name) for i, x in enumerate(doc.get("slos", []))
        ),
        dashboards=tuple(
            _dashboard(x, ("dashboards", i), by_name, alerts_by_measure, turned_off_names)
            for i, x in enumerate(doc.get("dashboards", []))
        ),
        receivers=tuple(
            _receiver(x, ("receivers", i)) for i, x in enumerate(doc.get("receivers", []))
        ),
        routing=_routing(routing) if routing else None,
        default_inhibit=bool(routing.get("default_inhibit", True)) if routing else True,
        pricing=_pricing(doc["pricing"]) if "pricing" in doc else None,
        baseline=m.Baseline(**_pick(doc["baseline"], "tokens_per_request", "cost_per_request"))
        if "baseline" in doc
        else None,
        trace=m.TraceSettings(**_pick(doc.get("trace", {}), "directory", "log_content")),
        report=_report(doc["report"], doc, service) if "report" in doc else None,
        retention=_retention(doc["retention"], service, by_name) if "retention" in doc else None,
        runbook_base_url=doc.get("runbook_base_url"),
        lint_disabled=tuple(doc.get("lint", {}).get("disable", ())),
        environment=environment,
    )


def _pick(source: Mapping[str, Any], *keys: str) -> dict[str, Any]:
    return {k: source[k] for k in keys if k in source}


def _pairs(mapping: Mapping[str, str] | None) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((mapping or {}).items()))


def _prometheus(raw: Mapping[str, Any], service: str) -> m.PrometheusSettings:
    files = tuple(raw.get("target_files", ()))
    default_targets = () if files else (m.DEFAULT_TARGET,)
    path: m.Path = ("prometheus", "scrape_jobs")
    return m.PrometheusSettings(
        job=raw.get("job", service),
        targets=tuple(raw.get("targets", default_targets)),
        target_files=files,
        credentials_file=raw.get("credentials_file"),
        ca_file=raw.get("ca_file"),
        scrape_jobs=tuple(
            _scrape_job(job, (*path, i)) for i, job in enumerate(raw.get("scrape_jobs", ()))
        ),
        metrics_path=raw.get("metrics_path", "/metrics"),
        scheme=raw.get("scheme", "http"),
        scrape_interval=raw.get("scrape_interval", "15s"),
        evaluation_interval=raw.get("evaluation_interval", "1m"),
        alertmanagers=tuple(raw.get("alertmanagers", ("localhost:9093",))),
        external_labels=_pairs(raw.get("external_labels")),
        url=raw.get("url", "http://localhost:9090"),
    )


def _scrape_job(raw: Mapping[str, Any], path: m.Path) -> m.ScrapeJob:
    return m.ScrapeJob(
        job=raw["job"],
        targets=tuple(raw.get("targets", ())),
        target_files=tuple(raw.get("target_files", ())),
        metrics_path=raw.get("metrics_path", "/metrics"),
        scheme=raw.get("scheme", "http"),
        scrape_interval=raw.get("scrape_interval"),
        labels=_pairs(raw.get("labels")),
        credentials_file=raw.get("credentials_file"),
        ca_file=raw.get("ca_file"),
        path=path,
    )


def _metric(raw: Mapping[str, Any], path: m.Path) -> m.Metric:
    kind = m.MetricType(raw["type"])
    buckets = tuple(float(b) for b in raw.get("buckets", ()))
    if kind is m.MetricType.HISTOGRAM and not buckets:
        buckets = DEFAULT_BUCKETS
    return m.Metric(
        name=raw["name"],
        type=kind,
        help=raw["help"],
        unit=raw.get("unit", ""),
        labels=tuple(_label(x) for x in raw.get("labels", ())),
        buckets=buckets,
        path=path,
    )


def _label(raw: str | Mapping[str, Any]) -> m.Label:
    if isinstance(raw, str):
        return m.Label(raw)
    return m.Label(
        name=raw["name"],
        values=tuple(raw.get("values", ())),
        max_values=raw.get("max_values"),
        description=raw.get("description", ""),
    )


def _matchers(raw: Mapping[str, Any] | None) -> tuple[m.Matcher, ...]:
    result = []
    for label, value in sorted((raw or {}).items()):
        values = tuple(value) if isinstance(value, list) else (value,)
        result.append(m.Matcher(label, values))
    return tuple(result)


def default_function(metric: m.Metric | None) -> m.QueryFunction:
    if metric is None or metric.type is m.MetricType.COUNTER:
        return m.QueryFunction.RATE
    if metric.type is m.MetricType.HISTOGRAM:
        return m.QueryFunction.QUANTILE
    return m.QueryFunction.VALUE


#: How series combine when a condition names no aggregation: a gauge's reading across
#: replicas is its highest (or lowest, or average) one, not their sum; counters add up.
_DEFAULT_AGGREGATION = {
    m.QueryFunction.VALUE: "max",
    m.QueryFunction.MAX_OVER_TIME: "max",
    m.QueryFunction.MIN_OVER_TIME: "min",
    m.QueryFunction.AVG_OVER_TIME: "avg",
}


def _query(raw: Mapping[str, Any], metrics: Mapping[str, m.Metric]) -> m.Query:
    metric = metrics.get(raw["metric"])
    function = m.QueryFunction(raw["function"]) if "function" in raw else default_function(metric)
    return m.Query(
        metric=raw["metric"],
        function=function,
        aggregation=raw.get("aggregation", _DEFAULT_AGGREGATION.get(function, "sum")),
        window=raw.get("window", "5m"),
        by=tuple(raw.get("by", ())),
        where=_matchers(raw.get("where")),
        total_where=_matchers(raw.get("total_where")),
        quantile=float(raw.get("quantile", 0.95)),
        scale=raw.get("scale"),
        written=frozenset(raw),
    )


def compile_if_declared(query: m.Query, metrics: Mapping[str, m.Metric], **kw: Any) -> str:
    """PromQL for a query; an undeclared metric compiles as a counter (checks report it)."""
    return compile_query(query, _declared(query, metrics), **kw)


def _declared(query: m.Query, metrics: Mapping[str, m.Metric]) -> m.Metric:
    return metrics.get(query.metric) or m.Metric(query.metric, m.MetricType.COUNTER, "")


def _threshold(raw: Mapping[str, Any]) -> m.Threshold:
    key = "above" if "above" in raw else "below"
    comparison = m.Comparison.ABOVE if key == "above" else m.Comparison.BELOW
    return m.Threshold(comparison, float(raw[key]), format_number(raw[key]))


def _turned_off(raw_alerts: list[Mapping[str, Any]]) -> tuple[m.TurnedOff, ...]:
    found = []
    for index, raw in enumerate(raw_alerts):
        if raw.get("enabled", True):
            continue
        severity = m.Severity(raw["severity"]) if "severity" in raw else None
        alerts = [
            other
            for other in raw_alerts
            if not is_alert_switch(other)
            and other.get("name") == raw["name"]
            and (severity is None or other.get("severity") == severity.value)
        ]
        names_nothing = is_alert_switch(raw) and not alerts
        found.append(m.TurnedOff(raw["name"], severity, ("alerts", index), names_nothing))
    return tuple(found)


def _alert(
    raw: Mapping[str, Any], path: m.Path, metrics: Mapping[str, m.Metric], runbook_base: str | None
) -> m.Alert:
    query = threshold = None
    if "condition" in raw:
        query = _query(raw["condition"], metrics)
        threshold = _threshold(raw["condition"])
        expr = compile_condition(query, _declared(query, metrics), threshold)
    else:
        expr = raw["expr"].strip()
    runbook = raw.get("runbook_url")
    if runbook is None and runbook_base:
        runbook = f"{runbook_base.rstrip('/')}/{raw['name'].lower()}"
    dashboard = raw.get("dashboard", {})
    return m.Alert(
        name=raw["name"],
        severity=m.Severity(raw["severity"]),
        summary=raw["summary"],
        expr=expr,
        query=query,
        threshold=threshold,
        for_=raw.get("for", "0s"),
        keep_firing_for=raw.get("keep_firing_for"),
        description=raw.get("description", ""),
        runbook_url=runbook,
        labels=_pairs(raw.get("labels")),
        annotations=_pairs(raw.get("annotations")),
        dashboard_uid=dashboard.get("uid"),
        dashboard_panel=dashboard.get("panel"),
        tests=tuple(
            _alert_test(t, i, (*path, "tests", i)) for i, t in enumerate(raw.get("tests", ()))
        ),
        path=path,
    )


def _alert_test(raw: Mapping[str, Any], index: int, path: m.Path) -> m.AlertTest:
    fires = tuple(
        m.ExpectedFiring(_pairs(f.get("labels")), None if "value" not in f else float(f["value"]))
        for f in raw["fires"]
    )
    return m.AlertTest(
        name=raw.get("name", f"test {index + 1}"),
        input_series=tuple((s["series"], s["values"]) for s in raw["input_series"]),
        at=raw["at"],
        fires=fires,
        interval=raw.get("interval"),
        path=path,
    )


def _recording_rule(
    raw: Mapping[str, Any], path: m.Path, metrics: Mapping[str, m.Metric]
) -> m.RecordingRule:
    query = _query(raw["query"], metrics) if "query" in raw else None
    expr = compile_if_declared(query, metrics, recorded=True) if query else raw["expr"].strip()
    return m.RecordingRule(raw["record"], expr, _pairs(raw.get("labels")), query, path)


def _slo_tier(raw: Mapping[str, Any] | None, severity: m.Severity) -> m.SloTier:
    raw = raw or {}
    return m.SloTier(
        enabled=raw.get("enabled", True),
        severity=m.Severity(raw.get("severity", severity.value)),
        labels=_pairs(raw.get("labels")),
    )


def _sli(
    raw: Mapping[str, Any], metrics: Mapping[str, m.Metric]
) -> m.RatioSli | m.LatencySli | m.RawSli:
    if "ratio" in raw:
        ratio = raw["ratio"]
        return m.RatioSli(_counted(ratio["errors"], metrics), _counted(ratio["total"], metrics))
    if "latency" in raw:
        lat = raw["latency"]
        return m.LatencySli(
            lat["metric"],
            float(lat["threshold"]),
            format_number(lat["threshold"]),
            _matchers(lat.get("where")),
        )
    return m.RawSli(raw["raw"]["error_ratio_query"].strip())


def _counted(raw: Mapping[str, Any], metrics: Mapping[str, m.Metric]) -> m.Selector:
    """Events of a metric: a histogram counts them in its `_count` series."""
    metric = metrics.get(raw["metric"])
    histogram = metric is not None and metric.type is m.MetricType.HISTOGRAM
    series = f"{raw['metric']}_count" if histogram else ""
    return m.Selector(raw["metric"], _matchers(raw.get("where")), series)


def _camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[_\-\s]+", name) if part)


def _slo(
    raw: Mapping[str, Any], path: m.Path, service: str, metrics: Mapping[str, m.Metric]
) -> m.Slo:
    alerting = raw.get("alerting", {})
    return m.Slo(
        name=raw["name"],
        objective=float(raw["objective"]),
        objective_text=format_number(raw["objective"]),
        period=raw.get("period", "30d"),
        sli=_sli(raw["sli"], metrics),
        page=_slo_tier(alerting.get("page"), m.Severity.CRITICAL),
        ticket=_slo_tier(alerting.get("ticket"), m.Severity.WARNING),
        alert_name=alerting.get("name", f"{_camel(service)}{_camel(raw['name'])}BudgetBurn"),
        description=raw.get("description", ""),
        summary=alerting.get("summary", ""),
        runbook_url=alerting.get("runbook_url"),
        by=tuple(raw.get("by", ())),
        labels=_pairs(alerting.get("labels")),
        absent_alert=alerting.get("absent", True),
        path=path,
    )


def _panel_query(
    raw: Mapping[str, Any],
    metrics: Mapping[str, m.Metric],
    variables: tuple[m.Variable, ...],
    heatmap: bool = False,
) -> m.PanelQuery:
    """Structured panel queries use `$__rate_interval` unless the spec sets a window,
    and filter by every dashboard variable whose label the metric has. In a heatmap, a
    histogram shows as its buckets' rates, one row per `le`."""
    if "expr" in raw:
        return m.PanelQuery(raw["expr"].strip(), raw.get("legend", ""))
    query = _query(raw, metrics)
    metric = metrics.get(query.metric)
    labels = metric.label_names if metric else ()
    # A ratio's `where` splits the events: filtering both sides by it would make a share
    # of 0 or 1, so a variable on that label does not filter a ratio.
    split = {x.label for x in query.where} if query.function is m.QueryFunction.RATIO else set()
    extra = [
        f'{v.name}=~"${v.name}"' for v in variables if v.name in labels and v.name not in split
    ]
    window = raw.get("window", "$__rate_interval")
    legend = raw.get("legend") or " - ".join("{{" + b + "}}" for b in query.by)
    distribution = query.function in (m.QueryFunction.QUANTILE, m.QueryFunction.RATE)
    explicit_window = "window" in raw
    if heatmap and distribution and metric is not None and metric.type is m.MetricType.HISTOGRAM:
        expr = compile_distribution(query, metric, window, extra)
        legend = raw.get("legend") or "{{le}}"
        return m.PanelQuery(expr, legend, query, explicit_window, distribution=True)
    expr = compile_if_declared(query, metrics, window=window, extra=extra)
    return m.PanelQuery(expr, legend, query, explicit_window)


def _panel(
    raw: Mapping[str, Any],
    path: m.Path,
    metrics: Mapping[str, m.Metric],
    alerts: AlertsByMeasure,
    variables: tuple[m.Variable, ...],
    turned_off: frozenset[str],
) -> m.Panel:
    heatmap = raw.get("type") == m.PanelType.HEATMAP.value
    queries = tuple(_panel_query(q, metrics, variables, heatmap) for q in raw["queries"])
    return m.Panel(
        title=raw["title"],
        type=m.PanelType(raw.get("type", "timeseries")),
        queries=queries,
        description=raw.get("description", ""),
        unit=raw.get("unit"),
        min=raw.get("min"),
        max=raw.get("max"),
        decimals=raw.get("decimals"),
        stack=raw.get("stack", False),
        width=raw.get("width"),
        height=raw.get("height"),
        thresholds=tuple(
            m.PanelThreshold(float(t["value"]), t["color"]) for t in raw.get("thresholds", ())
        ),
        alerts=(
            tuple(a for a in raw["alerts"] if a not in turned_off)
            if "alerts" in raw
            else _alerts_on(queries, alerts)
        ),
        links=tuple((link["title"], link["url"]) for link in raw.get("links", ())),
        time_from=raw.get("time_from"),
        path=path,
    )


#: Structured alerts by what they measure, each as (its place among the alerts, its
#: name, the labels it groups by).
AlertsByMeasure = Mapping[tuple[Any, ...], Sequence[tuple[int, str, frozenset[str]]]]


def _alerts_of_environments(doc: Mapping[str, Any]) -> frozenset[str]:
    """The names of the alerts the environments declare. Each environment is validated
    when it is merged, after the spec itself is modelled: here, what is not a named
    alert is left for that validation to report."""
    environments = doc.get("environments")
    if not isinstance(environments, Mapping):
        return frozenset()
    return frozenset(
        item["name"]
        for section in environments.values()
        if isinstance(section, Mapping) and isinstance(section.get("alerts"), list)
        for item in section["alerts"]
        if isinstance(item, Mapping) and isinstance(item.get("name"), str)
        if not is_alert_switch(item)
    )


def _alerts_by_measure(alerts: tuple[m.Alert, ...]) -> AlertsByMeasure:
    """Grouped once per spec, so finding a panel's alerts does not scan every alert."""
    index: dict[tuple[Any, ...], list[tuple[int, str, frozenset[str]]]] = {}
    for place, alert in enumerate(alerts):
        if alert.query:
            item = (place, alert.name, frozenset(alert.query.by))
            index.setdefault(_measure(alert.query, True), []).append(item)
    return index


def _alerts_on(queries: tuple[m.PanelQuery, ...], alerts: AlertsByMeasure) -> tuple[str, ...]:
    """Structured alerts that measure what a panel shows, in the same unit, in spec order,
    in groups the panel keeps apart (or splits further): a panel's total crosses the line
    of an alert on each topic without any topic alerting."""
    found = {
        (place, name)
        for q in queries
        if q.query
        for place, name, by in alerts.get(_measure(q.query, q.explicit_window), ())
        if by <= set(q.query.by)
    }
    return tuple(dict.fromkeys(name for _place, name in sorted(found)))  # tiers share a name


def _measure(query: m.Query, explicit_window: bool) -> tuple[Any, ...]:
    """What a query measures: rates are per second whatever their window, while an
    increase or an `*_over_time` depends on its window. The aggregation counts too: a
    sum over replicas is not their max. The groups do not: a panel may show finer or
    coarser groups of the measure an alert watches, and the scale does not either (a
    share in percent is the share): the panel draws the threshold in its own scale."""
    per_second = query.function in (
        m.QueryFunction.RATE,
        m.QueryFunction.RATIO,
        m.QueryFunction.QUANTILE,
        m.QueryFunction.VALUE,
    )
    window = None if per_second else (query.window if explicit_window else "$__rate_interval")
    quantile = query.quantile if query.function is m.QueryFunction.QUANTILE else None
    return (
        query.metric,
        query.function,
        quantile,
        query.where,
        query.total_where,
        window,
        query.aggregation,
    )


def _variable(raw: str | Mapping[str, Any], metrics: Mapping[str, m.Metric]) -> m.Variable:
    spec = {"name": raw} if isinstance(raw, str) else dict(raw)
    name = spec["name"]
    metric = spec.get("metric") or next(
        (x.name for x in metrics.values() if name in x.label_names), ""
    )
    if metric and metric in metrics and metrics[metric].type is m.MetricType.HISTOGRAM:
        metric = f"{metric}_count"
    return m.Variable(
        name=name,
        label=spec.get("label", name.replace("_", " ").capitalize()),
        metric=metric,
        multi=bool(spec.get("multi", True)),
        include_all=bool(spec.get("include_all", True)),
    )


def _dashboard(
    raw: Mapping[str, Any],
    path: m.Path,
    metrics: Mapping[str, m.Metric],
    alerts: AlertsByMeasure,
    turned_off: frozenset[str],
) -> m.Dashboard:
    variables = tuple(_variable(v, metrics) for v in raw.get("variables", ()))
    rows = tuple(
        m.Row(
            title=row["title"],
            collapsed=row.get("collapsed", False),
            panels=tuple(
                _panel(p, (*path, "rows", r, "panels", i), metrics, alerts, variables, turned_off)
                for i, p in enumerate(row["panels"])
            ),
        )
        for r, row in enumerate(raw["rows"])
    )
    return m.Dashboard(
        uid=raw["uid"],
        title=raw["title"],
        rows=rows,
        description=raw.get("description", ""),
        tags=tuple(raw.get("tags", ())),
        refresh=raw.get("refresh", "1m"),
        time=raw.get("time", "6h"),
        variables=variables,
        path=path,
    )


def _receiver(raw: Mapping[str, Any], path: m.Path) -> m.Receiver:
    def email(x: Mapping[str, Any]) -> m.EmailConfig:
        fields = _pick(
            x,
            "to",
            "smarthost",
            "auth_username",
            "auth_password_file",
            "auth_identity",
            "require_tls",
            "send_resolved",
            "subject",
            "html",
            "text",
        )
        return m.EmailConfig(from_=x.get("from"), **fields)

    def opsgenie(x: Mapping[str, Any]) -> m.OpsgenieConfig:
        responders = tuple(
            m.OpsgenieResponder(r["type"], r["name"]) for r in x.get("responders", ())
        )
        fields = _pick(x, "api_key_file", "priority", "message", "description", "send_resolved")
        return m.OpsgenieConfig(responders=responders, **fields)

    return m.Receiver(
        name=raw["name"],
        email=tuple(email(x) for x in raw.get("email", ())),
        slack=tuple(m.SlackConfig(**x) for x in raw.get("slack", ())),
        webhook=tuple(m.WebhookConfig(**x) for x in raw.get("webhook", ())),
        pagerduty=tuple(m.PagerdutyConfig(**x) for x in raw.get("pagerduty", ())),
        opsgenie=tuple(opsgenie(x) for x in raw.get("opsgenie", ())),
        path=path,
    )


def parse_route_matcher(text: str) -> m.RouteMatcher:
    match = _ROUTE_MATCHER.match(text)
    if match is None:  # the schema pattern has already refused it
        raise ValueError(f"not a matcher: {text!r}")
    quoted = match.group("quoted")
    value = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else match.group("bare")
    return m.RouteMatcher(match.group("label"), match.group("op"), value)


def _route(raw: Mapping[str, Any], path: m.Path) -> m.Route:
    return m.Route(
        receiver=raw.get("receiver"),
        matchers=tuple(parse_route_matcher(x) for x in raw.get("matchers", ())),
        group_by=tuple(raw["group_by"]) if "group_by" in raw else None,
        group_wait=raw.get("group_wait"),
        group_interval=raw.get("group_interval"),
        repeat_interval=raw.get("repeat_interval"),
        continue_=raw.get("continue", False),
        mute_time_intervals=tuple(raw.get("mute_time_intervals", ())),
        active_time_intervals=tuple(raw.get("active_time_intervals", ())),
        routes=tuple(_route(x, (*path, "routes", i)) for i, x in enumerate(raw.get("routes", ()))),
        path=path,
    )


def _routing(raw: Mapping[str, Any]) -> m.Routing:
    root = _route(
        {
            "receiver": raw["receiver"],
            "group_by": raw.get("group_by", ["alertname", "severity"]),
            "group_wait": raw.get("group_wait", "30s"),
            "group_interval": raw.get("group_interval", "5m"),
            "repeat_interval": raw.get("repeat_interval", "4h"),
            "routes": raw.get("routes", []),
        },
        ("routing",),
    )
    return m.Routing(
        root=root,
        time_intervals=tuple(
            _time_interval(x, ("routing", "time_intervals", i))
            for i, x in enumerate(raw.get("time_intervals", ()))
        ),
        inhibit_rules=tuple(
            m.InhibitRule(
                tuple(parse_route_matcher(s) for s in x["source"]),
                tuple(parse_route_matcher(s) for s in x["target"]),
                tuple(x.get("equal", ())),
                ("routing", "inhibit_rules", i),
            )
            for i, x in enumerate(raw.get("inhibit_rules", ()))
        ),
        tests=tuple(
            m.RoutingTest(_pairs(x["labels"]), tuple(x["receivers"]), ("routing", "tests", i))
            for i, x in enumerate(raw.get("tests", ()))
        ),
    )


def _time_interval(raw: Mapping[str, Any], path: m.Path) -> m.TimeInterval:
    return m.TimeInterval(
        name=raw["name"],
        times=tuple(m.TimeRange(t["start"], t["end"]) for t in raw.get("times", ())),
        weekdays=tuple(raw.get("weekdays", ())),
        days_of_month=tuple(raw.get("days_of_month", ())),
        months=tuple(raw.get("months", ())),
        years=tuple(raw.get("years", ())),
        location=raw.get("location"),
        path=path,
    )


def _event(raw: Mapping[str, Any], path: m.Path) -> m.Event:
    cost = raw.get("cost")
    return m.Event(
        name=raw["name"],
        fields=tuple(
            m.EventField(
                f["name"],
                f["type"],
                f.get("description", ""),
                f.get("default"),
                f.get("optional", False),
            )
            for f in raw["fields"]
        ),
        updates=tuple(_update(u, (*path, "updates", i)) for i, u in enumerate(raw["updates"])),
        description=raw.get("description", ""),
        cost=m.CostMapping(**cost) if cost else None,
        trace=raw.get("trace", True),
        path=path,
    )


def _update(raw: Mapping[str, Any], path: m.Path) -> m.EventUpdate:
    op = next(o for o in m.UpdateOp if o.value in raw)
    value = raw[op.value]
    field = value if isinstance(value, str) else None
    amount = 1.0 if field else float(value)
    return m.EventUpdate(
        metric=raw["metric"],
        op=op,
        field=field,
        amount=amount,
        scale=raw.get("scale"),
        labels=tuple(sorted(raw.get("labels", {}).items())),
        path=path,
    )


def _pricing(raw: Mapping[str, Any]) -> m.Pricing:
    models = tuple(
        (name, m.ModelPrice(**_pick(p, "input", "output", "cached_input", "reasoning")))
        for name, p in sorted(raw["models"].items())
    )
    return m.Pricing(raw.get("currency", "USD"), models)


def _report(raw: Mapping[str, Any], doc: Mapping[str, Any], service: str) -> m.ReportSettings:
    """Defaults: the spec's title + " — Daily Report", daily at 01:00, `reports/`
    under `/srv/<service>`, and STARTTLS for mail."""
    mail = raw.get("mail")
    return m.ReportSettings(
        title=raw.get("title", f"{doc.get('title', service)} — Daily Report"),
        schedule=raw.get("schedule", "0 1 * * *"),
        archive_dir=raw.get("archive_dir", "reports"),
        working_directory=raw.get("working_directory", f"/srv/{service}"),
        mail=_report_mail(mail) if mail else None,
        path=("report",),
    )


def _report_mail(raw: Mapping[str, Any]) -> m.ReportMail:
    to = raw["to"]
    return m.ReportMail(
        to=(to,) if isinstance(to, str) else tuple(to),
        from_=raw["from"],
        smarthost=raw["smarthost"],
        auth_username=raw.get("auth_username"),
        auth_password_file=raw.get("auth_password_file"),
        require_tls=raw.get("require_tls", True),
    )


def _retention(
    raw: Mapping[str, Any], service: str, metrics: Mapping[str, m.Metric]
) -> m.Retention:
    """Defaults: the design's tiers (7d raw, 30d hourly, 1y daily, monthly forever); each
    listed series keeps every declared label unless `by` says otherwise."""
    path: m.Path = ("retention",)
    series = raw.get("series")
    remote = raw.get("remote_write")
    return m.Retention(
        raw=raw.get("raw", "7d"),
        hourly=raw.get("hourly", "30d"),
        daily=raw.get("daily", "1y"),
        monthly=raw.get("monthly", m.FOREVER),
        series=None
        if series is None
        else tuple(
            _retention_series(item, (*path, "series", i), metrics) for i, item in enumerate(series)
        ),
        remote_write=_remote_write(remote, service, (*path, "remote_write")) if remote else None,
        thanos=raw.get("thanos", False),
        path=path,
    )


def _retention_series(
    raw: str | Mapping[str, Any], path: m.Path, metrics: Mapping[str, m.Metric]
) -> m.RetentionSeries:
    item: Mapping[str, Any] = {"metric": raw} if isinstance(raw, str) else raw
    metric = metrics.get(item["metric"])
    declared = metric.label_names if metric else ()
    return m.RetentionSeries(item["metric"], tuple(item.get("by", declared)), path)


def _remote_write(raw: Mapping[str, Any], service: str, path: m.Path) -> m.RemoteWrite:
    return m.RemoteWrite(
        url=raw["url"],
        name=raw.get("name", f"{service}-retention"),
        credentials_file=raw.get("credentials_file"),
        auth_type=raw.get("auth_type", "Bearer"),
        auth_username=raw.get("auth_username"),
        auth_password_file=raw.get("auth_password_file"),
        path=path,
    )
