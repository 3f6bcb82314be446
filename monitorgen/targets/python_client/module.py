"""The source of one spec's metrics module: constants, the runtime, the class and functions."""

from __future__ import annotations

from collections.abc import Iterator
from importlib import resources

from monitorgen.immutable import immutable
from monitorgen.model import Event, EventField, EventUpdate, Metric, MetricType, Spec, UpdateOp
from monitorgen.targets.base import commented_header
from monitorgen.targets.python_client.source import (
    INDENT,
    LINE_LENGTH,
    Group,
    Item,
    call,
    camel,
    docstring,
    identifier,
    layout,
    long_str,
    py_str,
    tuple_of,
)

DEFAULT_PORT = 8000
FAMILY_CLASS = {
    MetricType.COUNTER: "Counter",
    MetricType.GAUGE: "Gauge",
    MetricType.HISTOGRAM: "Histogram",
    MetricType.SUMMARY: "Summary",
}
#: Keyword arguments a traced event takes besides its fields, as in the trace log.
TRACE_EXTRAS = {
    "prompt": "str | None",
    "response": "str | None",
    "config": "Mapping[str, object] | None",
}
#: Names the generated functions use themselves: a field named so gets another name.
_RUNTIME_NAMES = {"self", "_k", "_b", "_v", "_m"}
_BASE_ATTRIBUTES = {
    "trace",
    "configure_trace",
    "influx",
    "configure_influx",
    "monitoring_dropped_total",
    "monitoring_errors_total",
}


def module_name(spec: Spec) -> str:
    """The generated module's import name: `<spec name>_metrics`, the same in every
    environment's folder, so the application imports one name wherever it runs."""
    base = spec.name.removesuffix(f".{spec.environment}") if spec.environment else spec.name
    return identifier(f"{base}_metrics")


def class_name(spec: Spec) -> str:
    return f"{camel(spec.service)}Metrics"


def module_source(spec: Spec) -> str:
    parts = [
        commented_header(spec)
        + "\n".join(_module_docstring(spec))
        + "\n\n"
        + _imports(spec)
        + "\n\n"
        + _constants(spec),
        _runtime("influx.py.tmpl"),
        _runtime("runtime.py.tmpl"),
        "\n".join(_class(spec)),
        "\n".join(_module_functions(spec)),
    ]
    return "\n\n\n".join(part.rstrip("\n") for part in parts) + "\n"


# --- names -------------------------------------------------------------------


def _metric_attribute(metric: Metric, spec: Spec) -> str:
    taken = spec.derived(
        "python_client.taken_attributes",
        lambda: _BASE_ATTRIBUTES | {f"record_{e.name}" for e in spec.events},
    )
    name = identifier(metric.name.replace(":", "_"))
    return f"metric_{name}" if name in taken or name.startswith("_") else name


@immutable
class _EventCode:
    """What the code of one event needs: Python names and the label key."""

    event: Event
    params: dict[str, str]
    """Field name -> parameter name (a field named like a keyword gets a trailing `_`)."""
    key: tuple[EventField, ...]
    """Fields used as label values, in field order: the key of the children cache."""
    extras: tuple[str, ...]

    @classmethod
    def of(cls, event: Event) -> _EventCode:
        params: dict[str, str] = {}
        for field in event.fields:
            params[field.name] = identifier(field.name, _RUNTIME_NAMES | set(params.values()))
        referenced = {v[1:] for u in event.updates for _, v in u.labels if v.startswith("$")}
        key = tuple(f for f in event.fields if f.name in referenced)
        extras = tuple(x for x in TRACE_EXTRAS if event.trace and x not in params)
        return cls(event, params, key, extras)

    @property
    def cache(self) -> str:
        return f"self._bound_{self.event.name}"

    @property
    def plan(self) -> str:
        return f"self._plan_{self.event.name}"

    @property
    def point(self) -> str:
        return f"self._influx_{self.event.name}"

    def position(self, field: str) -> int:
        return next(i for i, f in enumerate(self.key) if f.name == field)


# --- module head -------------------------------------------------------------


