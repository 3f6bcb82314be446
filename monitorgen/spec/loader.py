"""Load spec YAML keeping the position of every node.

Mappings and sequences become `SpecMap` / `SpecList`, ordinary `dict` / `list`
subclasses that remember where each key and item stands, so jsonschema can
validate them as they are and every later finding can point at a line and column.
Includes are merged and environments applied on these containers, so positions
survive both and still name the file each value came from.
"""

from __future__ import annotations

import marshal
import math
import os
import re
import sys
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import yaml

from monitorgen.diagnostics import Diagnostic, Severity, Span, SpecError
from monitorgen.layers import available_layers, layer_file
from monitorgen.spec.parse_cache import ParseCache

if TYPE_CHECKING:
    from monitorgen.forked import Forked

MAX_SPEC_BYTES = 1024 * 1024
MAX_INCLUDE_DEPTH = 8
#: Specs nest a dozen levels at most; a bound keeps deeply nested input from
#: exhausting the stack of the (recursive) builder below.
MAX_NESTING_DEPTH = 64

#: libyaml's parser when PyYAML was built with it: the same events and marks, much faster.
_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Mark(Protocol):
    """Where libyaml found a node (0-based)."""

    @property
    def line(self) -> int: ...

    @property
    def column(self) -> int: ...


def _span_at(file: str, mark: _Mark) -> Span:
    return Span(file, mark.line + 1, mark.column + 1)


#: Where libyaml found a node, as one int: `line << 32 | column`, both 0-based. The
#: garbage collector tracks libyaml's marks but not ints, and a spec of thousands of
#: alerts has a quarter of a million places that live as long as the spec.
_Place = int


def _place(mark: _Mark) -> _Place:
    return mark.line << 32 | mark.column


def _span_of_place(file: str, place: _Place) -> Span:
    return Span(file, (place >> 32) + 1, (place & 0xFFFFFFFF) + 1)


#: Where the loader found a mapping, each of its keys and each of its values (a plain
#: tuple, and the containers have slots: a large spec makes tens of thousands of them).
_MapPlaces = tuple[str, _Place, dict[str, _Place], dict[str, _Place]]
#: Where the loader found a sequence and each of its items.
_ListPlaces = tuple[str, _Place, list[_Place]]


class SpecMap(dict[str, Any]):
    """A mapping with the span of itself, of each key and of each value.

    A map the loader built holds the places libyaml found its parts at and makes its
    spans when first asked: a spec of thousands of alerts has a quarter of a million
    places, and its findings need a handful.
    """

    __slots__ = ("_key_spans", "_places", "_span", "_value_spans")

    def __init__(self, span: Span) -> None:
        super().__init__()
        self._span = span
        self._key_spans: dict[str, Span] = {}
        self._value_spans: dict[str, Span] = {}
        self._places: _MapPlaces | None = None

    @classmethod
    def _placed(
        cls, file: str, start: _Place, keys: dict[str, _Place], values: dict[str, _Place]
    ) -> SpecMap:
        """An empty map whose places the loader records in `keys` and `values`."""
        result = cls.__new__(cls)
        result._places = (file, start, keys, values)
        return result

    @property
    def span(self) -> Span:
        self._settle()
        return self._span

    @property
    def key_spans(self) -> dict[str, Span]:
        self._settle()
        return self._key_spans

    @property
    def value_spans(self) -> dict[str, Span]:
        self._settle()
        return self._value_spans

    def put(self, key: str, value: Any, key_span: Span, value_span: Span) -> None:
        self._settle()
        self[key] = value
        self._key_spans[key] = key_span
        self._value_spans[key] = value_span

    def _settle(self) -> None:
        """Turn the places, if any, into spans."""
        if self._places is None:
            return
        file, start, keys, values = self._places
        self._places = None
        self._span = _span_of_place(file, start)
        self._key_spans = {key: _span_of_place(file, at) for key, at in keys.items()}
        self._value_spans = {key: _span_of_place(file, at) for key, at in values.items()}


class SpecList(list[Any]):
    """A sequence with the span of itself and of each item (made from places as in SpecMap)."""

    __slots__ = ("_item_spans", "_places", "_span")

    def __init__(self, span: Span) -> None:
        super().__init__()
        self._span = span
        self._item_spans: list[Span] = []
        self._places: _ListPlaces | None = None

    @classmethod
    def _placed(cls, file: str, start: _Place, items: list[_Place]) -> SpecList:
        """An empty list whose places the loader records in `items`."""
        result = cls.__new__(cls)
        result._places = (file, start, items)
        return result

    @property
    def span(self) -> Span:
        self._settle()
        return self._span

    @property
    def item_spans(self) -> list[Span]:
        self._settle()
        return self._item_spans

    def add(self, value: Any, span: Span) -> None:
        self._settle()
        self.append(value)
        self._item_spans.append(span)

    def _settle(self) -> None:
        """Turn the places, if any, into spans."""
        if self._places is None:
            return
        file, start, items = self._places
        self._places = None
        self._span = _span_of_place(file, start)
        self._item_spans = [_span_of_place(file, at) for at in items]


def span_of(root: Any, path: tuple[str | int, ...]) -> Span:
    """The span of the value at `path`, or of its deepest existing parent."""
    node = root
    span = getattr(root, "span", Span("<unknown>"))
    for part in path:
        if isinstance(node, SpecMap) and isinstance(part, str) and part in node:
            span = node.value_spans.get(part, span)
            node = node[part]
        elif isinstance(node, SpecList) and isinstance(part, int) and 0 <= part < len(node):
            span = node.item_spans[part]
            node = node[part]
        else:
            break
    return span


