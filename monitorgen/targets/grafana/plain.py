"""grafanalib objects as plain JSON data without nulls: what `drop_nulls` of
`json.loads(json.dumps(objects, cls=DashboardEncoder))` gives, in one walk instead of
writing and reading back a dashboard's text.

Plain dicts, lists, tuples and scalars are copied as they are; an object is replaced by
its `to_json_data()`, as grafanalib's encoder does. Anything else (a subclass of a JSON
type, a key that is not a string) takes the round trip through JSON text itself, so it
comes out as it did before. Proven equal by a property test.
"""

from __future__ import annotations

import json
from typing import Any

from monitorgen.targets.grafana.normalize import drop_nulls

_JSON_TYPES = (str, int, float, list, tuple, dict)
_SCALARS = frozenset({str, int, float, bool, type(None)})


def plain_data(value: Any) -> Any:
    """JSON data for `value`: new dicts and lists (never the objects' own), null-valued
    keys dropped."""
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is dict:
        return _plain_dict(value)
    if kind is list or kind is tuple:
        return [plain_data(item) for item in value]
    to_json_data = None if isinstance(value, _JSON_TYPES) else getattr(value, "to_json_data", None)
    if to_json_data:
        return plain_data(to_json_data())
    return _round_trip(value)


def _plain_dict(mapping: dict[Any, Any]) -> Any:
    result = {}
    for key, item in mapping.items():
        if type(key) is not str:
            return _round_trip(mapping)
        if type(item) not in _SCALARS:  # most values are: kept without a call
            item = plain_data(item)
        if item is not None:
            result[key] = item
    return result


def _round_trip(value: Any) -> Any:
    from grafanalib._gen import DashboardEncoder

    return drop_nulls(json.loads(json.dumps(value, cls=DashboardEncoder)))