def _module_docstring(spec: Spec) -> list[str]:
    module, cls = module_name(spec), class_name(spec)
    service = spec.service
    first_event = f"record_{spec.events[0].name}(...)" if spec.events else "..."
    return docstring(
        [
            f"Prometheus instrumentation of the {service} service ({spec.title}).",
            "Every metric, label and bucket here is the spec's, so the alert rules and "
            "dashboards built from the same spec match what this module exposes. Use the "
            "module-level functions (one instance in the default registry, made on first use) "
            "or an instance of your own:",
            f"    import {module}\n\n"
            f"    {module}.start_metrics_server()  # serves /metrics on 127.0.0.1\n"
            f"    {module}.{first_event}\n\n"
            f"    metrics = {module}.{cls}(registry=CollectorRegistry())  # e.g. in tests",
            "Recording never raises into the application. A label value outside the declared "
            "values, or beyond the label's cap of distinct values, is recorded as `other`; a "
            "negative, non-finite or non-numeric amount is refused. Both are counted in "
            f"{service}_monitoring_dropped_total{{metric,reason}}, anything unexpected in "
            f"{service}_monitoring_errors_total{{event,stage}}. Calling with a missing or "
            "unknown keyword is a programming error and raises TypeError as usual.",
            "Trace log: configure_trace() (or the class's trace_directory argument) appends "
            "each traced event to <directory>/trace_YYYY-MM-DD.jsonl (UTC days), the format "
            "`monitorgen report` reads. Prompt and response text is kept only with "
            "log_content=True. It is off until the application turns it on.",
            "InfluxDB (1.x): configure_influx(url, database) also sends each event as a point "
            "of line protocol: the event's name is the measurement, its str fields that are "
            "label values are tags (admitted like the labels), its other fields are fields in "
            "their declared types, the time is in nanoseconds. Points are batched and sent by "
            "a daemon thread; a full queue or a failed write drops points, counted in "
            f"{service}_monitoring_influx_dropped_total{{reason}}. The writer it returns has "
            "flush() and close(); close runs at exit. Off until the application turns it on; "
            "with several processes, configure it in each worker (gunicorn's post_fork).",
            "Several processes (gunicorn): before the workers start, set "
            "PROMETHEUS_MULTIPROC_DIR to an empty directory that each deploy wipes; in "
            f"gunicorn.conf.py set `child_exit = {module}.gunicorn_child_exit`; serve with "
            "start_metrics_server() or multiprocess_registry(), which read every process's "
            'values. Gauges only set aggregate as "livemostrecent", other gauges as "livesum".',
            "Needs Python 3.11+ and prometheus_client 0.20+; imports nothing else.",
        ],
        0,
    )


def _imports(spec: Spec) -> str:
    families = sorted({FAMILY_CLASS[m.type] for m in spec.metrics} | {"Counter"})
    client = ["REGISTRY", "CollectorRegistry", *families, "multiprocess", "start_http_server"]
    lines = [
        "from __future__ import annotations",
        "",
        "import atexit",
        "import base64",
        "import contextlib",
        "import json",
        "import logging",
        "import math",
        "import numbers",
        "import os",
        "import re",
        "import threading",
        "import time",
        "import urllib.error",
        "import urllib.parse",
        "import urllib.request",
        "from collections import deque",
        "from collections.abc import Callable, Mapping, Sequence",
        "from datetime import UTC, date, datetime",
        "from pathlib import Path",
        "from typing import Any, Final, NamedTuple, SupportsFloat",
        "from wsgiref.simple_server import WSGIServer",
        "",
        *layout(Group("from prometheus_client import (", tuple(client)), 0),
    ]
    return "\n".join(_unparenthesize_import(lines))


def _unparenthesize_import(lines: list[str]) -> list[str]:
    """`from x import (a, b)` on one line is written without the parentheses."""
    last = lines[-1]
    if last.startswith("from prometheus_client import (") and last.endswith(")"):
        inner = last[len("from prometheus_client import (") : -1]
        lines[-1] = f"from prometheus_client import {inner}"
    return lines


def _constants(spec: Spec) -> str:
    lines = [
        f"SERVICE: Final = {py_str(spec.service)}",
        f"DEFAULT_PORT: Final = {_default_port(spec)}",
        '"""The port of the spec\'s first scrape target."""',
        'DEFAULT_ADDR: Final = "127.0.0.1"',
        f"TRACE_DIRECTORY: Final = {py_str(spec.trace.directory)}",
        f"LOG_CONTENT: Final = {spec.trace.log_content}",
        "",
        "",
        "class Price(NamedTuple):",
        f'{INDENT}"""Price in {spec.pricing.currency if spec.pricing else "USD"} '
        'per one million tokens of one model."""',
        "",
        f"{INDENT}input: float",
        f"{INDENT}output: float",
        f"{INDENT}cached_input: float",
        f"{INDENT}reasoning: float",
        "",
        "",
        *layout(_prices(spec), 0, "PRICES: Final[Mapping[str, Price]] = "),
        '"""The spec\'s prices; cached input costs the input price, reasoning the output price,',
        'unless the spec gives them."""',
    ]
    return "\n".join(lines)