def paths_in_their_files(root: Any) -> Callable[[tuple[str | int, ...]], tuple[str | int, ...]]:
    """What gives a path of the merged document with each list index counted among the
    items written in the same file: the alert a spec file lists fifth is `alerts[4]`
    there, however many alerts a layer or an include put before it. (Each list's
    indexes are worked out once: a spec may have thousands of findings.)"""
    local: dict[int, list[int]] = {}

    def indexes(node: SpecList) -> list[int]:
        found = local.get(id(node))
        if found is None:
            seen: dict[str, int] = {}
            found = []
            for span in node.item_spans:
                found.append(seen.get(span.file, 0))
                seen[span.file] = found[-1] + 1
            local[id(node)] = found
        return found

    def in_its_file(path: tuple[str | int, ...]) -> tuple[str | int, ...]:
        node = root
        written: list[str | int] = []
        for part in path:
            if isinstance(node, SpecList) and isinstance(part, int) and 0 <= part < len(node):
                written.append(indexes(node)[part])
                node = node[part]
            else:
                written.append(part)
                has = isinstance(node, SpecMap) and isinstance(part, str) and part in node
                node = node[part] if has else None
        return tuple(written)

    return in_its_file


def path_at(root: Any, span: Span) -> tuple[str | int, ...] | None:
    """The path under `root` of the shallowest value (or key) written at `span`, or None."""
    level: list[tuple[Any, tuple[str | int, ...]]] = [(root, ())]
    while level:
        below: list[tuple[Any, tuple[str | int, ...]]] = []
        for node, path in level:
            if isinstance(node, SpecMap):
                placed = [(node[k], (*path, k), node.value_spans.get(k)) for k in node]
                keyed = [(k, node.key_spans.get(k)) for k in node]
                found = next(((*path, k) for k, at in keyed if at == span), None)
                if found is not None and all(at != span for _, _, at in placed):
                    return found
            elif isinstance(node, SpecList):
                spans = node.item_spans
                placed = [(v, (*path, i), spans[i]) for i, v in enumerate(node)]
            else:
                continue
            for value, value_path, at in placed:
                if at == span:
                    return value_path
                below.append((value, value_path))
        level = below
    return None


def key_span_of(root: Any, path: tuple[str | int, ...]) -> Span:
    """The span of the key that ends `path` (points at `for:` rather than its value)."""
    if path and isinstance(path[-1], str):
        parent = root
        for part in path[:-1]:
            try:
                parent = parent[part]
            except (KeyError, IndexError, TypeError):
                return span_of(root, path)
        if isinstance(parent, SpecMap) and path[-1] in parent.key_spans:
            return parent.key_spans[path[-1]]
    return span_of(root, path)


class _StrictLoader(_BaseLoader):  # type: ignore[valid-type,misc]
    """YAML 1.2 scalars: only true/false are booleans, dates stay strings, `1e6` is a
    number and `18:00` stays a string (YAML 1.1 reads it as 1080 in base 60)."""


_YAML_1_1_ONLY = {
    "tag:yaml.org,2002:timestamp",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
}
_StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in _YAML_1_1_ONLY]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?(?:0|[1-9][0-9]*)|0x[0-9a-fA-F]+)$"),
    list("-+0123456789"),
)
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+.0123456789"),
)


_STR_TAG = "tag:yaml.org,2002:str"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_INT_TAG = "tag:yaml.org,2002:int"
_LARGEST_FLOAT = sys.float_info.max


class _NotFinite(ValueError):
    """A float scalar that reads as NaN or an infinity: JSON, and so the spec's schema,
    has no such numbers, and a threshold of `.nan` would make an alert that never fires."""


def _shortened(text: str, longest: int = 40) -> str:
    """`text` as a message quotes it: a number of hundreds of digits by its start."""
    return text if len(text) <= longest else f"{text[:20]}... ({len(text)} characters)"


_UNRESOLVED = object()
_ScalarEvent = yaml.ScalarEvent
_MappingStartEvent = yaml.MappingStartEvent
_SequenceStartEvent = yaml.SequenceStartEvent
_MappingEndEvent = yaml.MappingEndEvent
_SequenceEndEvent = yaml.SequenceEndEvent

_Path = tuple[str | int, ...]


def _child(path: _Path, part: str | int | None) -> _Path:
    return path if part is None else (*path, part)


def _unreadable_character(file: str, text: str, error: yaml.reader.ReaderError) -> Diagnostic:
    """A character YAML refuses (NUL, a bell, ...), at its line and column: the reader
    reports only its offset in the text."""
    at = min(max(error.position, 0), len(text))
    line = text.count("\n", 0, at) + 1
    column = at - (text.rfind("\n", 0, at) + 1) + 1
    code = error.character if isinstance(error.character, int) else ord(error.character)
    return Diagnostic(
        "yaml/syntax",
        f"invalid YAML: the character U+{code:04X} is not allowed (of the control "
        "characters, YAML takes only tab and line breaks)",
        Span(file, line, column),
    )


def _syntax_error(file: str, problem: object, mark: _Mark | None) -> Diagnostic:
    span = _span_at(file, mark) if mark is not None else Span(file)
    return Diagnostic("yaml/syntax", f"invalid YAML: {problem}", span)


class _TooDeep(Exception):
    """Nesting passed MAX_NESTING_DEPTH: the stream is not read any further."""


