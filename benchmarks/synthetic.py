"""Deterministic synthetic specs of a chosen size, shaped like real ones.

`generate(size, seed)` makes a valid spec with `size` metrics (counters, gauges and
histograms with bounded labels), 5 x `size` alerts (every structured function and raw
PromQL), recording rules, ratio and latency SLOs, `size / 2` panels over several
dashboards with variables, events, per-team receivers and a route tree nested by team
and severity. The same size and seed always give the same text.

A spec larger than the loader's size limit keeps its alerts in included fragment files,
as a large hand-written spec would.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from monitorgen.spec.loader import MAX_SPEC_BYTES

SIZES = (10, 100, 1000)
SERVICE = "bench"
ALERTS_PER_METRIC = 5
ALERTS_PER_FRAGMENT = 1000
PANELS_PER_DASHBOARD = 25
PANELS_PER_ROW = 6
MIN_SIZE = 4

_AREAS = ("api", "llm", "queue", "cache", "db", "auth", "billing", "search")
_COUNTER_NOUNS = ("requests", "jobs", "messages")
_HISTOGRAM_NOUNS = ("request", "job", "query")
_BUCKET_SETS = (
    (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    (0.1, 0.5, 1, 2, 5, 10, 30, 60),
    (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1),
)
#: Labels with a closed set of values, and labels bounded only by a count.
_VALUED_LABELS = {"status": ("ok", "error", "timeout"), "region": ("eu", "us", "ap")}
_BOUNDED_LABELS = {"task_type": 50, "model": 50, "endpoint": 30}
#: Every metric takes two neighbours from this ring, so each label is used somewhere.
_LABEL_RING = ("region", "task_type", "model", "endpoint")
_ALERT_KINDS = (
    "rate",
    "increase",
    "ratio",
    "quantile",
    "value",
    "avg_over_time",
    "max_over_time",
    "min_over_time",
    "raw",
)
_WINDOWS = ("5m", "10m", "30m", "1h")
_VARIABLES = ("region", "task_type")
#: libyaml's emitter when PyYAML has it: writing a spec of 5,000 alerts takes seconds without.
_DUMPER: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


@dataclass(frozen=True)
class _Metric:
    name: str
    kind: str
    labels: tuple[str, ...]
    area: str
    index: int
    buckets: tuple[float, ...] = ()

    @property
    def title(self) -> str:
        return f"{self.area.capitalize()} {self.index:04d}"

    def grouping_labels(self) -> tuple[str, ...]:
        return tuple(label for label in self.labels if label != "status")


@dataclass(frozen=True)
class Shape:
    """How many of each item a synthetic spec holds."""

    metrics: int
    alerts: int
    recording_rules: int
    slos: int
    panels: int
    dashboards: int
    events: int
    receivers: int


@dataclass(frozen=True)
class SyntheticSpec:
    """A generated spec: the main file and any included fragments, by file name."""

    size: int
    seed: int
    main: str
    files: dict[str, str] = field(compare=True)
    shape: Shape = field(compare=True, default=Shape(0, 0, 0, 0, 0, 0, 0, 0))

    def write(self, directory: Path) -> Path:
        """Write every file into `directory`; return the main spec's path."""
        directory.mkdir(parents=True, exist_ok=True)
        for name, text in self.files.items():
            (directory / name).write_text(text, encoding="utf-8")
        return directory / self.main


def generate(size: int, seed: int = 0) -> SyntheticSpec:
    """A valid spec with `size` metrics and 5 x `size` alerts."""
    if size < MIN_SIZE:
        raise ValueError(f"size must be at least {MIN_SIZE}")
    document = _Generator(size, seed).document()
    main = f"synthetic_{size}.yaml"
    files = _split_if_too_large(document, main)
    return SyntheticSpec(size, seed, main, files, _shape(document))


def write_spec(size: int, directory: Path, seed: int = 0) -> Path:
    return generate(size, seed).write(directory)


