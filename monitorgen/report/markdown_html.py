"""HTML for the report's own Markdown: headings, paragraphs, lists, tables, bold, code.

Mail clients show a real table far better than a ``<pre>`` block of pipes, and
the report uses only a handful of Markdown constructs, all written by
`monitorgen.report.render`, so a small converter covers it without a
dependency. Every piece of text is escaped before markup is added, so task
types or model names taken from trace logs cannot inject HTML. Anything
outside the subset comes out as an escaped paragraph, never as raw HTML.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator, Sequence

_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
_LIST_ITEM = re.compile(r"^[-*]\s+(.*)$")
_TABLE_RULE = re.compile(r"^\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?$")
_CELL_SPLIT = re.compile(r"(?<!\\)\|")
_CODE = re.compile(r"`([^`]+)`")
_BOLD = re.compile(r"\*\*(.+?)\*\*")

STYLE = (
    "body{font-family:sans-serif;line-height:1.4}"
    "table{border-collapse:collapse}"
    "th,td{border:1px solid #ccc;padding:2px 8px;text-align:right}"
    "th:first-child,td:first-child{text-align:left}"
)


def inline(text: str) -> str:
    """Escape ``text`` and turn ``**bold**`` and `` `code` `` into HTML."""
    parts = _CODE.split(text)
    out = []
    for index, part in enumerate(parts):
        if index % 2:
            out.append(f"<code>{html.escape(part)}</code>")
        else:
            out.append(_BOLD.sub(r"<strong>\1</strong>", html.escape(part)))
    return "".join(out)


def _cells(line: str) -> list[str]:
    body = line.strip()
    body = body.removeprefix("|")
    if body.endswith("|") and not body.endswith("\\|"):
        body = body[:-1]
    return [cell.strip().replace("\\|", "|") for cell in _CELL_SPLIT.split(body)]


def _table(lines: Sequence[str]) -> str:
    header, rows = _cells(lines[0]), [_cells(line) for line in lines[2:]]
    head = "".join(f"<th>{inline(cell)}</th>" for cell in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{inline(cell)}</td>" for cell in row) + "</tr>\n" for row in rows
    )
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}</tbody>\n</table>"


def _is_table_start(lines: Sequence[str], index: int) -> bool:
    return (
        lines[index].lstrip().startswith("|")
        and index + 1 < len(lines)
        and _TABLE_RULE.match(lines[index + 1].strip()) is not None
    )


def _blocks(lines: Sequence[str]) -> Iterator[str]:
    index = 0
    while index < len(lines):
        line = lines[index]
        if not line.strip():
            index += 1
        elif heading := _HEADING.match(line):
            level = len(heading.group(1))
            yield f"<h{level}>{inline(heading.group(2).strip())}</h{level}>"
            index += 1
        elif _is_table_start(lines, index):
            end = index + 2
            while end < len(lines) and lines[end].lstrip().startswith("|"):
                end += 1
            yield _table(lines[index:end])
            index = end
        elif _LIST_ITEM.match(line):
            items = []
            while index < len(lines) and (item := _LIST_ITEM.match(lines[index])):
                items.append(f"<li>{inline(item.group(1))}</li>")
                index += 1
            yield "<ul>\n" + "\n".join(items) + "\n</ul>"
        else:
            paragraph = []
            while index < len(lines) and _is_paragraph_line(lines, index):
                paragraph.append(lines[index].strip())
                index += 1
            yield f"<p>{inline(' '.join(paragraph))}</p>"


def _is_paragraph_line(lines: Sequence[str], index: int) -> bool:
    line = lines[index]
    return bool(
        line.strip()
        and not _HEADING.match(line)
        and not _LIST_ITEM.match(line)
        and not _is_table_start(lines, index)
    )


def markdown_to_html(markdown: str, *, title: str = "") -> str:
    """A complete HTML document for ``markdown``; ``title`` fills ``<title>``."""
    body = "\n".join(_blocks(markdown.splitlines()))
    return (
        '<!DOCTYPE html>\n<html>\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n"
        f"<body>\n{body}\n</body>\n</html>\n"
    )