class _Builder:
    """Builds SpecMap / SpecList / scalars from libyaml's event stream in one pass.

    The same pass refuses aliases (billion laughs) and nesting deeper than any spec
    needs, and notes what libyaml's composer would refuse (a repeated anchor, a
    second document), so no tree of YAML nodes is composed first: at thousands of
    alerts, composing that tree and walking it took twice as long as this pass.
    Field paths, which only findings need, are made only for them.
    """

    def __init__(self, loader: yaml.SafeLoader, file: str) -> None:
        self.next_event: Callable[[], Any] = loader.get_event
        self.resolve: Callable[..., str] = loader.resolve
        self.file = file
        #: Aliases and too deep nesting, found anywhere in the stream.
        self.refusals: list[Diagnostic] = []
        self.aliases_reported: set[str] = set()
        self.depth = 0
        #: What libyaml's composer refuses: the first repeated anchor of the first
        #: document (the only one it composes), else a second document.
        self.uncomposable: Diagnostic | None = None
        self.anchors: dict[str, _Mark] | None = {}
        #: Keys that are not plain names, repeated keys and scalars no constructor takes.
        self.problems: list[Diagnostic] = []
        #: The value of each untagged plain scalar text so far: a spec repeats the same
        #: keys and words thousands of times, and resolving a tag runs regexes.
        self.plain: dict[str, Any] = {}
        self.constructor: yaml.SafeLoader | None = None
        #: Told each key and value of the top-level mapping as soon as it is read.
        self.on_top_level: Callable[[str, Any], None] | None = None

    def span(self, event: Any) -> Span:
        return _span_at(self.file, event.start_mark)

    def stream(self) -> tuple[Any, Any]:
        """The first document's value and root event; (None, None) without a document."""
        get = self.next_event
        get()  # stream start
        if isinstance(get(), yaml.StreamEndEvent):
            return None, None
        root_event = get()
        if self.on_top_level is not None and root_event.__class__ is _MappingStartEvent:
            root: Any = self.mapping(root_event, (), self.on_top_level)
        else:
            root = self.node(root_event, ())
        get()  # document end
        event = get()
        if not isinstance(event, yaml.StreamEndEvent) and self.uncomposable is None:
            self.uncomposable = _syntax_error(
                self.file,
                "a spec file holds one YAML document, and a second one starts here",
                event.start_mark,
            )
        self.anchors = None
        while isinstance(event, yaml.DocumentStartEvent):
            self.skip(get(), ())
            get()  # document end
            event = get()
        return root, root_event

    def node(self, event: Any, parent: _Path, part: str | int | None = None) -> Any:
        """The value of the node that starts with `event`, at `parent` + `part`."""
        kind = event.__class__
        if kind is _ScalarEvent:
            if event.tag is None and event.anchor is None:  # most scalars
                if not event.implicit[0]:
                    return event.value  # quoted or block: a string, however it reads
                value = self.plain.get(event.value, _UNRESOLVED)
                if value is not _UNRESOLVED:
                    return value
            try:
                return self.scalar(event)
            except _NotFinite:
                message = (
                    f"'{_shortened(event.value)}' is not a finite number: spec numbers must be "
                    "finite and fit a float (a histogram's +Inf bucket is implicit)"
                )
                problem = Diagnostic(
                    "yaml/not-finite", message, self.span(event), _child(parent, part)
                )
                self.problems.append(problem)
            except yaml.constructor.ConstructorError as exc:
                message = str(exc.problem)
                if event.value == "<<":
                    message = (
                        "YAML merge keys (<<) are not supported, as aliases are not: write "
                        "the keys out, or share them through include"
                    )
                problem = Diagnostic("yaml/syntax", message, self.span(event), _child(parent, part))
                self.problems.append(problem)
            except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError):
                # The constructors of explicit tags (`!!int abc`) fail this way, not as
                # a ConstructorError.
                tag = str(event.tag).replace("tag:yaml.org,2002:", "!!")
                message = f"'{event.value}' cannot be read as {tag}"
                problem = Diagnostic("yaml/syntax", message, self.span(event), _child(parent, part))
                self.problems.append(problem)
            return None
        if kind is _MappingStartEvent:
            return self.mapping(event, _child(parent, part))
        if kind is _SequenceStartEvent:
            return self.sequence(event, _child(parent, part))
        self.alias(event)
        return None

    def scalar(self, event: Any) -> Any:
        if event.anchor is not None:
            self.anchor(event)
        tag = event.tag
        if tag is None or tag == "!":
            tag = self.resolve(yaml.ScalarNode, event.value, event.implicit)
            value = self.construct(tag, event)
            if event.tag is None and event.implicit[0]:
                self.plain[event.value] = value
            return value
        return self.construct(tag, event)

    def construct(self, tag: str, event: Any) -> Any:
        if tag == _STR_TAG:  # most scalars; the constructor would return the text as is
            return event.value
        if self.constructor is None:
            self.constructor = _StrictLoader("")
        node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)
        value = self.constructor.construct_object(node)
        if tag == _FLOAT_TAG and not math.isfinite(value):
            raise _NotFinite(event.value)
        if tag == _INT_TAG and not -_LARGEST_FLOAT <= value <= _LARGEST_FLOAT:
            raise _NotFinite(event.value)  # checks and targets compare it with floats
        return value

    def mapping(
        self, start: Any, path: _Path, watch: Callable[[str, Any], None] | None = None
    ) -> SpecMap:
        self.enter(start)
        key_places: dict[str, _Place] = {}
        value_places: dict[str, _Place] = {}
        result = SpecMap._placed(self.file, _place(start.start_mark), key_places, value_places)
        get = self.next_event
        known = self.plain
        event = get()
        while event.__class__ is not _MappingEndEvent:
            key: Any = None
            if event.__class__ is _ScalarEvent:
                # node()'s most common case written out: a key seen before, as in node()
                if event.tag is None and event.anchor is None and event.implicit[0]:
                    key = known.get(event.value)
                if key.__class__ is not str:
                    key = self.node(event, path)
                    if key.__class__ is not str:
                        key = _key_text(key)
            else:
                self.not_a_key(event, path)
            value_event = get()
            if key is None:
                self.skip(value_event, path)
            elif key in result:
                self.duplicate_key(event, key, key_places[key], path)
                self.skip(value_event, (*path, key))
            else:
                result[key] = self.node(value_event, path, key)
                # _place() written out: it runs for every key and value
                mark = event.start_mark
                key_places[key] = mark.line << 32 | mark.column
                mark = value_event.start_mark
                value_places[key] = mark.line << 32 | mark.column
                if watch is not None:
                    watch(key, result[key])
            event = get()
        self.depth -= 1
        return result

    def not_a_key(self, event: Any, path: _Path) -> None:
        """Report and read past a list or mapping written as a key."""
        self.skip(event, path)
        message = "a key must be a plain name, not a list or mapping"
        self.problems.append(Diagnostic("yaml/key", message, self.span(event), path))

    def duplicate_key(self, event: Any, key: str, first_place: _Place, path: _Path) -> None:
        first = _span_of_place(self.file, first_place)
        self.problems.append(
            Diagnostic(
                "yaml/duplicate-key",
                f"duplicate key '{key}' (first defined at line {first.line})",
                self.span(event),
                (*path, key),
                related=(first,),
            )
        )

    def sequence(self, start: Any, path: _Path) -> SpecList:
        self.enter(start)
        item_places: list[_Place] = []
        result = SpecList._placed(self.file, _place(start.start_mark), item_places)
        get = self.next_event
        event = get()
        while event.__class__ is not _SequenceEndEvent:
            result.append(self.node(event, path, len(result)))
            mark = event.start_mark  # _place() written out: it runs for every item
            item_places.append(mark.line << 32 | mark.column)
            event = get()
        self.depth -= 1
        return result

    def skip(self, event: Any, path: _Path) -> None:
        """Read a node that is not kept: refused for aliases and depth, silent otherwise."""
        kept = self.problems
        self.problems = []
        try:
            self.node(event, path)
        finally:
            self.problems = kept

    def enter(self, start: Any) -> None:
        if start.anchor is not None:
            self.anchor(start)
        self.depth += 1
        if self.depth > MAX_NESTING_DEPTH:
            message = f"nested more than {MAX_NESTING_DEPTH} levels deep"
            self.refusals.append(Diagnostic("yaml/depth", message, self.span(start)))
            raise _TooDeep

    def anchor(self, event: Any) -> None:
        if self.anchors is None:
            return
        first = self.anchors.setdefault(event.anchor, event.start_mark)
        if first is not event.start_mark and self.uncomposable is None:
            self.uncomposable = _syntax_error(self.file, "second occurrence", event.start_mark)

    def alias(self, event: Any) -> None:
        if event.anchor in self.aliases_reported:
            return
        self.aliases_reported.add(event.anchor)
        message = (
            f"YAML alias '*{event.anchor}' is not allowed "
            "(aliases can expand without bound); repeat the value or use include"
        )
        self.refusals.append(Diagnostic("yaml/alias", message, self.span(event)))