def _shape(document: dict[str, Any]) -> Shape:
    panels = [p for d in document["dashboards"] for r in d["rows"] for p in r["panels"]]
    return Shape(
        metrics=len(document["metrics"]),
        alerts=len(document["alerts"]),
        recording_rules=len(document["recording_rules"]),
        slos=len(document["slos"]),
        panels=len(panels),
        dashboards=len(document["dashboards"]),
        events=len(document["events"]),
        receivers=len(document["receivers"]),
    )


# ------------------------------------------------------------------ text


def _dump(data: Any) -> str:
    """Block style for items, flow style for short leaf lists and mappings."""
    text: str = yaml.dump(
        data,
        Dumper=_DUMPER,
        sort_keys=False,
        default_flow_style=None,
        width=1 << 16,
        allow_unicode=True,
    )
    return text


def _header(what: str) -> str:
    return f"# Synthetic monitorgen {what}, made by benchmarks/synthetic.py; do not edit.\n"


def _split_if_too_large(document: dict[str, Any], main: str) -> dict[str, str]:
    """One file, or with more than ALERTS_PER_FRAGMENT alerts, the alerts in fragments
    the main file includes (a single file would pass the loader's size limit)."""
    alerts = document["alerts"]
    if len(alerts) <= ALERTS_PER_FRAGMENT:
        return _checked_size({main: _header("spec") + _dump(document)})
    stem = main.removesuffix(".yaml")
    fragments: dict[str, str] = {}
    for start in range(0, len(alerts), ALERTS_PER_FRAGMENT):
        name = f"{stem}.alerts-{start // ALERTS_PER_FRAGMENT:02d}.yaml"
        chunk = {"alerts": alerts[start : start + ALERTS_PER_FRAGMENT]}
        fragments[name] = _header("spec fragment") + _dump(chunk)
    rest = {"include": list(fragments)} | {k: v for k, v in document.items() if k != "alerts"}
    return _checked_size({main: _header("spec") + _dump(rest), **fragments})


def _checked_size(files: dict[str, str]) -> dict[str, str]:
    for name, text in files.items():
        if len(text.encode()) > MAX_SPEC_BYTES:
            raise ValueError(f"{name} would exceed the loader's limit of {MAX_SPEC_BYTES} bytes")
    return files


# ------------------------------------------------------------------ content