def _default_port(spec: Spec) -> int:
    for target in spec.prometheus.targets:
        port = target.rsplit(":", 1)[-1]
        if ":" in target and port.isdigit():
            return int(port)
    return DEFAULT_PORT


def _prices(spec: Spec) -> Group:
    entries: list[Item] = []
    for model, price in spec.pricing.models if spec.pricing else ():
        cached = price.cached_input if price.cached_input is not None else price.input
        reasoning = price.reasoning if price.reasoning is not None else price.output
        values = (price.input, price.output, cached, reasoning)
        entries.append(call(f"{py_str(model)}: Price", *(repr(float(v)) for v in values)))
    return Group("{", tuple(entries), "}")


def _runtime(name: str) -> str:
    """Shared code copied verbatim into every module: the InfluxDB sender (first, as its
    settings are the defaults of Instrumentation.configure_influx), then the core."""
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


# --- the class ---------------------------------------------------------------


def _class(spec: Spec) -> list[str]:
    events = [_EventCode.of(e) for e in spec.events]
    lines = [f"class {class_name(spec)}(Instrumentation):"]
    lines += docstring(
        [
            f"The {spec.service} service's metrics in one registry, and one method per event.",
            "`registry` defaults to prometheus_client's default registry; pass a fresh "
            "CollectorRegistry() for a second instance (tests), or None to register nothing. "
            "`trace_directory` turns the trace log on.",
        ],
        1,
    )
    lines += ["", *_init(spec, events)]
    for code in events:
        lines += ["", *_method(spec, code)]
    return lines


def _init(spec: Spec, events: list[_EventCode]) -> list[str]:
    signature = Group(
        "def __init__(",
        (
            "self",
            "registry: CollectorRegistry | None = REGISTRY",
            "*",
            "trace_directory: str | os.PathLike[str] | None = None",
            "log_content: bool = LOG_CONTENT",
        ),
    )
    lines = layout(signature, 1, suffix=" -> None:")
    lines.append(f"{INDENT * 2}super().__init__(registry, trace_directory, log_content)")
    for metric in spec.metrics:
        target = f"self.{_metric_attribute(metric, spec)} = "
        lines += layout(_family(spec, metric), 2, target)
    lines += _label_values(spec)
    for code in events:
        lines += layout(_plan(spec, code), 2, f"{code.plan} = ")
        lines.append(f"{INDENT * 2}{code.cache}: dict[tuple[object, ...], Bound] = {{}}")
    for code in events:
        lines += layout(_influx_point(code), 2, f"{code.point} = ")
    lines += [f"{INDENT * 2}if registry is REGISTRY:", f"{INDENT * 3}_adopt_default(self)"]
    return lines


def _family(spec: Spec, metric: Metric) -> Group:
    name = metric.name.removesuffix("_total") if metric.type is MetricType.COUNTER else metric.name
    args: list[Item] = [py_str(name), long_str(metric.help, 3)]
    if metric.labels:
        args.append(tuple_of(py_str(n) for n in metric.label_names))
    args.append("registry=registry")
    if metric.type is MetricType.HISTOGRAM:
        args.append(tuple_of((repr(float(b)) for b in metric.buckets), "buckets="))
    if metric.type is MetricType.GAUGE:
        args.append(f"multiprocess_mode={py_str(_gauge_mode(spec, metric))}")
    return call(FAMILY_CLASS[metric.type], *args)


def _gauge_mode(spec: Spec, metric: Metric) -> str:
    """Across processes a gauge only ever set shows the latest value; one that is
    incremented shows the sum over the live processes."""
    ops = _update_ops(spec).get(metric.name, frozenset())
    return "livemostrecent" if ops <= {UpdateOp.SET} else "livesum"


def _update_ops(spec: Spec) -> dict[str, frozenset[UpdateOp]]:
    """Metric name -> how the events update it, gathered once per spec."""

    def gather() -> dict[str, frozenset[UpdateOp]]:
        ops: dict[str, set[UpdateOp]] = {}
        for event in spec.events:
            for update in event.updates:
                ops.setdefault(update.metric, set()).add(update.op)
        return {name: frozenset(found) for name, found in ops.items()}

    return spec.derived("python_client.update_ops", gather)