def _key_text(key: object) -> str:
    """A key that YAML reads as another type, as it is written: `true:` and `null:`
    are the keys 'true' and 'null', not the Python names True and None."""
    if key is None:
        return "null"
    if isinstance(key, bool):
        return "true" if key else "false"
    return str(key)


def _explained(problem: object, text: str, mark: _Mark | None) -> object:
    """libyaml's complaint, with the cause a reader would look for when it is a tab."""
    if mark is None or "cannot start any token" not in str(problem):
        return problem
    lines = text.splitlines()
    line = lines[mark.line] if mark.line < len(lines) else ""
    if line[mark.column : mark.column + 1] == "\t":
        return f"{problem}: a tab (YAML indents with spaces only)"
    return problem


def parse_yaml(text: str, file: str, on_top_level: Callable[[str, Any], None] | None = None) -> Any:
    """Parse one YAML document into positioned containers; raise SpecError on any problem.

    `on_top_level` is told each top-level key and value as soon as it is read, while
    the rest of the text is still being parsed.
    """
    loader = _StrictLoader(text)
    builder = _Builder(loader, file)
    builder.on_top_level = on_top_level
    try:
        try:
            data, root = builder.stream()
        finally:
            loader.dispose()
    except _TooDeep:
        raise SpecError(builder.refusals) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = _explained(exc.problem or exc.context, text, mark)
        raise SpecError([_syntax_error(file, problem, mark)]) from None
    except yaml.reader.ReaderError as exc:
        raise SpecError([_unreadable_character(file, text, exc)]) from None
    except yaml.YAMLError as exc:
        raise SpecError([Diagnostic("yaml/syntax", f"invalid YAML: {exc}", Span(file))]) from None
    if builder.refusals:  # the rest was read all the same: report its problems too
        raise SpecError(builder.refusals + builder.problems)
    if builder.uncomposable is not None:
        raise SpecError([builder.uncomposable])
    if root is None:
        raise SpecError([Diagnostic("yaml/empty", "the spec is empty", Span(file, 1, 1))])
    if builder.problems:
        raise SpecError(builder.problems)
    if not isinstance(data, SpecMap):
        kind = (
            "a list" if isinstance(data, SpecList) else f"the single value {_shortened(repr(data))}"
        )
        raise SpecError(
            [
                Diagnostic(
                    "yaml/top-level",
                    f"the top level must be a mapping of sections (version, service, ...), "
                    f"not {kind}",
                    builder.span(root),
                )
            ]
        )
    return data