class _Generator:
    def __init__(self, size: int, seed: int) -> None:
        self.size = size
        self.rng = random.Random(f"monitorgen-synthetic:{seed}:{size}")
        self.metrics = [self._metric(i) for i in range(size)]
        self.counters = [m for m in self.metrics if m.kind == "counter"]
        self.histograms = [m for m in self.metrics if m.kind == "histogram"]
        self.gauges = [m for m in self.metrics if m.kind == "gauge"]
        self.teams = [f"team-{t:02d}" for t in range(max(2, size // 25))]
        self.records: list[str] = []
        self.panels: list[tuple[str, str]] = []
        """(dashboard uid, panel title) of every panel, for alert links."""

    def document(self) -> dict[str, Any]:
        recording_rules = [self._recording_rule(i) for i in range(max(1, self.size // 20))]
        dashboards = self._dashboards()
        alerts = [self._alert(j) for j in range(ALERTS_PER_METRIC * self.size)]
        return {
            "version": 1,
            "service": SERVICE,
            "title": "Synthetic benchmark service",
            "description": f"A generated spec with {self.size} metrics, for benchmarks.",
            "prometheus": {
                "job": SERVICE,
                "targets": ["localhost:8000", "localhost:8001"],
                "scrape_interval": "15s",
                "evaluation_interval": "1m",
                "alertmanagers": ["localhost:9093"],
            },
            "grafana": {"url": "http://localhost:3000", "folder": "Bench"},
            "runbook_base_url": "https://runbooks.example.com/bench",
            "metrics": [self._metric_item(m) for m in self.metrics],
            "events": [self._event(k) for k in range(max(1, self.size // 10))],
            "recording_rules": recording_rules,
            "alerts": alerts,
            "slos": [self._slo(k) for k in range(max(2, self.size // 10))],
            "dashboards": dashboards,
            "receivers": self._receivers(),
            "routing": self._routing(),
        }

    # -------------------------------------------------------------- metrics

    def _metric(self, index: int) -> _Metric:
        area = _AREAS[index % len(_AREAS)]
        ring = (_LABEL_RING[index % 4], _LABEL_RING[(index + 1) % 4])
        prefix = f"{SERVICE}_{area}_{index:04d}"
        kind = ("counter", "counter", "histogram", "gauge")[index % 4]
        if kind == "counter":
            noun = _COUNTER_NOUNS[index % len(_COUNTER_NOUNS)]
            return _Metric(f"{prefix}_{noun}_total", kind, ("status", *ring), area, index)
        if kind == "histogram":
            noun = _HISTOGRAM_NOUNS[index % len(_HISTOGRAM_NOUNS)]
            buckets = _BUCKET_SETS[index % len(_BUCKET_SETS)]
            name = f"{prefix}_{noun}_duration_seconds"
            return _Metric(name, kind, ring, area, index, buckets)
        return _Metric(f"{prefix}_utilisation_ratio", kind, ring, area, index)

    @staticmethod
    def _label_item(name: str) -> dict[str, Any]:
        if name in _VALUED_LABELS:
            return {"name": name, "values": list(_VALUED_LABELS[name])}
        return {"name": name, "max_values": _BOUNDED_LABELS[name]}

    def _metric_item(self, metric: _Metric) -> dict[str, Any]:
        item: dict[str, Any] = {"name": metric.name, "type": metric.kind}
        if metric.kind == "counter":
            item["help"] = f"{metric.title} operations by outcome."
        elif metric.kind == "histogram":
            item["help"] = f"{metric.title} duration."
            item["unit"] = "seconds"
            item["buckets"] = list(metric.buckets)
        else:
            item["help"] = f"{metric.title} utilisation from 0 to 1."
            item["unit"] = "ratio"
        item["labels"] = [self._label_item(label) for label in metric.labels]
        return item

    def _pick(self, metrics: list[_Metric]) -> _Metric:
        return self.rng.choice(metrics)

    def _some_labels(self, metric: _Metric) -> list[str]:
        labels = metric.grouping_labels()
        return sorted(self.rng.sample(labels, self.rng.randint(0, len(labels))))

    # -------------------------------------------------------------- events

    def _event(self, index: int) -> dict[str, Any]:
        counter = self.counters[index % len(self.counters)]
        histogram = self.histograms[index % len(self.histograms)]
        gauge = self.gauges[index % len(self.gauges)]
        labels = sorted({*counter.labels, *histogram.labels, *gauge.labels})
        fields: list[dict[str, Any]] = [
            {"name": label, "type": "str", "default": "ok"}
            if label == "status"
            else {"name": label, "type": "str"}
            for label in labels
        ]
        fields += [
            {"name": "duration_ms", "type": "float", "description": "How long it took."},
            {"name": "utilisation", "type": "float", "optional": True},
        ]
        return {
            "name": f"{SERVICE}_event_{index:04d}",
            "description": f"One {counter.area} operation.",
            "trace": index % 2 == 0,
            "fields": fields,
            "updates": [
                {"metric": counter.name, "inc": 1, "labels": _from_fields(counter)},
                {
                    "metric": histogram.name,
                    "observe": "duration_ms",
                    "scale": 0.001,
                    "labels": _from_fields(histogram),
                },
                {"metric": gauge.name, "set": "utilisation", "labels": _from_fields(gauge)},
            ],
        }

    # -------------------------------------------------------------- rules

    def _recording_rule(self, index: int) -> dict[str, Any]:
        counter = self.counters[index % len(self.counters)]
        by = list(counter.grouping_labels()[:1])
        record = f"{by[0]}:{counter.name.removesuffix('_total')}:rate5m"
        self.records.append(record)
        query = {"metric": counter.name, "function": "rate", "window": "5m", "by": by}
        return {"record": record, "query": query, "labels": {"team": self._team(index)}}

    def _team(self, index: int) -> str:
        return self.teams[index % len(self.teams)]

    def _alert(self, index: int) -> dict[str, Any]:
        kind = _ALERT_KINDS[index % len(_ALERT_KINDS)]
        camel = "".join(part.capitalize() for part in kind.split("_"))
        alert: dict[str, Any] = {
            "name": f"Bench{camel}{index:05d}",
            "severity": self.rng.choice(("critical", "warning", "warning", "info")),
            "for": self.rng.choice(("1m", "5m", "10m", "15m")),
            "summary": f"Synthetic {kind.replace('_', ' ')} alert {index}",
            "labels": {"team": self._team(index)},
        }
        if kind == "raw":
            alert["expr"] = self._raw_expr(index)
        else:
            alert["condition"] = _without_empty(self._condition(kind))
        alert["description"] = _description(alert.get("condition", {}).get("by", ()))
        if index % 10 == 0 and self.panels:
            uid, title = self.panels[(index // 10) % len(self.panels)]
            alert["dashboard"] = {"uid": uid, "panel": title}
        return alert

    def _condition(self, kind: str) -> dict[str, Any]:
        if kind in ("rate", "increase", "ratio"):
            return self._counter_condition(kind)
        if kind == "quantile":
            metric = self._pick(self.histograms)
            return {
                "metric": metric.name,
                "function": "quantile",
                "quantile": self.rng.choice((0.5, 0.9, 0.95, 0.99)),
                "window": self.rng.choice(_WINDOWS),
                "by": self._some_labels(metric),
                "above": metric.buckets[-2],
            }
        metric = self._pick(self.gauges)
        condition: dict[str, Any] = {
            "metric": metric.name,
            "function": kind,
            "aggregation": self.rng.choice(("max", "avg", "min")),
            "by": self._some_labels(metric),
        }
        if kind != "value":
            condition["window"] = self.rng.choice(_WINDOWS)
        if self.rng.random() < 0.5:
            condition["above"] = self.rng.choice((0.8, 0.9, 0.95))
        else:
            condition["below"] = self.rng.choice((0.05, 0.1, 0.2))
        return condition

    def _counter_condition(self, kind: str) -> dict[str, Any]:
        pool = self.counters + self.histograms if kind == "rate" else self.counters
        metric = self._pick(pool)
        condition: dict[str, Any] = {
            "metric": metric.name,
            "function": kind,
            "window": self.rng.choice(_WINDOWS),
            "by": self._some_labels(metric),
        }
        if kind == "ratio":
            condition["where"] = {"status": ["error", "timeout"]}
            condition["above"] = self.rng.choice((0.01, 0.05, 0.1))
        elif kind == "increase":
            condition["above"] = self.rng.choice((100, 1000, 10000))
        else:
            if "region" in metric.labels and self.rng.random() < 0.5:
                condition["where"] = {"region": self.rng.choice(_VALUED_LABELS["region"])}
            condition["above"] = self.rng.choice((1, 5, 10, 50, 100, 500))
        if self.rng.random() < 0.2:
            condition["scale"] = 60
        return condition

    def _raw_expr(self, index: int) -> str:
        variant = (index // len(_ALERT_KINDS)) % 4
        if variant == 0:
            counter = self._pick(self.counters)
            by = ", ".join(counter.grouping_labels())
            part = f'rate({counter.name}{{status=~"error|timeout"}}[5m])'
            whole = f"rate({counter.name}[5m])"
            return f"sum by ({by}) ({part}) / sum by ({by}) ({whole}) > 0.1"
        if variant == 1:
            histogram = self._pick(self.histograms)
            inner = f"sum by (le) (rate({histogram.name}_bucket[10m]))"
            return f"histogram_quantile(0.99, {inner}) > {histogram.buckets[-2]}"
        if variant == 2 and self.records:
            return f"{self.rng.choice(self.records)} > {self.rng.choice((10, 100, 1000))}"
        gauge = self._pick(self.gauges)
        return f"predict_linear({gauge.name}[1h], 3600) > 1"

    # -------------------------------------------------------------- SLOs

    def _slo(self, index: int) -> dict[str, Any]:
        alerting = {
            "summary": f"Error budget of SLO {index} burns too fast",
            "labels": {"team": self._team(index)},
        }
        if index % 2 == 0:
            counter = self.counters[(index // 2) % len(self.counters)]
            return {
                "name": f"availability_{index:04d}",
                "description": f"{counter.title} operations that succeed.",
                "objective": self.rng.choice((99, 99.5, 99.9)),
                "period": "30d",
                "by": list(counter.grouping_labels()[:1]),
                "sli": {
                    "ratio": {
                        "errors": {
                            "metric": counter.name,
                            "where": {"status": ["error", "timeout"]},
                        },
                        "total": {"metric": counter.name},
                    }
                },
                "alerting": alerting,
            }
        histogram = self.histograms[(index // 2) % len(self.histograms)]
        return {
            "name": f"latency_{index:04d}",
            "description": f"{histogram.title} operations that finish in time.",
            "objective": self.rng.choice((95, 99, 99.5)),
            "period": "28d",
            "sli": {"latency": {"metric": histogram.name, "threshold": histogram.buckets[-3]}},
            "alerting": alerting,
        }

    # -------------------------------------------------------------- dashboards

    def _dashboards(self) -> list[dict[str, Any]]:
        panels = max(1, self.size // 2)
        count = max(1, panels // PANELS_PER_DASHBOARD)
        dashboards = []
        for number in range(count):
            indexes = list(range(panels * number // count, panels * (number + 1) // count))
            uid = f"{SERVICE}-{number:03d}"
            rows = [
                {
                    "title": f"Section {start // PANELS_PER_ROW + 1}",
                    "collapsed": start > 0,
                    "panels": [
                        self._panel(uid, i) for i in indexes[start : start + PANELS_PER_ROW]
                    ],
                }
                for start in range(0, len(indexes), PANELS_PER_ROW)
            ]
            dashboards.append(
                {
                    "uid": uid,
                    "title": f"Synthetic dashboard {number}",
                    "description": f"Panels {indexes[0]} to {indexes[-1]} of the benchmark.",
                    "tags": [SERVICE, "synthetic"],
                    "variables": list(_VARIABLES),
                    "rows": rows,
                }
            )
        return dashboards

    def _panel(self, uid: str, index: int) -> dict[str, Any]:
        metric = self.metrics[index % len(self.metrics)]
        if metric.kind == "counter":
            panel = self._counter_panel(metric, raw=index % 5 == 4)
        elif metric.kind == "histogram":
            panel = self._histogram_panel(metric)
        else:
            panel = self._gauge_panel(metric)
        self.panels.append((uid, panel["title"]))
        return panel

    def _counter_panel(self, metric: _Metric, *, raw: bool) -> dict[str, Any]:
        by = list(metric.grouping_labels()[:1])
        if raw:
            label = by[0]
            filters = [f'{v}=~"${v}"' for v in _VARIABLES if v in metric.labels]
            matchers = ",".join(['status=~"error|timeout"', *filters])
            expr = f"sum by ({label}) (rate({metric.name}{{{matchers}}}[$__rate_interval]))"
            queries: list[dict[str, Any]] = [{"expr": expr, "legend": "{{" + label + "}}"}]
            return {
                "title": f"{metric.title} failures",
                "description": "Failed operations per second.",
                "unit": "reqps",
                "queries": queries,
            }
        return {
            "title": f"{metric.title} throughput",
            "type": self.rng.choice(("timeseries", "timeseries", "bargauge", "table")),
            "description": "Operations per second and the share that fail.",
            "unit": "reqps",
            "stack": True,
            "queries": [
                {"metric": metric.name, "function": "rate", "by": by},
                {
                    "metric": metric.name,
                    "function": "ratio",
                    "where": {"status": ["error", "timeout"]},
                    "legend": "error ratio",
                },
            ],
        }

    def _histogram_panel(self, metric: _Metric) -> dict[str, Any]:
        if self.rng.random() < 0.25:
            expr = f"sum by (le) (rate({metric.name}_bucket[$__rate_interval]))"
            return {
                "title": f"{metric.title} latency distribution",
                "type": "heatmap",
                "description": "Operations per latency bucket.",
                "unit": "reqps",
                "queries": [{"expr": expr, "legend": "{{le}}"}],
            }
        return {
            "title": f"{metric.title} latency",
            "description": "P50, P95 and P99 latency.",
            "unit": "s",
            "queries": [
                {"metric": metric.name, "quantile": q, "legend": f"P{round(q * 100)}"}
                for q in (0.5, 0.95, 0.99)
            ],
        }

    def _gauge_panel(self, metric: _Metric) -> dict[str, Any]:
        return {
            "title": f"{metric.title} utilisation",
            "type": self.rng.choice(("gauge", "stat", "timeseries")),
            "description": "Average utilisation.",
            "unit": "percentunit",
            "min": 0,
            "max": 1,
            "decimals": 2,
            "queries": [
                _without_empty(
                    {"metric": metric.name, "aggregation": "avg", "by": self._some_labels(metric)}
                )
            ],
        }

    # -------------------------------------------------------------- routing

    def _receivers(self) -> list[dict[str, Any]]:
        receivers: list[dict[str, Any]] = [
            {"name": "ops-mail", "email": [_email("ops@example.com")]}
        ]
        for team in self.teams:
            secrets = f"/etc/alertmanager/secrets/{team}"
            receivers += [
                {"name": f"{team}-pager", "pagerduty": [{"routing_key_file": f"{secrets}-pd"}]},
                {
                    "name": f"{team}-chat",
                    "slack": [
                        {
                            "api_url_file": f"{secrets}-slack",
                            "channel": f"#{team}-alerts",
                            "title": f"{team} alert",
                        }
                    ],
                },
                {"name": f"{team}-mail", "email": [_email(f"{team}@example.com")]},
            ]
        return receivers

    def _routing(self) -> dict[str, Any]:
        return {
            "receiver": "ops-mail",
            "group_by": ["alertname", "severity", "team"],
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "4h",
            "routes": [_team_route(team) for team in self.teams],
            "time_intervals": [
                {
                    "name": "working-hours",
                    "weekdays": ["monday:friday"],
                    "times": [{"start": "09:00", "end": "18:00"}],
                },
                {"name": "weekends", "weekdays": ["saturday", "sunday"]},
            ],
            "inhibit_rules": [
                {
                    "source": ['severity="critical"'],
                    "target": ['severity="info"'],
                    "equal": ["team"],
                }
            ],
            "tests": [
                {
                    "labels": {"alertname": "BenchUnrouted", "severity": "warning"},
                    "receivers": ["ops-mail"],
                },
                *[test for team in self.teams for test in _team_tests(team)],
            ],
        }


def _without_empty(item: dict[str, Any]) -> dict[str, Any]:
    """Leave out empty lists, as people do (`by: []`)."""
    return {key: value for key, value in item.items() if value != []}


def _description(by: Sequence[str]) -> str:
    """Annotation text that reads only labels the alert's series carry."""
    where = " ".join(f"{label} {{{{ $labels.{label} }}}}" for label in by)
    return f"Value {{{{ $value | humanize }}}}{' for ' + where if where else ''}."


def _from_fields(metric: _Metric) -> dict[str, str]:
    return {label: f"${label}" for label in metric.labels}


def _email(to: str) -> dict[str, Any]:
    return {
        "to": to,
        "from": "alerts@example.com",
        "smarthost": "smtp.example.com:587",
        "auth_username": "alerts@example.com",
        "auth_password_file": "/etc/alertmanager/secrets/smtp_password",
    }


def _team_route(team: str) -> dict[str, Any]:
    return {
        "matchers": [f'team="{team}"'],
        "receiver": f"{team}-mail",
        "routes": [
            {"matchers": ['severity="critical"'], "receiver": f"{team}-pager", "continue": True},
            {"matchers": ['severity="critical"'], "receiver": f"{team}-chat"},
            {
                "matchers": ['severity="warning"'],
                "receiver": f"{team}-chat",
                "mute_time_intervals": ["weekends"],
            },
            {
                "matchers": ['severity="info"'],
                "receiver": f"{team}-mail",
                "active_time_intervals": ["working-hours"],
            },
        ],
    }


def _team_tests(team: str) -> list[dict[str, Any]]:
    return [
        {
            "labels": {"alertname": "BenchPage", "severity": "critical", "team": team},
            "receivers": [f"{team}-pager", f"{team}-chat"],
        },
        {
            "labels": {"alertname": "BenchTicket", "severity": "warning", "team": team},
            "receivers": [f"{team}-chat"],
        },
    ]
