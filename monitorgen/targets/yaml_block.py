"""Block YAML written directly, for the plain data targets produce.

PyYAML spends most of a large dump building a node per object and handing each scalar
to the emitter, which asks back twice how it resolves. The structure of block YAML is
simple (two spaces per level, sequences in mappings not indented, a collection under a
sequence item starting on the dash's line); what is hard is a scalar's style, and that
is still the library's answer: each distinct scalar other than a plain word or a line
that must be single-quoted is dumped by the library once and its text reused. Anything
outside that shape (other types, long or multi-line keys, scalars long enough to fold,
top-level scalars) makes the writer decline, and the caller dumps the whole document
with the library. Tests prove the bytes equal to the library's over generated output
and random documents.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

#: The longest key the writer writes itself: the emitter writes keys of 128 characters
#: or more (and empty or multi-line ones) as explicit `? key` entries.
_LONGEST_KEY = 100
#: The longest one-line scalar the writer writes itself, far below the emitter's fold
#: width (block scalars' lines are never folded).
_LONGEST_SCALAR = 10_000
#: Scalars always written plain unless they resolve to another type: printable ASCII
#: with no leading indicator ("-" is one only before a space), no ": " or " #", no
#: trailing ":" or space, and not starting like a document marker.
_PLAIN_CANDIDATE = re.compile(
    r"(?!.*(?:: | #))(?!---|\.\.\.)(?:[A-Za-z0-9_$(/.=<+~^]|-(?=[!-~]))[ -~]*(?<![ :])\Z"
)
#: Scalars always written single-quoted: printable ASCII on one line holding ": " or
#: " #", which no plain scalar may hold. The emitter single-quotes any printable line
#: it cannot write plain (doubling its quotes), and splits none this short.
_SINGLE_QUOTED = re.compile(r"(?=.*(?:: | #))[ -~]*\Z")
_KEY_BREAKS = re.compile("[\n\r\x85\u2028\u2029]")


def _has_other_break(text: str) -> bool:
    """Whether `text` holds a YAML line break other than "\n": the emitter writes them
    raw inside block scalars and indents the line after them, which the body's lines
    here would not show. (Three substring scans: far faster than a character class
    over the long texts of a block body.)"""
    return "\x85" in text or "\u2028" in text or "\u2029" in text


Scalar = tuple[str, str]
"""A scalar's text after `key: ` or `- `, and its block body: lines relative to the
body's indentation, each ending in a line break ("" when there is no body)."""
#: A line break before a line with text, where a block body's indentation goes.
_BEFORE_TEXT = re.compile(r"\n(?=[^\n])")
#: In the library's text of a block scalar as a sequence item (after a line break):
#: a line with text that lacks the body's two-space indentation.
_UNINDENTED_LINE = re.compile(r"\n(?!  |\n|\Z)")


def _is_simple_key(key: str) -> bool:
    """Whether the emitter writes `key:` rather than an explicit `? key` entry."""
    return 0 < len(key) <= _LONGEST_KEY and not _KEY_BREAKS.search(key)


class _Declined(Exception):
    """The data is outside what the writer writes itself."""