def read_spec_text(path: Path, display: str) -> str:
    """Read a spec file, refusing oversized or undecodable ones."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise SpecError(
            [Diagnostic("io/read", f"cannot read: {exc.strerror}", Span(display))]
        ) from None
    if size > MAX_SPEC_BYTES:
        message = f"file is {size} bytes; specs are limited to {MAX_SPEC_BYTES} bytes"
        raise SpecError([Diagnostic("io/too-large", message, Span(display))])
    try:
        data = path.read_bytes()
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        message = f"not UTF-8 text (byte {exc.start})"
        span = _byte_span(data, exc.start, display)
        raise SpecError([Diagnostic("io/encoding", message, span)]) from None
    except OSError as exc:
        raise SpecError(
            [Diagnostic("io/read", f"cannot read: {exc.strerror}", Span(display))]
        ) from None


def _byte_span(data: bytes, offset: int, file: str) -> Span:
    """The line and column (in characters) of a byte offset."""
    before = data[:offset]
    line_start = before.rfind(b"\n") + 1
    column = len(before[line_start:].decode("utf-8", errors="replace")) + 1
    return Span(file, before.count(b"\n") + 1, column)


def display_name(path: Path) -> str:
    """A path as users typed it: relative to the working directory when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def source_name(path: Path, root: Path | None) -> str:
    """How generated files name their spec: relative to `root` (the folder the output
    folder is in, where builds run from) when inside it, else by its file name, so the
    bytes are the same from any working directory. Without a root, as users typed it."""
    if root is None:
        return display_name(path)
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.name


def load_spec_file(
    path: Path, _stack: tuple[Path, ...] = (), *, cache: ParseCache | None = None
) -> SpecMap:
    """Load a spec and merge its `include:` files (included first, this file wins).

    Some includes of a large top-level spec are parsed in a second process meanwhile
    (see `_IncludesElsewhere`), and files parsed before are taken from `cache`; the
    document and every problem are the same.
    """
    display = display_name(path)
    text = read_spec_text(path, display)
    if _stack:
        return _with_includes(path, _parsed(text, display, cache), _stack, None, cache)
    key = cache.key(text) if cache is not None else None
    kept = _kept_document(cache, key, display)
    elsewhere = _IncludesElsewhere(path, 0 if kept is not None else len(text), cache)
    try:
        if kept is None:
            kept = _parse_and_keep(text, display, cache, key, elsewhere.start)
        else:
            elsewhere.start("include", kept.get("include"))
        return _with_includes(path, kept, (), elsewhere, cache)
    finally:
        elsewhere.close()


def _parsed(text: str, display: str, cache: ParseCache | None) -> SpecMap:
    """`parse_yaml`, or the same document taken from `cache`."""
    key = cache.key(text) if cache is not None else None
    kept = _kept_document(cache, key, display)
    return kept if kept is not None else _parse_and_keep(text, display, cache, key)


def _parse_and_keep(
    text: str,
    display: str,
    cache: ParseCache | None,
    key: str | None,
    on_top_level: Callable[[str, Any], None] | None = None,
) -> SpecMap:
    """`parse_yaml`; a document parsed without a problem is kept in `cache`."""
    document: SpecMap = parse_yaml(text, display, on_top_level)
    if cache is not None and key is not None:
        data = _marshalled(document)
        if data is not None:
            cache.put(key, data)
    return document


def _kept_document(cache: ParseCache | None, key: str | None, display: str) -> SpecMap | None:
    """The document `cache` keeps under `key`, with places in `display`; None when it
    keeps none, or something that does not read back as one."""
    data = cache.get(key) if cache is not None and key is not None else None
    if data is None:
        return None
    try:
        document = _rebuilt(display, marshal.loads(data))
    except Exception:  # damaged or foreign bytes: parsed again, and kept anew
        return None
    return document if document.__class__ is SpecMap else None


def _marshalled(document: SpecMap) -> bytes | None:
    """`document` as the marshal data of `_plain`; None for a value marshal cannot take."""
    try:
        return marshal.dumps(_plain(document))
    except ValueError:
        return None


