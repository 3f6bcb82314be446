"""Load spec YAML keeping the position of every node.

Mappings and sequences become `SpecMap` / `SpecList`, ordinary `dict` / `list`
subclasses that remember where each key and item stands, so jsonschema can
validate them as they are and every later finding can point at a line and column.
Includes are merged and environments applied on these containers, so positions
survive both and still name the file each value came from.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from monitorgen.diagnostics import Diagnostic, Span, SpecError
from monitorgen.layers import available_layers, layer_file

MAX_SPEC_BYTES = 1024 * 1024
MAX_INCLUDE_DEPTH = 8
#: Specs nest a dozen levels at most; a bound keeps deeply nested input from
#: exhausting the stack of the (recursive) YAML composer.
MAX_NESTING_DEPTH = 64

#: libyaml's parser when PyYAML was built with it: the same events and marks, much faster.
_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class SpecMap(dict[str, Any]):
    """A mapping with the span of itself, of each key and of each value."""

    span: Span
    key_spans: dict[str, Span]
    value_spans: dict[str, Span]

    def __init__(self, span: Span) -> None:
        super().__init__()
        self.span = span
        self.key_spans = {}
        self.value_spans = {}

    def put(self, key: str, value: Any, key_span: Span, value_span: Span) -> None:
        self[key] = value
        self.key_spans[key] = key_span
        self.value_spans[key] = value_span


class SpecList(list[Any]):
    """A sequence with the span of itself and of each item."""

    span: Span
    item_spans: list[Span]

    def __init__(self, span: Span) -> None:
        super().__init__()
        self.span = span
        self.item_spans = []

    def add(self, value: Any, span: Span) -> None:
        self.append(value)
        self.item_spans.append(span)


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

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        """The tag of a scalar, remembered per text: a spec repeats the same keys and
        words thousands of times, and each new text runs the resolver's regexes."""
        if kind is not yaml.ScalarNode:
            return super().resolve(kind, value, implicit)
        known: dict[tuple[str, Any], str] = self.__dict__.setdefault("_scalar_tags", {})
        tag = known.get((value, implicit))
        if tag is None:
            tag = known[value, implicit] = super().resolve(kind, value, implicit)
        return tag


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


@dataclass
class _Builder:
    """Turns a composed YAML node tree into SpecMap / SpecList / scalars."""

    file: str
    problems: list[Diagnostic]
    constructor: yaml.SafeLoader = field(default_factory=lambda: _StrictLoader(""))

    def span(self, node: yaml.Node) -> Span:
        mark = node.start_mark
        return Span(self.file, mark.line + 1, mark.column + 1)

    def build(self, node: yaml.Node, path: tuple[str | int, ...]) -> Any:
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            result = SpecList(self.span(node))
            for index, item in enumerate(node.value):
                result.add(self.build(item, (*path, index)), self.span(item))
            return result
        return self._scalar(node, path)

    def _mapping(self, node: yaml.MappingNode, path: tuple[str | int, ...]) -> SpecMap:
        result = SpecMap(self.span(node))
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                self.problems.append(
                    Diagnostic(
                        "yaml/key",
                        "a key must be a plain name, not a list or mapping",
                        self.span(key_node),
                        path,
                    )
                )
                continue
            key = self._scalar(key_node, path)
            if not isinstance(key, str):
                key = str(key)
            if key in result:
                first = result.key_spans[key]
                self.problems.append(
                    Diagnostic(
                        "yaml/duplicate-key",
                        f"duplicate key '{key}' (first defined at line {first.line})",
                        self.span(key_node),
                        (*path, key),
                        related=(first,),
                    )
                )
                continue
            value = self.build(value_node, (*path, key))
            result.put(key, value, self.span(key_node), self.span(value_node))
        return result

    def _scalar(self, node: yaml.Node, path: tuple[str | int, ...]) -> Any:
        if node.tag == _STR_TAG:  # most scalars; the constructor would return the text as is
            return node.value
        try:
            return self.constructor.construct_object(node)
        except yaml.constructor.ConstructorError as exc:
            self.problems.append(Diagnostic("yaml/syntax", str(exc.problem), self.span(node), path))
            return None


