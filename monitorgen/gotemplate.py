"""The Go templates of alert labels and annotations, as Prometheus expands them.

`parse_template` checks what Prometheus would reject at load time or print
wrongly (unbalanced braces, unknown functions or variables, unclosed blocks)
and records which series labels a template reads. `render` expands the simple
templates alerts use (`{{ $value | humanize }}`, `{{ $labels.x }}`) exactly as
Prometheus 2.x does, so generated unit tests can state the annotations they
expect; anything richer is reported as not renderable.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from decimal import Decimal
from functools import cached_property, lru_cache

from monitorgen.immutable import immutable

#: Functions Prometheus adds to Go's text/template, and Go's own.
PROMETHEUS_FUNCTIONS = frozenset(
    {
        "args",
        "externalURL",
        "first",
        "graphLink",
        "humanize",
        "humanize1024",
        "humanizeDuration",
        "humanizePercentage",
        "humanizeTimestamp",
        "label",
        "match",
        "parseDuration",
        "pathPrefix",
        "query",
        "reReplaceAll",
        "safeHtml",
        "sortByLabel",
        "stripDomain",
        "stripPort",
        "strvalue",
        "tableLink",
        "title",
        "tmpl",
        "toLower",
        "toTime",
        "toUpper",
        "value",
    }
)
GO_FUNCTIONS = frozenset(
    {
        "and",
        "call",
        "eq",
        "ge",
        "gt",
        "html",
        "index",
        "js",
        "le",
        "len",
        "lt",
        "ne",
        "not",
        "or",
        "print",
        "printf",
        "println",
        "slice",
        "urlquery",
    }
)
KNOWN_FUNCTIONS = PROMETHEUS_FUNCTIONS | GO_FUNCTIONS
#: Variables Prometheus defines before expanding an alert template.
PREDEFINED_VARIABLES = frozenset({"$", "$labels", "$value", "$externalLabels", "$externalURL"})
#: Fields of the template data (`.Labels`, `.Value`, ...).
DATA_FIELDS = frozenset({"Labels", "Value", "ExternalLabels", "ExternalURL"})
_OPENERS = frozenset({"if", "range", "with", "define", "block"})
_KEYWORDS = _OPENERS | {"else", "end", "template", "break", "continue", "nil", "true", "false"}
_VALUE_FUNCTIONS = frozenset({"humanize", "humanize1024", "humanizeDuration", "humanizePercentage"})
_STRING_FUNCTIONS = frozenset({"toUpper", "toLower"})

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<string>"(?:[^"\\]|\\.)*"|`[^`]*`)
    | (?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
    | (?P<variable>\$[A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)
    | (?P<field>(?:\.[A-Za-z0-9_]+)+|\.)
    | (?P<identifier>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<symbol>:=|=|\||\(|\)|,)
    )""",
    re.VERBOSE,
)


class TemplateError(ValueError):
    """A template Prometheus would refuse or expand wrongly; the message says why."""


@immutable
class Token:
    kind: str
    text: str


@immutable
class Action:
    """One `{{ ... }}`: its tokens, or none for a comment."""

    tokens: tuple[Token, ...]
    trim_left: bool
    trim_right: bool


@immutable
class ParsedTemplate:
    """Text and actions in order: each part is a str or an Action."""

    parts: tuple[str | Action, ...]

    @cached_property
    def actions(self) -> tuple[Action, ...]:
        return tuple(p for p in self.parts if isinstance(p, Action))

    def label_refs(self) -> frozenset[str]:
        """Series labels the template reads: `$labels.x`, `.Labels.x`, `index $labels "x"`."""
        return self._label_refs

    @cached_property
    def _label_refs(self) -> frozenset[str]:
        """Found once: a parsed template is shared by every field with its text."""
        found: set[str] = set()
        for action in self.actions:
            tokens = action.tokens
            for index, token in enumerate(tokens):
                label = _label_of(token)
                if label:
                    found.add(label)
                if token.text == "index" and index + 2 < len(tokens):
                    target, key = tokens[index + 1], tokens[index + 2]
                    if target.text in ("$labels", ".Labels") and key.kind == "string":
                        found.add(key.text[1:-1])
        return frozenset(found)

    def uses_value(self) -> bool:
        return any(t.text in ("$value", ".Value") for action in self.actions for t in action.tokens)


def _label_of(token: Token) -> str | None:
    for prefix in ("$labels.", ".Labels."):
        if token.text.startswith(prefix):
            return token.text[len(prefix) :].split(".")[0]
    return None


#: Distinct templates kept parsed: the alerts of a large spec repeat a few hundred
#: texts tens of thousands of times, and several checks read each one.
TEMPLATE_CACHE_SIZE = 1 << 16


#: Where a template reads the alert's value.
VALUE_REFERENCE = re.compile(r"\$value|\.Value")