def _with_includes(
    path: Path,
    data: SpecMap,
    _stack: tuple[Path, ...],
    elsewhere: _IncludesElsewhere | None,
    cache: ParseCache | None,
) -> SpecMap:
    """A parsed spec with its layers and includes merged in."""
    merged, problems = _merge_layers(data, nested=bool(_stack))
    includes = data.get("include")
    if not isinstance(includes, SpecList):
        if problems:
            raise SpecError(problems)
        return merge_documents(merged, data) if merged else data
    for index, item in enumerate(includes):
        span = includes.item_spans[index]
        if not isinstance(item, str):
            continue  # the schema reports the type
        target = _included_file(path, item)
        if target is None:
            message = f"included file '{item}' is not a usable path"
            problems.append(Diagnostic("include/missing", message, span, ("include", index)))
            continue
        if target in _stack or target == path.resolve():
            message = f"include cycle through '{item}'"
            problems.append(Diagnostic("include/cycle", message, span, ("include", index)))
            continue
        if len(_stack) >= MAX_INCLUDE_DEPTH:
            message = "includes nested too deeply"
            problems.append(Diagnostic("include/depth", message, span, ("include", index)))
            continue
        if not _is_file(target):
            problems.append(
                Diagnostic(
                    "include/missing",
                    f"included file '{item}' {_why_not_a_file(target)}",
                    span,
                    ("include", index),
                )
            )
            continue
        try:
            included = _load_included(target, (*_stack, path.resolve()), elsewhere, cache)
            merged = merge_documents(merged, included)
        except SpecError as exc:
            problems.extend(exc.diagnostics)
    if problems:
        raise SpecError(problems)
    return merge_documents(merged, data)


def _load_included(
    target: Path,
    stack: tuple[Path, ...],
    elsewhere: _IncludesElsewhere | None,
    cache: ParseCache | None,
) -> SpecMap:
    data = elsewhere.take(target) if elsewhere is not None else None
    if data is None:
        return load_spec_file(target, stack, cache=cache)
    return _with_includes(target, data, stack, None, cache)


#: Include files are parsed in a second process only when that takes at least this
#: much text off this one: for less, starting it and taking its result back cost more.
PARSE_ELSEWHERE_FROM = 256 * 1024


class _IncludesElsewhere:
    """Parses the last include files of a large top-level spec in a forked child, while
    this process parses the rest of the spec and the first includes.

    The child (`forked.Forked`) starts as soon as the `include:` list has been read and
    takes as many files from its end as keep its share of text below the share left
    here. It sends each document back as marshal bytes of plain tuples, lists and dicts
    with the places the loader found (a few times cheaper than pickling the containers),
    and they are rebuilt here as the loader builds them. A file the child could not
    parse or send is loaded here as usual, so every problem is found and reported by the
    same code as without a child; without `fork` or a second CPU everything is loaded
    here.
    Files `cache` keeps are not given to the child: rebuilding them here is cheaper than
    taking them back; the child keeps in `cache` what it parses.
    """

    def __init__(self, spec: Path, spec_chars: int, cache: ParseCache | None) -> None:
        self.spec = spec
        self.spec_chars = spec_chars
        self.cache = cache
        self.child: Forked[_Parsed] | None = None
        #: The files given to the child, by str(path).
        self.sent: set[str] = set()
        #: What the child sent; None until received.
        self.received: _Parsed | None = None

    def start(self, key: str, value: Any) -> None:
        """Watch the top level of the spec for its `include:` list."""
        if key == "include" and isinstance(value, SpecList) and _can_fork():
            targets = self._share(value)
            if targets:
                self._fork(targets)

    def _share(self, includes: SpecList) -> list[Path]:
        """The last include files whose text together stays below what is left here."""
        sizes: dict[Path, int] = {}
        for item in includes:
            target = _included_file(self.spec, item) if isinstance(item, str) else None
            size = _file_size(target) if target is not None else None
            if target is not None and size is not None and not self._kept(target):
                sizes.setdefault(target, size)
        here = self.spec_chars + sum(sizes.values())
        there: list[Path] = []
        there_size = 0
        for target, size in reversed(sizes.items()):
            if there_size + size > here - size:
                break
            there.append(target)
            there_size += size
            here -= size
        return there if there_size >= PARSE_ELSEWHERE_FROM else []

    def _kept(self, target: Path) -> bool:
        """Whether the cache keeps `target` as it reads now."""
        if self.cache is None:
            return False
        try:
            text = read_spec_text(target, str(target))
        except SpecError:
            return False  # loaded here, where its problem is reported
        return self.cache.has(self.cache.key(text))

    def _fork(self, targets: list[Path]) -> None:
        from monitorgen.forked import Forked  # multiprocessing: only for a large spec

        try:
            self.child = Forked(partial(_parsed_elsewhere, targets, self.cache))
        except OSError:  # no process to be had: everything is loaded here
            return
        self.sent = {str(target) for target in targets}

    def take(self, target: Path) -> SpecMap | None:
        """The document of `target` if the child parsed it (each once), else None; waits
        for the child only for a file given to it."""
        if str(target) not in self.sent:
            return None
        if self.received is None:
            self.received = self._receive()
        found = self.received.pop(str(target), None)
        if found is None:
            return None
        try:
            display, data = found
            document = _rebuilt(display, marshal.loads(data))
        except Exception:  # not what the child should send: loaded here
            return None
        return document if document.__class__ is SpecMap else None

    def _receive(self) -> _Parsed:
        from monitorgen.forked import ForkFailed

        child, self.child = self.child, None
        if child is None:
            return {}
        try:
            received = child.result()
        except ForkFailed:  # it died or failed: its files are loaded here
            return {}
        return received if isinstance(received, dict) else {}

    def close(self) -> None:
        """Stop a child whose work is no longer wanted."""
        if self.child is not None:
            self.child.cancel()
            self.child = None


def _can_fork() -> bool:
    """Fork is there, with a second CPU for the child."""
    import sys

    if not hasattr(os, "fork"):
        return False
    threading = sys.modules.get("threading")
    if threading is not None and threading.active_count() > 1:
        return False  # a forked child of a threaded process may wait on a lock forever
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (cpus or 1) > 1


def _file_size(path: Path) -> int | None:
    try:
        return path.stat().st_size if path.is_file() else None
    except (OSError, ValueError):
        return None


