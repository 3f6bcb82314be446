"""Present findings: text with source excerpts, JSON, or GitHub annotations."""

from __future__ import annotations

import difflib
import json
import re
import unicodedata
from collections.abc import Sequence
from functools import cache
from pathlib import Path

from monitorgen.diagnostics import Diagnostic, Severity
from monitorgen.semantic.receivers import secret_in_url
from monitorgen.spec.schema import SECRET_FIELDS


@cache
def _source_lines(file: str) -> list[str]:
    try:
        return Path(file).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return []


def text(diagnostic: Diagnostic, *, excerpt: bool = True) -> str:
    """`specs/llm.yaml:42:7: alerts[3].for: '5 minutes' is not a duration (...) [schema/pattern]`"""
    level = "" if diagnostic.severity >= Severity.ERROR else f"{diagnostic.severity.label}: "
    where = f"{diagnostic.field_path}: " if diagnostic.path else ""
    lines = [f"{diagnostic.span}: {level}{where}{diagnostic.message} [{diagnostic.code}]"]
    if excerpt and diagnostic.span.line:
        source = _source_lines(diagnostic.span.file)
        if 0 < diagnostic.span.line <= len(source):
            raw = source[diagnostic.span.line - 1]
            line = without_secrets(raw)
            column = len(without_secrets(raw[: max(diagnostic.span.column - 1, 0)])) + 1
            shown, caret = excerpt_of(line, min(column, len(line) + 1))
            lines.append(f"    {shown}")
            lines.append("    " + " " * _display_width(shown[:caret]) + "^")
    if diagnostic.hint:
        hint = diagnostic.hint
        if len(hint) > LONGEST_HINT:  # the whole stays in the JSON report
            hint = hint[:LONGEST_HINT] + _CUT
        lines.append(f"    hint: {hint}")
    return "\n".join(lines)


#: The most characters of a source line an excerpt shows: a longer one is cut around
#: the column (a one-line expression may run to thousands).
EXCERPT_WIDTH = 120
#: The most characters of a hint shown (one naming a long expression, say).
LONGEST_HINT = 300
_CUT = "..."


REDACTED = "<redacted>"
#: A key's value in a line of YAML (block or flow style).
_KEY_VALUE = re.compile(r"(?<![\w-])([A-Za-z_][\w-]*)(\s*:[ \t]+)([^,}#\n]+)")
#: Last words that make a key a secret's name (`db_password`, `x-api-token`; not
#: `token_type`).
_SECRET_WORDS = re.compile(
    r"(?:^|[_-])(?:pass(?:word|wd)|secret|token|api_?key|credentials?)$", re.IGNORECASE
)
_URL = re.compile(r"[A-Za-z][\w+.-]*://[^\s,}\"']+")


def without_secrets(line: str) -> str:
    """A source line as an excerpt may show it to a terminal or CI log: the values of
    secret-looking keys and URLs that embed a secret replaced by REDACTED (a spec that
    holds a secret is refused, and its findings must not spread it)."""
    line = _KEY_VALUE.sub(_redacted_value, line)
    return _URL.sub(lambda found: REDACTED if secret_in_url(found.group()) else found.group(), line)


def _redacted_value(found: re.Match[str]) -> str:
    key = found.group(1)
    if not _names_a_secret(key):
        return found.group()
    return found.group(1) + found.group(2) + REDACTED


@cache
def _names_a_secret(key: str) -> bool:
    """A secret field, a key that names a secret but no file, or a misspelt secret
    field (`auth_pasword`: refused as unknown, its value still a secret)."""
    if key in SECRET_FIELDS:
        return True
    if key.endswith("_file"):
        return False
    return bool(_SECRET_WORDS.search(key)) or bool(
        difflib.get_close_matches(key, SECRET_FIELDS, n=1, cutoff=0.85)
    )


def _display_width(text: str) -> int:
    """Terminal columns: wide characters (CJK, most emoji) take two, combining marks
    none, so the caret lands under its character."""
    return sum(
        0 if unicodedata.combining(ch) else 2 if unicodedata.east_asian_width(ch) in "WF" else 1
        for ch in text
    )


def excerpt_of(line: str, column: int) -> tuple[str, int]:
    """`line`, or the part of a long one around `column` (1-based) with the cuts marked;
    and where the caret goes under it."""
    at = max(column - 1, 0)
    if len(line) <= EXCERPT_WIDTH:
        return line, at
    start = max(0, min(at - EXCERPT_WIDTH // 4, len(line) - EXCERPT_WIDTH))
    before = _CUT if start else ""
    after = _CUT if start + EXCERPT_WIDTH < len(line) else ""
    return before + line[start : start + EXCERPT_WIDTH] + after, at - start + len(before)


def text_report(diagnostics: Sequence[Diagnostic]) -> str:
    body = "\n".join(text(d) for d in diagnostics)
    errors = sum(d.severity >= Severity.ERROR for d in diagnostics)
    warnings = len(diagnostics) - errors
    return f"{body}\n{errors} error(s), {warnings} warning(s)" if diagnostics else ""


def json_report(diagnostics: Sequence[Diagnostic], **extra: object) -> str:
    payload = {"diagnostics": [d.to_dict() for d in diagnostics], **extra}
    return json.dumps(payload, indent=2, sort_keys=True)


def github(diagnostic: Diagnostic) -> str:
    """A GitHub Actions workflow command, so findings show up on the pull request."""
    kind = {Severity.ERROR: "error", Severity.WARNING: "warning"}.get(diagnostic.severity, "notice")
    span = diagnostic.span
    where = f"file={_property(span.file)}"
    if span.line:
        where += f",line={span.line},col={span.column}"
    message = f"{diagnostic.field_path}: {diagnostic.message}"
    return f"::{kind} {where},title={_property(diagnostic.code)}::{_data(message)}"


def github_file(path: str, code: str, message: str) -> str:
    """A workflow error about a whole file (an output file out of date)."""
    return f"::error file={_property(path)},title={_property(code)}::{_data(message)}"


def _data(text: str) -> str:
    """A workflow command's message: `%`, CR and LF escaped, as the runner expects."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    """A workflow command's property value: also `:` and `,`, which end it."""
    return _data(text).replace(":", "%3A").replace(",", "%2C")