def _label_values(spec: Spec) -> list[str]:
    """Per metric label: its declared values, or its cap on distinct values."""
    lines: list[str] = []
    for metric in spec.metrics:
        labels: list[Item] = []
        for label in metric.labels:
            if label.values:
                admits: Item = call("LabelValues", tuple_of(py_str(v) for v in label.values))
            elif label.max_values is not None:
                admits = f"LabelValues(limit={label.max_values})"
            else:
                admits = "LabelValues()"
            labels.append(tuple_of((py_str(label.name), admits)))
        if labels:
            lines += layout(call("self._declare_labels", py_str(metric.name), *labels), 2)
    return lines


def _plan(spec: Spec, code: _EventCode) -> Group:
    kinds = tuple_of(py_str(f.type) for f in code.key)
    updates = [_update(spec, code, u) for u in code.event.updates]
    return call("_plan", kinds, *updates)


def _update(spec: Spec, code: _EventCode, update: EventUpdate) -> Group:
    metric = spec.metric(update.metric)
    assert metric is not None, "semantic checks refuse updates of undeclared metrics"
    given = dict(update.labels)
    labels: list[Item] = []
    for name in metric.label_names:
        value = given[name]
        source = str(code.position(value[1:])) if value.startswith("$") else py_str(value)
        labels.append(f"{py_str(name)}: {source}")
    family = f"self.{_metric_attribute(metric, spec)}"
    args: list[Item] = [py_str(metric.name), family, py_str(update.op.value)]
    if labels:
        args.append(Group("{", tuple(labels), "}"))
    return call("_update", *args)


# --- the event methods -------------------------------------------------------


def _signature(code: _EventCode, head: str, with_self: bool) -> Group:
    params: list[Item] = ["self", "*"] if with_self else ["*"]
    for field in code.event.fields:
        params.append(f"{code.params[field.name]}: {_annotation(field)}{_default(field)}")
    params += [f"{extra}: {TRACE_EXTRAS[extra]} = None" for extra in code.extras]
    return Group(head, tuple(params))


def _annotation(field: EventField) -> str:
    return f"{field.type} | None" if field.optional and field.default is None else field.type


def _default(field: EventField) -> str:
    if field.default is None:
        return " = None" if field.optional else ""
    value = field.default
    if field.type == "str":
        return f" = {py_str(str(value))}"
    if field.type == "float":
        return f" = {float(value)!r}"
    return f" = {value!r}"


def _method_doc(code: _EventCode) -> list[str]:
    event = code.event
    args = [f"    {code.params[f.name]}: {f.description}" for f in event.fields if f.description]
    if code.extras:
        args.append(
            "    " + ", ".join(code.extras) + ": kept in the trace log "
            "(prompt and response only with log_content)."
        )
    paragraphs = [event.description or f"Record one {event.name} event."]
    if args:
        paragraphs.append("Args:\n" + "\n".join(args))
    return paragraphs


def _method(spec: Spec, code: _EventCode) -> list[str]:
    event = code.event
    lines = layout(_signature(code, f"def record_{event.name}(", True), 1, suffix=" -> None:")
    lines += docstring(_method_doc(code), 2)
    lines.append(f"{INDENT * 2}try:")
    lines += _cost_lines(spec, code)
    lines += layout(tuple_of(code.params[f.name] for f in code.key), 3, "_k = ")
    lines += layout(call(f"{code.cache}.get", "_k"), 3, "_b = ")
    lines.append(f"{INDENT * 3}if _b is None:")
    lines += layout(call("self._bind", code.plan, "_k", code.cache), 4, "_b = ")
    for index, update in enumerate(event.updates):
        lines += _update_lines(spec, code, index, update)
    lines.append(f"{INDENT * 2}except Exception:")
    lines.append(f'{INDENT * 3}self._failed({py_str(event.name)}, "metrics")')
    lines += _trace_lines(code)
    lines += _influx_lines(code)
    return lines


def _cost_lines(spec: Spec, code: _EventCode) -> list[str]:
    cost = code.event.cost
    fields = {f.name: f for f in code.event.fields}
    target = fields.get(cost.field) if cost else None
    if cost is None or target is None or not target.optional or target.type != "float":
        return []
    metric = next((u.metric for u in code.event.updates if u.field == cost.field), code.event.name)
    args: list[Item] = [py_str(metric)]
    for name in (cost.model, cost.input_tokens, cost.output_tokens):
        args.append(code.params.get(name, "None"))
    for optional in (cost.cached_input_tokens, cost.reasoning_tokens):
        args.append(code.params.get(optional, "0") if optional else "0")
    param = code.params[cost.field]
    return [
        f"{INDENT * 3}if {param} is None:",
        *layout(call("self._cost", *args), 4, f"{param} = "),
    ]