_Parsed = dict[str, tuple[str, bytes]]
"""What the include child sends: per file (by str(path)) the name it gives the file and
the document as marshal bytes of `_plain`."""


def _parsed_elsewhere(targets: list[Path], cache: ParseCache | None) -> _Parsed:
    """In the child: each file the child can parse, keeping it in `cache` too."""
    parsed: _Parsed = {}
    for target in targets:
        display = display_name(target)
        try:
            text = read_spec_text(target, display)
            data = marshal.dumps(_plain(parse_yaml(text, display)))
        except Exception:  # a problem (or a value marshal cannot take): the parent finds it
            continue
        parsed[str(target)] = (display, data)
        if cache is not None:
            cache.put(cache.key(text), data)
    return parsed


def _plain(node: Any) -> Any:
    """A document as the loader built it, in types marshal takes: a map as (start, key
    places, value places, values), a list as (start, item places, items)."""
    if node.__class__ is SpecMap:
        map_places = node._places
        if map_places is None:
            raise ValueError("a map without places")
        _file, start, keys, values = map_places
        items = {key: _plain(value) for key, value in node.items()}
        return (start, keys, values, items)
    if node.__class__ is SpecList:
        list_places = node._places
        if list_places is None:
            raise ValueError("a list without places")
        _file, start, places = list_places
        return (start, places, [_plain(item) for item in node])
    return node  # a scalar: never a tuple


def _rebuilt(file: str, plain: Any) -> Any:
    """The containers `_plain` took apart, with the same places in `file`."""
    if len(plain) == 4:
        start, keys, values, items = plain
        mapping = SpecMap._placed(file, start, keys, values)
        mapping.update(items)
        for key, value in items.items():
            if value.__class__ is tuple:
                mapping[key] = _rebuilt(file, value)  # in place: the order of keys stays
        return mapping
    start, places, items = plain
    sequence = SpecList._placed(file, start, places)
    sequence.extend([_rebuilt(file, item) if item.__class__ is tuple else item for item in items])
    return sequence


def _included_file(spec: Path, item: str) -> Path | None:
    """The absolute path an include names, or None when it cannot name a file."""
    try:
        return (spec.parent / item).resolve()
    except (OSError, ValueError):
        return None


def _why_not_a_file(path: Path) -> str:
    try:
        if path.is_dir():
            return "is a folder: include names files (one spec fragment each)"
    except (OSError, ValueError):
        pass
    return "does not exist"


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def merge_documents(base: SpecMap, top: SpecMap) -> SpecMap:
    """Merge two spec documents: mappings recursively, lists concatenated, scalars from `top`."""
    result = SpecMap(top.span)
    for key in base:
        result.put(key, base[key], base.key_spans[key], base.value_spans[key])
    for key, value in top.items():
        old = result.get(key)
        if isinstance(old, SpecMap) and isinstance(value, SpecMap):
            value = merge_documents(old, value)
        elif isinstance(old, SpecList) and isinstance(value, SpecList):
            value = _concat(old, value)
        result.put(key, value, top.key_spans[key], top.value_spans[key])
    return result


def _concat(first: SpecList, second: SpecList) -> SpecList:
    """Both lists' items and spans, whole lists at a time (the thousands of alerts of a
    spec split over include files are joined again for every file)."""
    result = SpecList(second.span)
    result.extend(first)
    result.extend(second)
    result._item_spans = [*first.item_spans, *second.item_spans]
    return result


#: Keys of which a spec mapping holds one: an override that sets one replaces the
#: others (an alert's `expr` its `condition`, a threshold's `below` its `above`).
_EXCLUSIVE_KEYS = (
    frozenset({"expr", "condition", "query"}),
    frozenset({"above", "below"}),
    frozenset({"ratio", "latency", "raw"}),
)
_EXPRESSION_KEYS = _EXCLUSIVE_KEYS[0]


def overlay(base: Any, override: Any) -> Any:
    """Apply an environment override: lists of named items merge by `name`, else replace."""
    if isinstance(base, SpecMap) and isinstance(override, SpecMap):
        result = SpecMap(base.span)
        replaced = _replaced_keys(override)
        for key in base:
            if key not in replaced:
                result.put(key, base[key], base.key_spans[key], base.value_spans[key])
        for key, value in override.items():
            merged = overlay(base[key], value) if key in base else value
            result.put(key, merged, override.key_spans[key], override.value_spans[key])
        return result
    if isinstance(base, SpecList) and isinstance(override, SpecList) and _all_named(override):
        return _overlay_named(base, override)
    return override


def _replaced_keys(override: SpecMap) -> set[str]:
    """The base keys an override replaces by setting another key of their group, and an
    alert's own `tests` when the override changes what they were written for."""
    replaced: set[str] = set()
    for group in _EXCLUSIVE_KEYS:
        given = group & override.keys()
        if given:
            replaced |= group - given
    if _EXPRESSION_KEYS & override.keys() and "tests" not in override:
        replaced.add("tests")
    return replaced


def _all_named(items: SpecList) -> bool:
    """A non-empty list whose items all have a string `name` (a recording rule's
    `record`, a dashboard's `uid`; an empty list replaces)."""
    return bool(items) and all(_name_of(item) is not None for item in items)


#: The key that names an item of a list, in the order tried: alerts, receivers and the
#: like have a `name`, recording rules a `record`, dashboards a `uid`, scrape jobs a `job`.
_NAMING_KEYS = ("name", "record", "uid", "job")


