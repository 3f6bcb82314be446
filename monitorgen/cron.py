"""Five-field cron expressions: parse, check, and translate to systemd `OnCalendar=`.

Supported per field: ``*``, numbers, ranges ``a-b``, steps ``*/n`` and ``a-b/n``,
comma lists, and month / weekday names (``jan``, ``mon``). Weekday 7 is Sunday
like 0. The macros (``@daily``) are not accepted: five fields say the same.

Cron runs a job when *either* a restricted day of month *or* a restricted day of
week matches, while systemd requires both. An expression restricting both
cannot be translated faithfully, so `parse_cron` refuses it.
"""

from __future__ import annotations

from monitorgen.immutable import immutable

MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_SYSTEMD_WEEKDAYS = ("Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat")


class CronError(ValueError):
    """An expression that is not a usable 5-field cron schedule."""


@immutable
class _FieldSpec:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    name_offset: int = 0


_FIELDS = (
    _FieldSpec("minute", 0, 59),
    _FieldSpec("hour", 0, 23),
    _FieldSpec("day of month", 1, 31),
    _FieldSpec("month", 1, 12, MONTHS, 1),
    _FieldSpec("day of week", 0, 7, WEEKDAYS, 0),
)


@immutable
class CronSchedule:
    """The matching values of each field; None stands for an unrestricted ``*``."""

    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: tuple[int, ...] | None
    months: tuple[int, ...] | None
    weekdays: tuple[int, ...] | None
    """0 is Sunday."""

    def on_calendar(self) -> str:
        """The same schedule as a systemd calendar event (local time, like cron)."""
        date_part = f"*-{_listed(self.months)}-{_listed(self.days)}"
        time_part = f"{_listed(self.hours)}:{_listed(self.minutes)}:00"
        if self.weekdays is None:
            return f"{date_part} {time_part}"
        return f"{_weekday_list(self.weekdays)} {date_part} {time_part}"


def _listed(values: tuple[int, ...] | None) -> str:
    if values is None:
        return "*"
    return ",".join(f"{value:02d}" for value in values)


def _weekday_list(days: tuple[int, ...]) -> str:
    """Weekday names, contiguous runs written ``Mon..Fri``."""
    runs: list[list[int]] = []
    for day in days:
        if runs and day == runs[-1][-1] + 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    parts = []
    for run in runs:
        first, last = _SYSTEMD_WEEKDAYS[run[0]], _SYSTEMD_WEEKDAYS[run[-1]]
        parts.append(first if len(run) == 1 else f"{first}..{last}")
    return ",".join(parts)


def _number(text: str, spec: _FieldSpec) -> int:
    lowered = text.lower()
    if spec.names and lowered in spec.names:
        return spec.names.index(lowered) + spec.name_offset
    if not text.isdigit():
        raise CronError(f"{spec.name}: {text!r} is not a number")
    value = int(text)
    if not spec.low <= value <= spec.high:
        raise CronError(f"{spec.name}: {value} is outside {spec.low}-{spec.high}")
    return value


def _term(term: str, spec: _FieldSpec) -> set[int]:
    """The values of one comma-separated term such as ``*/5``, ``1-5`` or ``mon``."""
    base, slash, step_text = term.partition("/")
    step = 1
    if slash:
        if not step_text.isdigit() or int(step_text) == 0:
            raise CronError(f"{spec.name}: step {step_text!r} must be a positive number")
        step = int(step_text)
    if base == "*":
        low, high = spec.low, spec.high
    elif "-" in base:
        first, _, last = base.partition("-")
        low, high = _number(first, spec), _number(last, spec)
        if low > high:
            raise CronError(f"{spec.name}: range {base!r} runs backwards")
    else:
        low = _number(base, spec)
        high = spec.high if slash else low
    return set(range(low, high + 1, step))


def _field(text: str, spec: _FieldSpec) -> tuple[int, ...] | None:
    if text == "*":
        return None
    values: set[int] = set()
    for term in text.split(","):
        if not term:
            raise CronError(f"{spec.name}: empty item in {text!r}")
        values |= _term(term, spec)
    if spec.name == "day of week" and 7 in values:
        values = (values - {7}) | {0}
    return tuple(sorted(values))


def parse_cron(expression: str) -> CronSchedule:
    """Parse ``minute hour day-of-month month day-of-week``; raise CronError."""
    fields = expression.split()
    if len(fields) != len(_FIELDS):
        raise CronError(f"a cron schedule has 5 fields, {expression!r} has {len(fields)}")
    minutes, hours, days, months, weekdays = (
        _field(text, spec) for text, spec in zip(fields, _FIELDS, strict=True)
    )
    if days is not None and weekdays is not None:
        raise CronError(
            "restricting both day of month and day of week means either in cron "
            "but both in systemd; restrict only one"
        )
    return CronSchedule(
        minutes=minutes or tuple(range(60)),
        hours=hours or tuple(range(24)),
        days=days,
        months=months,
        weekdays=weekdays,
    )
