"""Findings reported to the user: where, what, how bad, and how to fix it."""

from __future__ import annotations

from dataclasses import field
from enum import IntEnum
from typing import Any

from monitorgen.immutable import immutable


class Severity(IntEnum):
    """Ordered so that `--fail-on` can compare against a threshold."""

    INFO = 10
    WARNING = 20
    ERROR = 30

    @property
    def label(self) -> str:
        return self.name.lower()


@immutable(order=True)
class Span:
    """A place in a spec file; line and column are 1-based."""

    file: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        if not self.line:
            return self.file
        return f"{self.file}:{self.line}:{self.column}"


UNKNOWN_SPAN = Span("<unknown>")


def format_path(path: tuple[str | int, ...]) -> str:
    """Render a field path the way users write it: `alerts[3].for`."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text or "<top level>"


@immutable
class Diagnostic:
    """One finding. `code` is a stable `family/name` slug such as `schema/type`."""

    code: str
    message: str
    span: Span = UNKNOWN_SPAN
    path: tuple[str | int, ...] = ()
    severity: Severity = Severity.ERROR
    hint: str | None = None
    related: tuple[Span, ...] = field(default=())
    first_defined_at: tuple[str | int, ...] | None = None
    """For a finding about a second definition, the field path of the first: placing
    the finding names its file and line (in the message, and as `related`)."""

    @property
    def field_path(self) -> str:
        return format_path(self.path)

    def sort_key(self) -> tuple[str, int, int, str, str]:
        return (self.span.file, self.span.line, self.span.column, self.code, self.message)

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity.label,
            "file": self.span.file,
            "line": self.span.line,
            "column": self.span.column,
            "path": self.field_path,
            "message": self.message,
            "hint": self.hint,
            "related": [str(s) for s in self.related],
        }


def has_errors(diagnostics: list[Diagnostic]) -> bool:
    return any(d.severity >= Severity.ERROR for d in diagnostics)


def sorted_diagnostics(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    unique = {(d.sort_key(), d.path, d.severity): d for d in diagnostics}
    return [unique[k] for k in sorted(unique, key=lambda k: (k[0], [str(p) for p in k[1]]))]


class SpecError(Exception):
    """Raised inside a stage when it cannot go on; carries every finding so far."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        super().__init__(f"{len(diagnostics)} problem(s)")
        self.diagnostics = diagnostics
