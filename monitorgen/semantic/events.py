"""Events update declared metrics with declared fields and every label the metric has."""

from __future__ import annotations

import difflib
from collections.abc import Iterator

from monitorgen.diagnostics import Diagnostic, Severity
from monitorgen.model import Event, EventField, EventUpdate, Label, MetricType, Spec, UpdateOp

_OPS_FOR = {
    MetricType.COUNTER: {UpdateOp.INC},
    MetricType.GAUGE: {UpdateOp.INC, UpdateOp.SET},
    MetricType.HISTOGRAM: {UpdateOp.OBSERVE},
    MetricType.SUMMARY: {UpdateOp.OBSERVE},
}
_NUMERIC = {"int", "float"}


def check(spec: Spec) -> Iterator[Diagnostic]:
    for event in spec.events:
        yield from _fields(event)
        for update in event.updates:
            yield from _update(spec, event, update)
        yield from _cost(spec, event)


def _fields(event: Event) -> Iterator[Diagnostic]:
    seen: set[str] = set()
    for index, field in enumerate(event.fields):
        path = (*event.path, "fields", index)
        if field.name in seen:
            yield Diagnostic("names/duplicate", f"duplicate field '{field.name}'", path=path)
        seen.add(field.name)
        if field.default is not None and not _fits(field.default, field.type):
            yield Diagnostic(
                "events/default",
                f"default {field.default!r} is not a {field.type}",
                path=(*path, "default"),
            )


def _fits(value: object, kind: str) -> bool:
    if kind == "str":
        return isinstance(value, str)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _update(spec: Spec, event: Event, update: EventUpdate) -> Iterator[Diagnostic]:
    metric = spec.metric(update.metric)
    if metric is None:
        names = ", ".join(m.name for m in spec.metrics) or "none"
        yield Diagnostic(
            "references/unknown-metric",
            f"unknown metric '{update.metric}' (declared: {names})",
            path=(*update.path, "metric"),
        )
        return
    if update.op not in _OPS_FOR[metric.type]:
        allowed = " or ".join(sorted(o.value for o in _OPS_FOR[metric.type]))
        yield Diagnostic(
            "events/operation",
            f"'{update.op.value}' does not apply to "
            f"{metric.type.value} '{metric.name}' (use {allowed})",
            path=(*update.path, update.op.value),
        )
    fields = {f.name: f for f in event.fields}
    if update.field is not None:
        field = fields.get(update.field)
        if field is None:
            yield _unknown_field(update.field, event, (*update.path, update.op.value))
        elif field.type not in _NUMERIC:
            yield Diagnostic(
                "events/field-type",
                f"field '{field.name}' is a {field.type}; "
                f"'{update.op.value}' needs an int or float",
                path=(*update.path, update.op.value),
            )
    yield from _update_labels(metric.label_names, metric.labels, update, fields, event)


def _update_labels(
    names: tuple[str, ...],
    labels: tuple[Label, ...],
    update: EventUpdate,
    fields: dict[str, EventField],
    event: Event,
) -> Iterator[Diagnostic]:
    given = dict(update.labels)
    path = (*update.path, "labels")
    missing = [n for n in names if n not in given]
    if missing:
        yield Diagnostic(
            "events/labels",
            f"metric '{update.metric}' needs label(s) {', '.join(missing)}",
            path=path,
        )
    by_name = {label.name: label for label in labels}
    for name, value in given.items():
        if name not in by_name:
            yield Diagnostic(
                "events/labels",
                f"metric '{update.metric}' has no label '{name}'",
                path=(*path, name),
            )
            continue
        if value.startswith("$"):
            if value[1:] not in fields:
                yield _unknown_field(value[1:], event, (*path, name))
        elif by_name[name].values and value not in by_name[name].values:
            yield Diagnostic(
                "events/label-value",
                f"'{value}' is not an allowed value of label '{name}' "
                f"({', '.join(by_name[name].values)})",
                path=(*path, name),
                severity=Severity.ERROR,
            )


def _unknown_field(name: str, event: Event, path: tuple[str | int, ...]) -> Diagnostic:
    names = [f.name for f in event.fields]
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    return Diagnostic(
        "events/unknown-field",
        f"event '{event.name}' has no field '{name}' (fields: {', '.join(names)})",
        path=path,
        hint=f"did you mean '{close[0]}'?" if close else None,
    )


def _cost(spec: Spec, event: Event) -> Iterator[Diagnostic]:
    if event.cost is None:
        return
    fields = {f.name for f in event.fields}
    for key in (
        "field",
        "model",
        "input_tokens",
        "output_tokens",
        "cached_input_tokens",
        "reasoning_tokens",
    ):
        name = getattr(event.cost, key)
        if name is not None and name not in fields:
            yield _unknown_field(name, event, (*event.path, "cost", key))
    if spec.pricing is None:
        yield Diagnostic(
            "events/pricing",
            f"event '{event.name}' computes cost but the spec has no pricing table",
            path=(*event.path, "cost"),
        )