def _update_lines(spec: Spec, code: _EventCode, index: int, update: EventUpdate) -> list[str]:
    if update.field is None:
        return [f"{INDENT * 3}_b[{index}]({float(update.amount)!r})"]
    metric = spec.metric(update.metric)
    assert metric is not None
    field = next(f for f in code.event.fields if f.name == update.field)
    name = code.params[field.name]
    depth = 3
    lines: list[str] = []
    if field.optional and field.default is None:
        lines.append(f"{INDENT * depth}if {name} is not None:")
        depth += 1
    lines += _checked_update(metric, update, index, name, depth)
    return lines


def _checked_update(
    metric: Metric, update: EventUpdate, index: int, name: str, depth: int
) -> list[str]:
    """Record a plain int or float in range on the fast path; anything else goes to
    `_coerce`, which converts other number types and counts what it refuses."""
    signed = metric.type is MetricType.GAUGE
    pad = INDENT * depth
    lines: list[str] = []
    low = "-_INF <" if signed else "0 <="
    condition = f"if type({name}) in _NUMBERS and {low} {name} < _INF:"
    if len(pad + condition) > LINE_LENGTH:
        alias = f"_v{index}"
        lines.append(f"{pad}{alias} = {name}")
        name = alias
        condition = f"if type({name}) in _NUMBERS and {low} {name} < _INF:"
    amount = f"{name} * {update.scale!r}" if update.scale is not None else name
    lines.append(pad + condition)
    if metric.type is MetricType.COUNTER:
        lines += [f"{pad}{INDENT}if {name}:", f"{pad}{INDENT * 2}_b[{index}]({amount})"]
    else:
        lines.append(f"{pad}{INDENT}_b[{index}]({amount})")
    args: list[Item] = [py_str(update.metric), name, f"_b[{index}]"]
    if update.scale is not None:
        args.append(repr(update.scale))
    if signed:
        args.append("signed=True")
    lines += [f"{pad}else:", *layout(call("self._coerce", *args), depth + 1)]
    return lines


def _trace_lines(code: _EventCode) -> list[str]:
    event = code.event
    if not event.trace:
        return []
    entries: list[Item] = [f"{py_str(f.name)}: {code.params[f.name]}" for f in event.fields]
    entries += list(_total_tokens(code))
    args: list[Item] = [py_str(event.name), Group("{", tuple(entries), "}")]
    if code.extras == tuple(TRACE_EXTRAS):
        args += list(code.extras)
    else:
        args += [f"{extra}={extra}" for extra in code.extras]
    return [
        f"{INDENT * 2}if self.trace is not None:",
        *layout(call("self._trace", *args), 3),
    ]


def _total_tokens(code: _EventCode) -> Iterator[str]:
    """The design document's trace entries carry total_tokens (input + output)."""
    tokens = _token_fields(code)
    if tokens is not None:
        yield f'"total_tokens": {_total_call(code, tokens)}'


def _token_fields(code: _EventCode) -> tuple[EventField, EventField] | None:
    """The input and output token fields of an event with a cost, unless it has its own
    total_tokens field."""
    cost = code.event.cost
    if cost is None or "total_tokens" in code.params:
        return None
    fields = {f.name: f for f in code.event.fields}
    first, second = fields.get(cost.input_tokens), fields.get(cost.output_tokens)
    return (first, second) if first and second else None


def _total_call(code: _EventCode, tokens: tuple[EventField, EventField]) -> str:
    return f"_total({code.params[tokens[0].name]}, {code.params[tokens[1].name]})"


# --- InfluxDB points ---------------------------------------------------------


@immutable
class _InfluxField:
    name: str
    kind: str
    source: str
    """The Python expression of its value in the event method."""


def _influx_tags(code: _EventCode) -> list[tuple[EventField, str, str]]:
    """The event's str fields used as label values, each with the metric and label whose
    admitted values it shares (the first update that uses it)."""
    uses = {
        value[1:]: (update.metric, label)
        for update in reversed(code.event.updates)
        for label, value in update.labels
        if value.startswith("$")
    }
    return [(field, *uses[field.name]) for field in code.key if field.type == "str"]