@lru_cache(maxsize=TEMPLATE_CACHE_SIZE)
def parse_template(text: str) -> ParsedTemplate:
    """Split a template into text and actions and check it; raise TemplateError.
    The result is immutable and shared by every caller with the same text."""
    parts: list[str | Action] = []
    position = 0
    while True:
        start = text.find("{{", position)
        if start < 0:
            _check_no_closer(text[position:])
            parts.append(text[position:])
            break
        _check_no_closer(text[position:start])
        parts.append(text[position:start])
        end = text.find("}}", start + 2)
        if end < 0:
            raise TemplateError("'{{' is never closed by '}}'")
        parts.append(_action(text[start + 2 : end]))
        position = end + 2
    parsed = ParsedTemplate(tuple(p for p in parts if not (isinstance(p, str) and not p)))
    _check_structure(parsed)
    return parsed


def _check_no_closer(text: str) -> None:
    if "}}" in text:
        raise TemplateError("'}}' without an opening '{{'")


def _action(inner: str) -> Action:
    trim_left = inner.startswith("- ") or inner == "-"
    trim_right = inner.endswith(" -")
    body = inner[2 if trim_left else 0 : len(inner) - (2 if trim_right else 0)].strip()
    if body.startswith("/*"):
        if not body.endswith("*/"):
            raise TemplateError("a template comment must end with '*/'")
        return Action((), trim_left, trim_right)
    if not body:
        raise TemplateError("empty action '{{ }}'")
    return Action(_tokens(body), trim_left, trim_right)


def _tokens(body: str) -> tuple[Token, ...]:
    tokens = []
    position = 0
    while position < len(body):
        match = _TOKEN.match(body, position)
        if match is None or match.end() == position:
            raise TemplateError(f"cannot read {body[position:].strip()!r} in '{{{{ {body} }}}}'")
        kind = match.lastgroup
        assert kind is not None
        tokens.append(Token(kind, match.group(kind)))
        position = match.end()
        while position < len(body) and body[position].isspace():
            position += 1
    return tuple(tokens)


def _check_structure(parsed: ParsedTemplate) -> None:
    declared = set(PREDEFINED_VARIABLES)
    depth = 0
    for action in parsed.actions:
        if not action.tokens:
            continue
        first = action.tokens[0].text
        if first in _OPENERS:
            depth += 1
        elif first == "end":
            depth -= 1
            if depth < 0:
                raise TemplateError("'{{ end }}' without an open if, range or with")
        _check_tokens(action.tokens, declared)
    if depth > 0:
        raise TemplateError("an if, range or with block is never closed by '{{ end }}'")


def _check_tokens(tokens: tuple[Token, ...], declared: set[str]) -> None:
    for index, token in enumerate(tokens):
        following = tokens[index + 1].text if index + 1 < len(tokens) else ""
        if token.kind == "variable":
            name = token.text.split(".")[0]
            if following in (":=", "=") or _declares_pair(tokens, index):
                declared.add(name)
            elif name not in declared:
                raise TemplateError(f"undefined variable {name}")
        elif token.kind == "field" and token.text != ".":
            field = token.text.split(".")[1]
            if field not in DATA_FIELDS:
                known = ", ".join(f".{f}" for f in sorted(DATA_FIELDS))
                raise TemplateError(f"unknown field .{field} (the data has {known})")
        elif token.kind == "identifier" and token.text not in _KEYWORDS | KNOWN_FUNCTIONS:
            raise TemplateError(f'function "{token.text}" not defined')


def _declares_pair(tokens: tuple[Token, ...], index: int) -> bool:
    """Whether the variable at `index` is the first of `$k, $v :=` (as in `range`)."""
    following = tokens[index + 1 : index + 4]
    return [t.text for t in following[:1]] == [","] and (
        len(following) == 3 and following[1].kind == "variable" and following[2].text in (":=", "=")
    )


# ------------------------------------------------------------------ rendering


def render(parsed: ParsedTemplate, value: float, labels: Mapping[str, str]) -> str | None:
    """Expand the template as Prometheus would; None when it uses more than values,
    labels and the humanize functions."""
    pieces: list[str] = []
    trim_next = False
    for part in parsed.parts:
        if isinstance(part, str):
            pieces.append(part.lstrip() if trim_next else part)
            trim_next = False
            continue
        if part.trim_left and pieces:
            pieces[-1] = pieces[-1].rstrip()
        trim_next = part.trim_right
        if not part.tokens:
            continue
        expanded = _pipeline(part.tokens, value, labels)
        if expanded is None:
            return None
        pieces.append(expanded)
    return "".join(pieces)


def _pipeline(tokens: tuple[Token, ...], value: float, labels: Mapping[str, str]) -> str | None:
    commands = _split(tokens)
    if commands is None:
        return None
    current = _operand(commands[0], value, labels)
    for command in commands[1:]:
        if current is None or len(command) != 1:
            return None
        current = _apply(command[0].text, current)
    if current is None:
        return None
    return go_float(current) if isinstance(current, float) else current


