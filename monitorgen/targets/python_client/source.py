"""Python source text in the layout `ruff format` gives it, so generated code is format-clean.

The rule that keeps output stable under the formatter: a bracketed group stays on one line
when it fits in `LINE_LENGTH`, and otherwise puts one item per line with a trailing comma
(which the formatter keeps as a "magic trailing comma").
"""

from __future__ import annotations

import keyword
import textwrap
from collections.abc import Iterable, Sequence
from functools import lru_cache

from monitorgen.immutable import immutable

LINE_LENGTH = 100
INDENT = "    "
_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


@immutable
class Group:
    """Items between brackets: `head` ends with the opening bracket (`Counter(`, `{`),
    `close` is the closing one. A one-item tuple keeps its comma."""

    head: str
    items: tuple[Item, ...]
    close: str = ")"
    tuple_: bool = False

    def flat(self) -> str:
        inner = ", ".join([item if isinstance(item, str) else item.flat() for item in self.items])
        if self.tuple_ and len(self.items) == 1:
            inner += ","
        return f"{self.head}{inner}{self.close}"


Item = str | Group


def flat(item: Item) -> str:
    return item if isinstance(item, str) else item.flat()


def call(name: str, *items: Item) -> Group:
    return Group(f"{name}(", tuple(items))


def tuple_of(items: Iterable[Item], head: str = "") -> Group:
    return Group(f"{head}(", tuple(items), ")", tuple_=True)


def layout(item: Item, indent: int, prefix: str = "", suffix: str = "") -> list[str]:
    """Lines of `prefix + item + suffix` at `indent` levels, exploded where too long."""
    pad = INDENT * indent
    one_line = f"{pad}{prefix}{flat(item)}{suffix}"
    if isinstance(item, str) or len(one_line) <= LINE_LENGTH or not item.items:
        return [_allow_long(one_line)]
    lines = [_allow_long(f"{pad}{prefix}{item.head}")]
    for child in item.items:
        lines.extend(layout(child, indent + 1, suffix=","))
    lines.append(f"{pad}{item.close}{suffix}")
    return lines


def _allow_long(line: str) -> str:
    """A line no layout can shorten (a very long name) is exempted from the length rule,
    which already ignores a line of one word."""
    if len(line) <= LINE_LENGTH or "\n" in line or " " not in line.strip():
        return line
    return f"{line}  # noqa: E501"


@lru_cache(maxsize=16384)
def py_str(text: str) -> str:
    """A string literal as the formatter writes it: double quotes unless the text holds
    more double than single quotes; non-ASCII characters escaped (no ambiguous glyphs).
    Remembered per text: a module repeats its metric and label names many times."""
    quote = "'" if text.count('"') > text.count("'") else '"'
    if _plain_ascii(text) and quote not in text:
        return quote + text + quote
    return quote + "".join(_escape(char, quote) for char in text) + quote


def _plain_ascii(text: str) -> bool:
    """Printable ASCII without a backslash: `_escape` keeps every character but quotes."""
    return text.isascii() and text.isprintable() and "\\" not in text


def _escape(char: str, quote: str) -> str:
    if char in _ESCAPES:
        return _ESCAPES[char]
    if char == quote:
        return "\\" + char
    code = ord(char)
    if 32 <= code < 127:
        return char
    if code < 256:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def long_str(text: str, indent: int) -> Item:
    """A string literal at `indent` levels, as implicitly joined pieces (one per line)
    when one line cannot hold it."""
    whole = py_str(text)
    room = LINE_LENGTH - len(INDENT) * indent - 1
    if len(whole) <= room:
        return whole
    pieces = [py_str(piece) for piece in _split_words(text, room)]
    return ("\n" + INDENT * indent).join(pieces)


def _split_words(text: str, width: int) -> list[str]:
    """Pieces of `text` whose literals are at most `width` long: split after spaces, and
    inside a word only when the word alone is too long."""
    pieces: list[str] = []
    current = ""
    for word in _words(text):
        if current and len(py_str(current + word)) > width:
            pieces.append(current)
            current = ""
        while len(py_str(word)) > width:
            cut = _longest_prefix(word, width)
            pieces.append(word[:cut])
            word = word[cut:]
        current += word
    if current or not pieces:
        pieces.append(current)
    return pieces


def _words(text: str) -> list[str]:
    """`text` cut after each space, so that the pieces join back to it."""
    words = text.split(" ")
    return [word + " " for word in words[:-1]] + [words[-1]]


def _longest_prefix(word: str, width: int) -> int:
    cut = len(word)
    while cut > 1 and len(py_str(word[:cut])) > width:
        cut -= 1
    return cut


def docstring(paragraphs: Sequence[str], indent: int) -> list[str]:
    """A docstring: the first paragraph is the summary; text is wrapped and escaped."""
    pad = INDENT * indent
    width = LINE_LENGTH - len(pad) - 3
    body: list[str] = []
    for index, paragraph in enumerate(p for p in paragraphs if p.strip()):
        if index:
            body.append("")
        body.extend(_doc_lines(paragraph, width))
    if not body:
        return []
    if len(body) == 1 and len(body[0]) + 3 <= width:
        return [f'{pad}"""{_close_safe(body[0])}"""']
    if len(body[0]) > width and body[0][:1].isspace():
        body.insert(0, "")  # a word too long for any line: alone on its own, not after `"""`
    lines = [f'{pad}"""{body[0]}']
    lines.extend(f"{pad}{line}" if line else "" for line in body[1:])
    lines.append(f'{pad}"""')
    return lines


def _doc_lines(paragraph: str, width: int) -> list[str]:
    """Wrapped lines of one paragraph; an indented line wraps under its own indentation."""
    lines: list[str] = []
    for raw in paragraph.strip("\n").splitlines():
        text = _doc_escape(raw.rstrip())
        if len(text) <= width:
            lines.append(text)
            continue
        lead = text[: len(text) - len(text.lstrip())]
        lines.extend(
            textwrap.wrap(
                text.lstrip(),
                width,
                initial_indent=lead,
                subsequent_indent=lead + (INDENT if lead else ""),
                break_long_words=False,
                break_on_hyphens=False,
            )
        )
    return lines


def _doc_escape(text: str) -> str:
    text = text.replace("\t", " ")
    if not _plain_ascii(text):
        text = "".join(_escape(c, "") if c != '"' else c for c in text)
    return text.replace('"""', '\\"\\"\\"')


def _close_safe(text: str) -> str:
    """A one-line docstring cannot end with a quote right before the closing quotes."""
    if not text.endswith('"'):
        return text
    body = text[:-1]
    escaped = (len(body) - len(body.rstrip("\\"))) % 2 == 1
    return text if escaped else body + '\\"'


def identifier(name: str, taken: Iterable[str] = ()) -> str:
    """`name` as a Python identifier that is no keyword and not in `taken`."""
    result = name if name.isidentifier() else "".join(c if c.isalnum() else "_" for c in name)
    if result[:1].isdigit():
        result = f"_{result}"
    blocked = set(taken)
    while keyword.iskeyword(result) or keyword.issoftkeyword(result) or result in blocked:
        result += "_"
    return result


def camel(name: str) -> str:
    """`llm_app` -> `LlmApp`."""
    return "".join(part[:1].upper() + part[1:] for part in name.replace("-", "_").split("_"))
