"""Report archive: ``daily_report_<date>.md`` files and an ``index.md`` listing them.

The index is rebuilt from the folder's contents each time, so it stays right
when reports are added again for a day, copied in or deleted by hand. Both
files are written atomically with `monitorgen.writer.write_file`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from monitorgen.writer import write_file

INDEX_NAME = "index.md"
INDEX_TITLE = "Daily reports"
_REPORT_FILE = re.compile(r"^daily_report_(\d{4}-\d{2}-\d{2})\.md$")


def report_file_name(day: date) -> str:
    """``daily_report_2026-11-26.md``."""
    return f"daily_report_{day.isoformat()}.md"


def archived_days(archive_dir: Path) -> list[date]:
    """Days with an archived report, newest first."""
    if not archive_dir.is_dir():
        return []
    days = []
    for path in archive_dir.iterdir():
        match = _REPORT_FILE.match(path.name)
        if match is None or not path.is_file():
            continue
        try:
            days.append(date.fromisoformat(match.group(1)))
        except ValueError:
            continue
    return sorted(days, reverse=True)


def render_index(days: Sequence[date], *, title: str = INDEX_TITLE) -> str:
    """Markdown index linking each day's report, in the order given."""
    if not days:
        return f"# {title}\n\nNo reports yet.\n"
    links = "\n".join(f"- [{day.isoformat()}]({report_file_name(day)})" for day in days)
    return f"# {title}\n\n{links}\n"


def archive_report(
    markdown: str, day: date, archive_dir: Path, *, index_title: str = INDEX_TITLE
) -> Path:
    """Store the day's report (replacing an earlier one) and refresh the index;
    return the report's path."""
    path = archive_dir / report_file_name(day)
    write_file(path, markdown.encode("utf-8"))
    write_index(archive_dir, title=index_title)
    return path


def write_index(archive_dir: Path, *, title: str = INDEX_TITLE) -> Path:
    """Rewrite ``index.md`` from the reports in ``archive_dir``."""
    index = archive_dir / INDEX_NAME
    write_file(index, render_index(archived_days(archive_dir), title=title).encode("utf-8"))
    return index