def _refuse_unsafe_structure(text: str, file: str) -> list[Diagnostic]:
    """Aliases (billion laughs) and nesting deeper than any spec needs, found from
    the event stream before anything is composed or expanded."""
    problems = []
    depth = 0
    anchors_reported: set[str | None] = set()
    for event in yaml.parse(text, Loader=_StrictLoader):
        if isinstance(event, yaml.AliasEvent) and event.anchor not in anchors_reported:
            anchors_reported.add(event.anchor)
            message = (
                f"YAML alias '*{event.anchor}' is not allowed "
                "(aliases can expand without bound); repeat the value or use include"
            )
            problems.append(Diagnostic("yaml/alias", message, _event_span(event, file)))
        elif isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_NESTING_DEPTH:
                message = f"nested more than {MAX_NESTING_DEPTH} levels deep"
                return [*problems, Diagnostic("yaml/depth", message, _event_span(event, file))]
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
    return problems


def _event_span(event: yaml.Event, file: str) -> Span:
    mark = event.start_mark
    return Span(file, mark.line + 1, mark.column + 1) if mark is not None else Span(file)


def parse_yaml(text: str, file: str) -> Any:
    """Parse one YAML document into positioned containers; raise SpecError on any problem."""
    try:
        problems = _refuse_unsafe_structure(text, file)
        if problems:
            raise SpecError(problems)
        loader = _StrictLoader(text)
        try:
            node = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        span = Span(file, mark.line + 1, mark.column + 1) if mark is not None else Span(file)
        message = f"invalid YAML: {exc.problem or exc.context}"
        raise SpecError([Diagnostic("yaml/syntax", message, span)]) from None
    except yaml.YAMLError as exc:
        raise SpecError([Diagnostic("yaml/syntax", f"invalid YAML: {exc}", Span(file))]) from None
    if node is None:
        raise SpecError([Diagnostic("yaml/empty", "the spec is empty", Span(file, 1, 1))])
    builder = _Builder(file, [])
    data = builder.build(node, ())
    if builder.problems:
        raise SpecError(builder.problems)
    if not isinstance(data, SpecMap):
        kind = "a list" if isinstance(data, SpecList) else f"a {type(data).__name__}"
        raise SpecError(
            [
                Diagnostic(
                    "yaml/top-level",
                    f"the top level must be a mapping of sections (version, service, ...), "
                    f"not {kind}",
                    builder.span(node),
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


def load_spec_file(path: Path, _stack: tuple[Path, ...] = ()) -> SpecMap:
    """Load a spec and merge its `include:` files (included first, this file wins)."""
    display = display_name(path)
    data: SpecMap = parse_yaml(read_spec_text(path, display), display)
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
                    f"included file '{item}' does not exist",
                    span,
                    ("include", index),
                )
            )
            continue
        try:
            merged = merge_documents(merged, load_spec_file(target, (*_stack, path.resolve())))
        except SpecError as exc:
            problems.extend(exc.diagnostics)
    if problems:
        raise SpecError(problems)
    return merge_documents(merged, data)


def _included_file(spec: Path, item: str) -> Path | None:
    """The absolute path an include names, or None when it cannot name a file."""
    try:
        return (spec.parent / item).resolve()
    except (OSError, ValueError):
        return None


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
    result = SpecList(second.span)
    for items in (first, second):
        for value, span in zip(items, items.item_spans, strict=True):
            result.add(value, span)
    return result


def overlay(base: Any, override: Any) -> Any:
    """Apply an environment override: lists of named items merge by `name`, else replace."""
    if isinstance(base, SpecMap) and isinstance(override, SpecMap):
        result = SpecMap(base.span)
        for key in base:
            result.put(key, base[key], base.key_spans[key], base.value_spans[key])
        for key, value in override.items():
            merged = overlay(base[key], value) if key in base else value
            result.put(key, merged, override.key_spans[key], override.value_spans[key])
        return result
    if isinstance(base, SpecList) and isinstance(override, SpecList) and _all_named(override):
        return _overlay_named(base, override)
    return override


def _all_named(items: SpecList) -> bool:
    """A non-empty list whose items all have a string `name` (an empty list replaces)."""
    return bool(items) and all(_name_of(item) is not None for item in items)


def _name_of(item: Any) -> str | None:
    name = item.get("name") if isinstance(item, SpecMap) else None
    return name if isinstance(name, str) else None


def _overlay_named(base: SpecList, override: SpecList) -> SpecList:
    by_name = {_name_of(item): (item, span) for item, span in _pairs(override)}
    result = SpecList(base.span)
    for item, span in _pairs(base):
        name = _name_of(item)
        if name is not None and name in by_name:
            new, new_span = by_name.pop(name)
            result.add(overlay(item, new), new_span)
        else:
            result.add(item, span)
    for new, new_span in by_name.values():
        result.add(new, new_span)
    return result


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
