"""Grafana's unit ids. Grafana shows an unknown unit id as plain text after the number,
without the scaling of a real unit (7200 `seconds` never reads `2 hour`), so panel units
are checked against this table.

The table is grafanalib's (`grafanalib.formatunits`, from Grafana's `valueFormats`
categories) plus the ids Grafana added after grafanalib 0.7.1 was released.
"""

from __future__ import annotations

import difflib

from grafanalib import formatunits

#: Ids newer than grafanalib 0.7.1's table (Grafana 9 to 11).
_NEWER_UNITS = frozenset(
    {
        "sishort",
        "candela",
        "acres",
        "hectares",
        "mohm",
        "mwatth",
        "rotkhz",
        "rotmhz",
        "rotghz",
        "eps",
        "epm",
        "mps",
        "mpm",
        "recps",
        "recpm",
        "reqpm",
        "rowsps",
        "rowspm",
        "currencyBGN",
        "currencyILS",
        "currencyMYR",
        "currencyPYG",
        "currencyTRY",
        "currencyUYU",
        "currencyVND",
        "currencyXPF",
    }
)

#: Custom units: the prefix followed by free text, e.g. `suffix: tokens`, `currency:€`.
CUSTOM_UNIT_PREFIXES = ("prefix:", "suffix:", "si:", "count:", "currency:", "time:")

KNOWN_UNITS = (
    frozenset(
        value
        for name, value in vars(formatunits).items()
        if name.isupper() and isinstance(value, str)
    )
    | _NEWER_UNITS
)

#: What people write instead of the Grafana id, usually a Prometheus base unit.
_COMMON_NAMES = {
    "seconds": "s",
    "second": "s",
    "sec": "s",
    "milliseconds": "ms",
    "usd": "currencyUSD",
    "dollars": "currencyUSD",
    "eur": "currencyEUR",
    "ratio": "percentunit",
    "percentage": "percent",
    "tokens": "short",
    "count": "short",
    "requests": "short",
    "bytes_per_second": "Bps",
}


def is_known_unit(unit: str) -> bool:
    if unit in KNOWN_UNITS:
        return True
    return any(unit.startswith(p) and len(unit) > len(p) for p in CUSTOM_UNIT_PREFIXES)


def suggest_unit(unit: str) -> str | None:
    """The Grafana id most likely meant by an unknown unit."""
    common = _COMMON_NAMES.get(unit.lower())
    if common is not None:
        return common
    close = difflib.get_close_matches(unit, sorted(KNOWN_UNITS), n=1, cutoff=0.75)
    return close[0] if close else None