def _name_of(item: Any) -> str | None:
    """What identifies a list item when an environment merges it into its list."""
    naming = _naming(item)
    if naming is None:
        return None
    key, name = naming
    return f"{key}:{name}" if key != "name" else name


def _naming(item: Any) -> tuple[str, str] | None:
    """The key naming a list item, and the name."""
    if not isinstance(item, SpecMap):
        return None
    for key in _NAMING_KEYS:
        name = item.get(key)
        if isinstance(name, str):
            return key, name
    return None


def added_like_existing(base: SpecMap, override: SpecMap) -> list[Diagnostic]:
    """A warning for each item an environment's `override` adds to a named list of
    `base` under a name close to one of its items': most likely a slip, which adds a
    second item (a job that scrapes twice, an alert that fires twice) instead of
    changing the one meant."""
    found: list[Diagnostic] = []
    for key, value in override.items():
        old = base.get(key)
        if isinstance(old, SpecMap) and isinstance(value, SpecMap):
            found.extend(added_like_existing(old, value))
        elif isinstance(old, SpecList) and isinstance(value, SpecList) and _all_named(old):
            found.extend(_new_names_like_old(key, old, value))
    return found


def _new_names_like_old(key: str, old: SpecList, new: SpecList) -> Iterator[Diagnostic]:
    import difflib

    known = {naming for item in old if (naming := _naming(item)) is not None}
    for item in new:
        naming = _naming(item)
        if naming is None or naming in known:
            continue
        field, name = naming
        alike = sorted({n for f, n in known if f == field})
        close = difflib.get_close_matches(name, alike, n=1, cutoff=0.8)
        if close:
            yield Diagnostic(
                "environments/new-item",
                f"'{name}' names no item of {key}, so the environment adds one beside '{close[0]}'",
                item.value_spans[field],
                severity=Severity.WARNING,
                hint=f"did you mean '{close[0]}'? an item of the same {field} changes it",
            )


def _overlay_named(base: SpecList, override: SpecList) -> SpecList:
    """Each base item overlaid with the override item of its name, the new items
    appended. Alerts may share a name when their severities differ (tiers): an override
    of a shared name that sets `severity` changes the tier of that severity (or adds
    one), one without changes every tier. A name not shared may change its severity."""
    overrides = list(_pairs(override))
    by_name: dict[str, list[int]] = {}
    for index, (new, _span) in enumerate(overrides):
        by_name.setdefault(_name_of(new) or "", []).append(index)
    shared = _shared_names(base)
    used: set[int] = set()
    result = SpecList(base.span)
    for item, span in _pairs(base):
        found = _override_of(item, overrides, by_name.get(_name_of(item) or "", []), shared)
        if found is None:
            result.add(item, span)
            continue
        used.add(found)
        new, new_span = overrides[found]
        result.add(overlay(item, new), new_span)
    for index, (new, new_span) in enumerate(overrides):
        if index not in used:
            result.add(new, new_span)
    return result


def _shared_names(items: SpecList) -> set[str]:
    seen: set[str] = set()
    shared: set[str] = set()
    for item in items:
        name = _name_of(item)
        if name is not None:
            (shared if name in seen else seen).add(name)
    return shared


def _override_of(
    item: Any, overrides: list[tuple[Any, Span]], candidates: list[int], shared: set[str]
) -> int | None:
    """The position of the override of a base item: the first of its name, or for a
    shared name the first that sets no severity or the item's."""
    name = _name_of(item)
    if name is None or not candidates:
        return None
    if is_alert_switch(item):  # changed only by an override that switches too
        switching = [index for index in candidates if "enabled" in overrides[index][0]]
        return switching[0] if switching else None
    if name not in shared:
        return candidates[0]
    severity = item.get("severity")
    for index in candidates:
        if overrides[index][0].get("severity", severity) == severity:
            return index
    return None


def is_alert_switch(item: Any) -> bool:
    """An alert item that only switches alerts of its name off (or, `enabled: true`,
    back on in an environment): `enabled` without an expression of its own. An
    environment's override of an alert's other keys is not for it."""
    return (
        isinstance(item, dict) and "enabled" in item and not ("expr" in item or "condition" in item)
    )


def _pairs(items: SpecList) -> Iterator[tuple[Any, Span]]:
    return zip(items, items.item_spans, strict=True)


def _merge_layers(data: SpecMap, *, nested: bool) -> tuple[SpecMap, list[Diagnostic]]:
    """The bundled layers a spec chooses with `layers:`, merged in the order given."""
    merged = SpecMap(data.span)
    layers = data.get("layers")
    if not isinstance(layers, SpecList):
        return merged, []  # no layers, or the schema reports the type
    if nested:
        message = "layers are chosen by the top-level spec, not by an included file"
        return merged, [
            Diagnostic("layers/nested", message, data.value_spans["layers"], ("layers",))
        ]
    problems: list[Diagnostic] = []
    for index, name in enumerate(layers):
        if not isinstance(name, str) or name in layers[:index]:
            continue  # the schema reports the type or the repetition
        target = layer_file(name)
        if target is None:
            problems.append(
                Diagnostic(
                    "layers/unknown",
                    f"there is no bundled layer '{name}'",
                    layers.item_spans[index],
                    ("layers", index),
                    hint=f"choose from {', '.join(available_layers())}",
                )
            )
            continue
        try:
            merged = merge_documents(merged, load_spec_file(target, (target,)))
        except SpecError as exc:
            problems.extend(exc.diagnostics)
    return merged, problems