class BlockWriter:
    """Writes what `dump` writes for dicts with string keys, lists, strings, ints,
    bools and None. `dump` is the library path (used once per distinct scalar, and for
    whole documents the writer declines); `resolves_to_str(text)` tells whether a plain
    scalar reads back as a string."""

    def __init__(self, dump: Callable[[Any], str], resolves_to_str: Callable[[str], bool]):
        self._dump = dump
        self._resolves_to_str = resolves_to_str
        self._scalars: dict[Any, Scalar] = {}
        """Strings by themselves, other scalars by (type, repr)."""
        self._keys: dict[str, str] = {}
        """Each key's text: a large document repeats a few hundred keys a million times."""

    def write(self, data: Any) -> str | None:
        """The document's text, or None when the library must write it."""
        kind = type(data)
        if kind is not dict and kind is not list:
            return None
        if not data:
            return "{}\n" if kind is dict else "[]\n"
        out: list[str] = []
        try:
            if kind is dict:
                self._mapping(data, 0, "", out)
            else:
                self._sequence(data, 0, "", out)
        except _Declined:
            return None
        finally:
            if len(self._scalars) + len(self._keys) > 500_000:  # a bound for long-lived processes
                self._scalars.clear()
                self._keys.clear()
        return "".join(out)

    def _mapping(self, data: dict[Any, Any], indent: int, lead: str, out: list[str]) -> None:
        """Keys at column `indent`; `lead` starts the first key's line (a sequence
        item's dash, or the indentation)."""
        pad = " " * indent
        keys = self._keys
        scalars = self._scalars
        for key, value in data.items():
            text = keys.get(key) if type(key) is str else None
            if text is None:
                text = self._key(key)
            kind = type(value)
            if kind is str:  # most values: a string written before, on one line
                known = scalars.get(value)
                if known is not None and not known[1]:
                    out.append(f"{lead}{text}: {known[0]}\n")
                    lead = pad
                    continue
            elif kind is int:
                out.append(f"{lead}{text}: {value}\n")
                lead = pad
                continue
            if kind is dict and value:
                out.append(f"{lead}{text}:\n")
                self._mapping(value, indent + 2, " " * (indent + 2), out)
            elif kind is list and value:
                out.append(f"{lead}{text}:\n")
                self._sequence(value, indent, pad, out)
            else:
                out.append(f"{lead}{text}: ")
                self._value(value, indent + 2, out)
            lead = pad

    def _key(self, key: Any) -> str:
        if type(key) is not str or not _is_simple_key(key):
            raise _Declined
        text = self._keys[key] = self._scalar(key)[0]
        return text

    def _sequence(self, items: list[Any], indent: int, lead: str, out: list[str]) -> None:
        """Dashes at column `indent`; `lead` starts the first item's line."""
        pad = " " * indent
        scalars = self._scalars
        for item in items:
            kind = type(item)
            if kind is str:  # as in _mapping
                known = scalars.get(item)
                if known is not None and not known[1]:
                    out.append(f"{lead}- {known[0]}\n")
                    lead = pad
                    continue
            if kind is dict and item:
                self._mapping(item, indent + 2, f"{lead}- ", out)
            elif kind is list and item:
                self._sequence(item, indent + 2, f"{lead}- ", out)
            else:
                out.append(f"{lead}- ")
                self._value(item, indent + 2, out)
            lead = pad

    def _value(self, value: Any, indent: int, out: list[str]) -> None:
        text, body = self._scalar(value)
        out.append(f"{text}\n")
        if body:  # one pass over a body of any length; empty lines stay unindented
            out.append(_BEFORE_TEXT.sub("\n" + " " * indent, "\n" + body)[1:])

    def _scalar(self, value: Any) -> Scalar:
        kind = type(value)
        if kind is str:
            known = self._scalars.get(value)
            if known is None:
                known = self._scalars[value] = self._string(value)
            return known
        if kind is int:
            return str(value), ""
        if kind is bool:
            return ("true" if value else "false"), ""
        if value is None:
            return "null", ""
        if kind is float or kind is dict or kind is list:  # floats; empty collections
            key = (kind, repr(value))  # repr keeps 0.0 and -0.0 apart
            known = self._scalars.get(key)
            if known is None:
                known = self._scalars[key] = self._library_scalar(value)
            return known
        raise _Declined

    def _string(self, text: str) -> Scalar:
        if len(text) <= _LONGEST_SCALAR:
            if _PLAIN_CANDIDATE.match(text) and self._resolves_to_str(text):
                return text, ""
            if _SINGLE_QUOTED.match(text):
                return "'" + text.replace("'", "''") + "'", ""
        if _has_other_break(text):
            raise _Declined
        return self._library_scalar(text)

    def _library_scalar(self, value: Any) -> Scalar:
        """The library's text for `value` as a sequence item: `- text` on one line, or
        `- |...` followed by a body indented two spaces."""
        text = self._dump([value])
        if not (text.startswith("- ") and text.endswith("\n")):
            raise _Declined
        if "\r" in text or _has_other_break(text):  # libyaml's breaks besides "\n"
            raise _Declined
        first, _, body = text[2:].partition("\n")
        if body:
            lines = "\n" + body
            if first[:1] not in ("|", ">") or _UNINDENTED_LINE.search(lines):
                raise _Declined
            return first, lines.replace("\n  ", "\n")[1:]
        if len(first) > _LONGEST_SCALAR:  # a block body never folds; this line might
            raise _Declined
        return first, ""