def _split(tokens: tuple[Token, ...]) -> list[list[Token]] | None:
    commands: list[list[Token]] = [[]]
    for token in tokens:
        if token.text == "|":
            commands.append([])
        elif token.kind == "symbol":
            return None
        else:
            commands[-1].append(token)
    return commands if all(commands) else None


def _operand(command: list[Token], value: float, labels: Mapping[str, str]) -> float | str | None:
    """`$value`, `$labels.x`, a string, or `fn $value` (the call form of a pipeline)."""
    if len(command) == 2 and command[0].kind == "identifier":
        inner = _operand([command[1]], value, labels)
        return None if inner is None else _apply(command[0].text, inner)
    if len(command) != 1:
        return None
    token = command[0]
    if token.text in ("$value", ".Value"):
        return value
    label = _label_of(token)
    if label is not None:
        return labels.get(label, "")
    if token.kind == "string" and token.text.startswith('"'):
        return bytes(token.text[1:-1], "utf-8").decode("unicode_escape")
    return None


#: Seconds beyond which Go's humanizeDuration overflows its int64.
_INT64_LIMIT = 2.0**63


def _apply(function: str, argument: float | str) -> float | str | None:
    if function in _VALUE_FUNCTIONS:
        number = _as_float(argument)
        if number is None:
            return None
        if function == "humanizeDuration" and abs(number) >= _INT64_LIMIT:
            return None  # Go converts it to an int64, which overflows as the CPU decides
        formatter = {
            "humanize": humanize,
            "humanize1024": humanize1024,
            "humanizeDuration": humanize_duration,
            "humanizePercentage": humanize_percentage,
        }[function]
        return formatter(number)
    if function in _STRING_FUNCTIONS and isinstance(argument, str):
        return argument.upper() if function == "toUpper" else argument.lower()
    return None


def _as_float(argument: float | str) -> float | None:
    if isinstance(argument, float):
        return argument
    try:
        return float(argument)
    except ValueError:
        return None


# ------------------------------------------------------- Go number formatting


def go_g(value: float, precision: int = 4) -> str:
    """Go's `fmt.Sprintf("%.<precision>g", value)`."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return f"{value:.{precision}g}"


def go_float(value: float) -> str:
    """How Go's fmt prints a float64 with %v: shortest digits, exponent form from 1e+06
    and below 1e-04."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "0"
    sign, digit_tuple, exponent = Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(map(str, digit_tuple))
    point = len(digits) + exponent
    prefix = "-" if sign else ""
    if point - 1 < -4 or point - 1 >= 6:
        mantissa = digits[0] + (f".{digits[1:]}" if len(digits) > 1 else "")
        power = point - 1
        return f"{prefix}{mantissa}e{'+' if power >= 0 else '-'}{abs(power):02d}"
    if point <= 0:
        return f"{prefix}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return prefix + digits + "0" * (point - len(digits))
    return f"{prefix}{digits[:point]}.{digits[point:]}"


def humanize(value: float) -> str:
    if value == 0 or math.isnan(value) or math.isinf(value):
        return go_g(value)
    if abs(value) >= 1:
        prefix = ""
        for candidate in ("k", "M", "G", "T", "P", "E", "Z", "Y"):
            if abs(value) < 1000:
                break
            prefix = candidate
            value /= 1000
        return go_g(value) + prefix
    prefix = ""
    for candidate in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if abs(value) >= 1:
            break
        prefix = candidate
        value *= 1000
    return go_g(value) + prefix


def humanize1024(value: float) -> str:
    if abs(value) <= 1 or math.isnan(value) or math.isinf(value):
        return go_g(value)
    prefix = ""
    for candidate in ("ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"):
        if abs(value) < 1024:
            break
        prefix = candidate
        value /= 1024
    return go_g(value) + prefix


def humanize_duration(value: float) -> str:
    if math.isnan(value) or math.isinf(value):
        return go_g(value)
    if value == 0:
        return go_g(value) + "s"
    if abs(value) >= 1:
        sign = "-" if value < 0 else ""
        whole = int(abs(value))
        seconds, minutes = whole % 60, (whole // 60) % 60
        hours, days = (whole // 3600) % 24, whole // 86400
        if days:
            return f"{sign}{days}d {hours}h {minutes}m {seconds}s"
        if hours:
            return f"{sign}{hours}h {minutes}m {seconds}s"
        if minutes:
            return f"{sign}{minutes}m {seconds}s"
        return f"{sign}{go_g(abs(value))}s"
    prefix = ""
    for candidate in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if abs(value) >= 1:
            break
        prefix = candidate
        value *= 1000
    return f"{go_g(value)}{prefix}s"


def humanize_percentage(value: float) -> str:
    return go_g(value * 100) + "%"
