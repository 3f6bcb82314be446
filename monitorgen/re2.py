"""Alertmanager's matcher regexes (Go's RE2 syntax) for the engines monitorgen has.

monitorgen evaluates routes with Python's `re` and asks the PromQL parser's engine
(Rust's `regex`, RE2's syntax family) whether Alertmanager would accept a pattern. The
three agree on most of the syntax; where they do not, a pattern is rewritten into the
common part before either engine sees it:

* `\\Q...\\E` (quoted text) becomes escaped text, and an octal `\\101` a hex escape;
* `\\z` (end of text) is `\\Z` for Python;
* POSIX classes inside brackets (`[[:alpha:]]`, `[[:^space:]]`) become the ranges
  they stand for, which Python lacks;
* `{,n}` is literal text in RE2 and a repetition in Python, so its brace is escaped;
* `\\d`, `\\s`, `\\w` and `\\b` are ASCII-only in RE2: Python compiles with re.ASCII.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable
from functools import cache

from monitorgen.immutable import immutable

#: RE2's POSIX classes, as the ASCII characters each holds.
_ASCII = "".join(chr(code) for code in range(128))
_POSIX_CLASSES: dict[str, Callable[[str], bool]] = {
    "alnum": lambda c: c.isascii() and c.isalnum(),
    "alpha": lambda c: c.isascii() and c.isalpha(),
    "ascii": lambda c: True,
    "blank": lambda c: c in " \t",
    "cntrl": lambda c: ord(c) < 32 or ord(c) == 127,
    "digit": lambda c: c in string.digits,
    "graph": lambda c: 33 <= ord(c) <= 126,
    "lower": lambda c: c in string.ascii_lowercase,
    "print": lambda c: 32 <= ord(c) <= 126,
    "punct": lambda c: c in string.punctuation,
    "space": lambda c: c in " \t\n\v\f\r",
    "upper": lambda c: c in string.ascii_uppercase,
    "word": lambda c: c.isascii() and (c.isalnum() or c == "_"),
    "xdigit": lambda c: c in string.hexdigits,
}
_POSIX_CLASS = re.compile(r"\[:(\^?)([a-z]+):\]")
_META = frozenset("\\.+*?()|[]{}^$-")
_LAST_CODE_POINT = 0x10FFFF


class NotRe2(ValueError):
    """A pattern RE2 does not read (an unknown POSIX class, a dangling escape)."""


@immutable
class Translated:
    python: str
    """For Python's `re`, compiled with re.ASCII."""
    rust: str
    """For the PromQL parser's regex engine."""


@cache
def translated(pattern: str) -> Translated:
    python: list[str] = []
    rust: list[str] = []
    index = 0
    in_class = False
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            py, rs, index = _escape(pattern, index, in_class)
            python.append(py)
            rust.append(rs)
            continue
        if in_class and pattern.startswith("[:", index):
            found = _POSIX_CLASS.match(pattern, index)
            if found is None or found[2] not in _POSIX_CLASSES:
                raise NotRe2(f"no POSIX class at {pattern[index:]!r}")
            python.append(_ranges(found[2], negated=bool(found[1])))
            rust.append(found[0])
            index = found.end()
            continue
        if not in_class and char == "[":
            in_class = True
            opening = "[^" if pattern.startswith("[^", index) else "["
            index += len(opening)
            if index < len(pattern) and pattern[index] == "]":  # a leading ] is literal
                opening += "\\]"
                index += 1
            python.append(opening)
            rust.append(opening)
            continue
        if in_class and char == "]":
            in_class = False
        elif not in_class and pattern.startswith("{,", index):
            python.append("\\{")
            rust.append("\\{")
            index += 1
            continue
        python.append(char)
        rust.append(char)
        index += 1
    return Translated("".join(python), "".join(rust))


def _escape(pattern: str, index: int, in_class: bool) -> tuple[str, str, int]:
    """The escape at `index` for Python and Rust, and where the pattern goes on."""
    if index + 1 >= len(pattern):
        raise NotRe2("a trailing backslash")
    kind = pattern[index + 1]
    if kind == "Q":
        end = pattern.find("\\E", index + 2)
        stop = len(pattern) if end < 0 else end
        literal = "".join(f"\\{c}" if c in _META else c for c in pattern[index + 2 : stop])
        return literal, literal, stop if end < 0 else stop + 2
    if kind == "z" and not in_class:
        return "\\Z", "\\z", index + 2
    if kind in "01234567":
        digits = re.match(r"[0-7]{1,3}", pattern[index + 1 :])
        assert digits is not None
        if kind != "0" and len(digits[0]) == 1:
            raise NotRe2(f"\\{kind} is a backreference, which RE2 does not have")
        code = int(digits[0], 8)
        return f"\\x{code:02x}", f"\\x{{{code:x}}}", index + 1 + len(digits[0])
    return pattern[index : index + 2], pattern[index : index + 2], index + 2


def _ranges(name: str, *, negated: bool) -> str:
    """A POSIX class as bracket ranges; negated, everything else up to U+10FFFF."""
    holds = _POSIX_CLASSES[name]
    codes = [ord(c) for c in _ASCII if holds(c)]
    spans = _spans(codes)
    if negated:
        spans = _gaps(spans)
    return "".join(_range_text(low, high) for low, high in spans)


def _spans(codes: list[int]) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for code in codes:
        if spans and spans[-1][1] == code - 1:
            spans[-1] = (spans[-1][0], code)
        else:
            spans.append((code, code))
    return spans


def _gaps(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    gaps = []
    start = 0
    for low, high in spans:
        if low > start:
            gaps.append((start, low - 1))
        start = high + 1
    if start <= _LAST_CODE_POINT:
        gaps.append((start, _LAST_CODE_POINT))
    return gaps


def _range_text(low: int, high: int) -> str:
    def one(code: int) -> str:
        return f"\\x{code:02x}" if code < 256 else f"\\U{code:08x}"

    return one(low) if low == high else f"{one(low)}-{one(high)}"