def _influx_fields(code: _EventCode) -> list[_InfluxField]:
    """Every other field in its declared type, and total_tokens where the trace log has it."""
    tags = {field.name for field, _, _ in _influx_tags(code)}
    fields = [
        _InfluxField(f.name, f.type, code.params[f.name])
        for f in code.event.fields
        if f.name not in tags
    ]
    tokens = _token_fields(code)
    if tokens is not None:
        kind = "int" if all(f.type == "int" for f in tokens) else "float"
        fields.append(_InfluxField("total_tokens", kind, _total_call(code, tokens)))
    return fields


def _influx_point(code: _EventCode) -> Group:
    tags = tuple_of(
        tuple_of((py_str(f.name), py_str(metric), py_str(label)))
        for f, metric, label in _influx_tags(code)
    )
    fields = tuple_of(tuple_of((py_str(f.name), py_str(f.kind))) for f in _influx_fields(code))
    return call("self._influx_point", py_str(code.event.name), tags, fields)


def _influx_lines(code: _EventCode) -> list[str]:
    tags = tuple_of(code.params[f.name] for f, _, _ in _influx_tags(code))
    values = tuple_of(f.source for f in _influx_fields(code))
    send = call("self._influx", py_str(code.event.name), code.point, tags, values)
    return [f"{INDENT * 2}if self.influx is not None:", *layout(send, 3)]


# --- module-level functions --------------------------------------------------


_DEFAULT_INSTANCE = '''\
_default: {cls} | None = None
_default_lock = threading.RLock()


def default_metrics() -> {cls}:
    """The instance behind the module-level functions: the first one made in
    prometheus_client's default registry, or a new one made there on first use."""
    with _default_lock:
        return _default or {cls}()


def _adopt_default(metrics: {cls}) -> None:
    global _default
    with _default_lock:
        if _default is None:
            _default = metrics


def _default_or_none() -> {cls} | None:
    """default_metrics() for the record functions, which must not raise: when it cannot
    be made (its names taken in the default registry), that is logged once."""
    global _default_failed
    try:
        return default_metrics()
    except Exception:
        if not _default_failed:
            _default_failed = True
            _log.exception("cannot create the default {cls}; events are not recorded")
        return None


_default_failed = False


def configure_trace(
    directory: str | os.PathLike[str] | None = TRACE_DIRECTORY,
    *,
    log_content: bool = LOG_CONTENT,
) -> None:
    """Start writing the module-level functions' trace log into `directory`; None stops
    it."""
    default_metrics().configure_trace(directory, log_content=log_content)


def configure_influx(
    url: str | None,
    database: str = SERVICE,
    *,
    username: str | None = None,
    password_file: str | os.PathLike[str] | None = None,
    retention_policy: str | None = None,
    batch_size: int = INFLUX_BATCH_SIZE,
    flush_interval: float = INFLUX_FLUSH_INTERVAL,
    max_queue: int = INFLUX_MAX_QUEUE,
    timeout: float = INFLUX_TIMEOUT,
    retries: int = INFLUX_RETRIES,
) -> InfluxWriter | None:
    """Also send the module-level functions' events to InfluxDB 1.x at `url`; None stops
    it. See {cls}.configure_influx."""
    return default_metrics().configure_influx(
        url,
        database,
        username=username,
        password_file=password_file,
        retention_policy=retention_policy,
        batch_size=batch_size,
        flush_interval=flush_interval,
        max_queue=max_queue,
        timeout=timeout,
        retries=retries,
    )'''


def _module_functions(spec: Spec) -> list[str]:
    cls = class_name(spec)
    lines = _DEFAULT_INSTANCE.format(cls=cls).splitlines()
    for event in spec.events:
        lines += ["", "", *_function(cls, _EventCode.of(event))]
    return lines


def _function(cls: str, code: _EventCode) -> list[str]:
    name = f"record_{code.event.name}"
    lines = layout(_signature(code, f"def {name}(", False), 0, suffix=" -> None:")
    lines += docstring([f"{cls}.{name} on the default instance."], 1)
    keywords = [f"{p}={p}" for p in code.params.values()] + [f"{x}={x}" for x in code.extras]
    lines.append(f"{INDENT}_m = _default or _default_or_none()")
    lines.append(f"{INDENT}if _m is not None:")
    lines += layout(call(f"_m.{name}", *keywords), 2)
    return lines
