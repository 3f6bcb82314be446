"""JSON Schema validation of a loaded spec, with findings that point into the YAML."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Iterator, Mapping
from functools import cache, lru_cache, partial
from importlib import resources
from typing import TYPE_CHECKING, Any

from monitorgen.diagnostics import Diagnostic
from monitorgen.promql import parse_duration
from monitorgen.spec.loader import key_span_of, span_of

if TYPE_CHECKING:
    import jsonschema
    from jsonschema.exceptions import ValidationError

SCHEMA_FILE = "monitorgen.schema.json"

#: Fields that would hold a secret, and the file-reference field to use instead.
SECRET_FIELDS: dict[str, str] = {
    "auth_password": "auth_password_file",
    "auth_secret": "auth_password_file",
    "api_url": "api_url_file",
    "routing_key": "routing_key_file",
    "service_key": "service_key_file",
    "api_key": "api_key_file",
    "credentials": "credentials_file",
    "password": "auth_password_file",
    "token": "credentials_file",
    "bot_token": "credentials_file",
}


@cache
def schema_text() -> str:
    return resources.files("monitorgen.spec").joinpath(SCHEMA_FILE).read_text(encoding="utf-8")


_DURATION_SHAPE = re.compile(r"([0-9]+(ms|s|m|h|d|w|y))+")
_ZERO_DURATION = re.compile(r"(0+(ms|s|m|h|d|w|y))+")


def _is_duration(instance: object) -> bool:
    """Prometheus' grammar: units largest first, each once, greater than zero, in range."""
    if not isinstance(instance, str) or not _DURATION_SHAPE.fullmatch(instance):
        return True  # the pattern reports it
    if _ZERO_DURATION.fullmatch(instance):
        raise ValueError("must be greater than 0")
    try:
        parse_duration(instance)
    except ValueError:
        raise ValueError(
            "units go from largest to smallest, each once, within about 290 years"
        ) from None
    return True


def _is_duration_or_zero(instance: object) -> bool:
    return (isinstance(instance, str) and _ZERO_DURATION.fullmatch(instance) is not None) or (
        _is_duration(instance)
    )


#: The schema's own formats: a check returns False or raises ValueError (its text is shown).
_FORMAT_CHECKS: dict[str, Callable[[object], bool]] = {
    "duration": _is_duration,
    "duration-or-zero": _is_duration_or_zero,
}


@cache
def _validator() -> jsonschema.Draft202012Validator:
    import jsonschema

    formats = jsonschema.FormatChecker(formats=())
    for name, check in _FORMAT_CHECKS.items():
        formats.checks(name, raises=ValueError)(check)
    schema = json.loads(schema_text())
    return jsonschema.Draft202012Validator(schema, format_checker=formats)


def validate_document(document: Any) -> list[Diagnostic]:
    """Every schema violation of the document, each placed at its line and column."""
    if _fast_validator_accepts(document):
        return []
    found: list[Diagnostic] = []
    for error in _leaf_errors(document):
        if error.validator == "additionalProperties":
            found.extend(_unknown_keys(error, document))
        elif error.validator == "required" and not _missing_keys(error):
            continue  # each missing key is misspelt: the unknown key's finding says so
        else:
            found.append(_to_diagnostic(error, document))
    return found


# ---------------------------------------------------------------- fast path
#
# A valid spec is the common case, and jsonschema takes seconds on one with thousands
# of alerts. jsonschema_rs answers "valid?" in a fraction of that. It checks `pattern`
# and `format` with the same Python functions jsonschema uses, so it accepts exactly
# what jsonschema accepts; any other document goes the full way, which explains each
# problem.


def _fast_validator_accepts(document: Any) -> bool:
    validator = _fast_validator()
    if validator is None:
        return False
    try:
        return bool(validator.is_valid(document))
    except Exception:  # a value it cannot take (NaN, a huge integer): let jsonschema decide
        return False


@cache
def _fast_validator() -> Any:
    """A compiled validator for the schema, or None when jsonschema_rs is not installed."""
    try:
        import jsonschema_rs
    except ImportError:
        return None
    schema = json.loads(schema_text())
    formats: dict[str, Callable[..., bool]] = {
        name: partial(_conforms_remembered, name) for name in set(_format_names(schema))
    }
    return jsonschema_rs.Draft202012Validator(
        schema,
        formats=formats,
        validate_formats=True,
        keywords={"pattern": _PythonPattern},
        offline=True,
    )


def _format_names(schema: Any) -> Iterator[str]:
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key == "format" and isinstance(value, str):
                yield value
            else:
                yield from _format_names(value)
    elif isinstance(schema, list):
        for item in schema:
            yield from _format_names(item)


def _conforms(name: str, value: object) -> bool:
    """As jsonschema's format checker: formats without a check always conform."""
    check = _FORMAT_CHECKS.get(name)
    if check is None:
        return True
    try:
        return bool(check(value))
    except ValueError:
        return False


@lru_cache(maxsize=4096)
def _text_conforms(name: str, text: str) -> bool:
    return _conforms(name, text)


def _conforms_remembered(name: str, value: object) -> bool:
    """_conforms, remembered per text: a spec of thousands of alerts repeats a dozen
    durations, and checking one parses it."""
    return _text_conforms(name, value) if isinstance(value, str) else _conforms(name, value)


class _PythonPattern:
    """`pattern` with Python's `re.search`, as jsonschema does: Rust's regex dialect
    differs (its `\\s` does not match \\x1c-\\x1f, for one)."""

    def __init__(self, parent_schema: dict[str, Any], value: Any, schema_path: Any) -> None:
        search = re.compile(value).search
        #: Answers remembered per text: a spec repeats its names and labels thousands of times.
        self._matches = lru_cache(maxsize=8192)(lambda text: search(text) is not None)

    def validate(self, instance: Any) -> None:
        if isinstance(instance, str) and not self._matches(instance):
            raise ValueError(f"{instance!r} does not match the pattern")


# ---------------------------------------------------------------- full path


def _leaf_errors(document: Any) -> list[ValidationError]:
    errors = []
    for error in _validator().iter_errors(document):
        errors.extend(_most_relevant(error))
    return errors


def _most_relevant(error: ValidationError) -> list[ValidationError]:
    """For oneOf/anyOf, the errors of the branch the value was meant for, every one
    (a label mapping with a bad name and bad values has both reported); when no branch
    is clearly meant, the one error of the branch that got furthest."""
    if error.validator not in ("oneOf", "anyOf") or not error.context:
        return [error]
    if _is_required_choice(error):
        return [error]
    meant = _branch_meant(error)
    if meant is not None:
        inside = [e for e in error.context if e.relative_schema_path[0] == meant]
        return [leaf for e in inside for leaf in _most_relevant(e)] or [error]
    from jsonschema.exceptions import best_match

    deeper = best_match(error.context)
    if deeper is not None and len(deeper.absolute_path) >= len(error.absolute_path):
        return _most_relevant(deeper)
    return [error]


def _branch_meant(error: ValidationError) -> int | None:
    """The one branch whose required keys the mapping has (a panel query with `metric`
    is a structured one, whatever else is wrong), or the one branch of the value's
    type (a mapping where a string or a mapping may stand); None when not one."""
    instance = error.instance
    branches = _value_of(error)
    if not isinstance(branches, list):
        return None
    if isinstance(instance, dict):
        by_keys = [
            index
            for index, branch in enumerate(branches)
            if (required := _required_keys(branch)) and required <= instance.keys()
        ]
        if len(by_keys) == 1:
            return by_keys[0]
    by_type = [
        index
        for index, branch in enumerate(branches)
        if _json_type(instance) in _branch_types(branch)
    ]
    return by_type[0] if len(by_type) == 1 else None


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, int):
        return "integer"
    return "number" if isinstance(value, float) else "null"


def _branch_types(branch: Any) -> frozenset[str]:
    """The JSON types a branch names, through a local `$ref` (an integer is a number)."""
    branch = _resolved(branch)
    named = branch.get("type", ())
    types = frozenset([named] if isinstance(named, str) else named)
    return types | {"integer"} if "number" in types else types


def _resolved(branch: Any) -> dict[str, Any]:
    if not isinstance(branch, dict):
        return {}
    reference = branch.get("$ref")
    if isinstance(reference, str) and reference.startswith("#/$defs/"):
        found: dict[str, Any] = _definitions().get(reference.removeprefix("#/$defs/"), {})
        return found
    return branch


def _required_keys(branch: Any) -> frozenset[str]:
    """The keys a branch requires, through a local `$ref`."""
    return frozenset(_resolved(branch).get("required", ()))


@cache
def _schema_document() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(schema_text())
    return document


def _definitions() -> dict[str, Any]:
    definitions: dict[str, Any] = _schema_document().get("$defs", {})
    return definitions


def _schema_of(error: ValidationError) -> dict[str, Any]:
    return dict(error.schema) if isinstance(error.schema, Mapping) else {}


def _value_of(error: ValidationError) -> Any:
    return error.validator_value


def _is_required_choice(error: ValidationError) -> bool:
    """A oneOf whose branches only say which key is required: `expr` or `condition`."""
    branches = _value_of(error)
    return isinstance(branches, list) and all(
        isinstance(b, dict) and set(b) == {"required"} for b in branches
    )


def _to_diagnostic(error: ValidationError, document: Any) -> Diagnostic:
    path = tuple(error.absolute_path)
    message = _describe(error)
    dependency = _dependency(error) if error.validator == "dependentRequired" else None
    if "propertyNames" in error.absolute_schema_path and isinstance(error.instance, str):
        path = (*path, error.instance)  # a key that is no valid name here: point at it
        span = key_span_of(document, path)
    elif dependency is not None:
        key, needed = dependency
        path = (*path, key)  # at the key that needs the other, which is not there to point at
        span = key_span_of(document, path)
        message = f"'{key}' needs '{needed}' beside it"
    else:
        span = span_of(document, path)
    return Diagnostic(f"schema/{error.validator}", message, span, path, hint=_hint(error))


def _dependency(error: ValidationError) -> tuple[str, str] | None:
    """The key present and the key it needs, of a dependentRequired error (None when its
    message is not the library's usual one)."""
    found = re.fullmatch(r"'(.+)' is a dependency of '(.+)'", error.message)
    return (found[2], found[1]) if found else None


def _hint(error: ValidationError) -> str | None:
    """YAML reads unquoted 0x20, 1e3, 0o17, 10 or true as numbers and booleans."""
    wanted = _value_of(error)
    wanted_text = wanted == "string" or (isinstance(wanted, list) and "string" in wanted)
    if error.validator == "type" and wanted_text and isinstance(error.instance, (int, float)):
        if "ms|s|m|h|d|w|y" in _schema_of(error).get("pattern", ""):
            number = error.instance
            return f"a duration needs its unit: {number}s, {number}m or {number}h"
        return "YAML read it as a number (or true/false): put it in quotes to keep it text"
    return None


def _describe(error: ValidationError) -> str:
    if error.validator == "required":
        return f"missing required key '{_missing_keys(error)}'"
    if error.validator == "oneOf" and _is_required_choice(error):
        choices = [b["required"][0] for b in _value_of(error)]
        present = [c for c in choices if isinstance(error.instance, dict) and c in error.instance]
        names = " or ".join(f"'{c}'" for c in choices)
        if len(present) > 1:
            return f"give only one of {names}, not both"
        return f"needs one of {names}"
    return _describe_value(error)


def _missing_keys(error: ValidationError) -> str:
    """The required keys missing, but those an unknown key of the mapping misspells."""
    instance = error.instance if isinstance(error.instance, dict) else {}
    missing = [k for k in _value_of(error) if k not in instance]
    schema = _object_schema_of(error)
    if schema.get("additionalProperties") is False:
        known = sorted(schema.get("properties", {}))
        unknown = [k for k in instance if k not in known and k not in SECRET_FIELDS]
        misspelt = {
            close
            for key in unknown
            for close in difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        }
        missing = [k for k in missing if k not in misspelt]
    return "', '".join(missing)


def _object_schema_of(error: ValidationError) -> dict[str, Any]:
    """The schema of the mapping a `required` error is about: for one inside a `then` or
    `else` branch (an alert's keys, required unless it only turns alerts off), the
    mapping's own schema, which lists its keys."""
    path = list(error.absolute_schema_path)
    if len(path) < 2 or path[-2] not in ("then", "else"):
        return _schema_of(error)
    node: Any = _schema_document()
    for key in path[:-2]:
        node = _resolved(node)
        if isinstance(node, list) and isinstance(key, int):
            node = node[key]
        else:
            node = node.get(key, {}) if isinstance(node, dict) else {}
    found = _resolved(node)
    return found


def _unknown_keys(error: ValidationError, document: Any) -> list[Diagnostic]:
    """One finding per unknown key, with a suggestion or the secret-file alternative."""
    instance = error.instance if isinstance(error.instance, dict) else {}
    known = sorted(_schema_of(error).get("properties", {}))
    path = tuple(error.absolute_path)
    found = []
    for key in sorted(k for k in instance if k not in known):
        message, hint = _unknown_key_message(key, known)
        code = "secrets/plaintext" if key in SECRET_FIELDS else "schema/unknown-key"
        full = (*path, key)
        found.append(Diagnostic(code, message, key_span_of(document, full), full, hint=hint))
    return found


def _unknown_key_message(key: str, known: list[str]) -> tuple[str, str | None]:
    if key in SECRET_FIELDS:
        alternative = SECRET_FIELDS[key]
        message = (
            f"'{key}' would put a secret into the spec; secrets are never written into "
            f"specs or generated files"
        )
        return message, f"use '{alternative}: /path/to/secret' and keep the secret in that file"
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    hint = f"did you mean '{close[0]}'?" if close else None
    return f"unknown key '{key}' (expected one of: {', '.join(known)})", hint


DURATION_PATTERN_HINT = "expected e.g. 30s, 5m, 1h"


def _describe_value(error: ValidationError) -> str:
    kind, value = error.validator, error.instance
    shown = _show(value)
    if kind == "type":
        expected = _type_words(_value_of(error))
        if isinstance(value, (dict, list)):  # shown by its kind alone
            return f"expected {expected}, got {_article(value)}"
        if value is None:  # `key:` with nothing after it, or a bare `-`
            return f"the value is empty, expected {expected}"
        return f"{shown} is {_article(value)}, expected {expected}"
    if kind == "pattern":
        what = _pattern_meaning(_schema_of(error))
        return f"{shown} is not {what}"
    if kind == "enum":
        options = ", ".join(str(v) for v in _value_of(error))
        close = difflib.get_close_matches(str(value), [str(v) for v in _value_of(error)], 1)
        suffix = f"; did you mean '{close[0]}'?" if close else ""
        return f"{shown} is not one of: {options}{suffix}"
    if kind == "const":
        return f"{shown} is not supported, expected {_value_of(error)!r}"
    if kind in ("minItems", "minProperties"):
        return f"must not be empty (needs at least {_value_of(error)})"
    if kind == "maxProperties":
        choices = ", ".join(_schema_of(error).get("properties", {}))
        return f"takes exactly {_value_of(error)} of: {choices}"
    if kind == "uniqueItems":
        return "items must be unique"
    if kind in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
        words = {"minimum": ">=", "exclusiveMinimum": ">", "maximum": "<=", "exclusiveMaximum": "<"}
        return f"{shown} must be {words[kind]} {_value_of(error)}"
    if kind == "minLength":
        return "must not be empty"
    if kind == "false":
        return "this key is not allowed here"
    if kind == "not" and "description" in _schema_of(error):
        return f"this key is not allowed here: {_schema_of(error)['description']}"
    if kind == "format" and str(_value_of(error)).startswith("duration"):
        reason = f": {error.cause}" if error.cause else ""
        return f"{shown} is not a valid duration{reason} ({DURATION_PATTERN_HINT})"
    return error.message


def _pattern_meaning(schema: dict[str, Any]) -> str:
    pattern = schema.get("pattern", "")
    if "ms|s|m|h|d|w|y" in pattern:
        return f"a duration ({DURATION_PATTERN_HINT})"
    if pattern == "^[a-zA-Z_][a-zA-Z0-9_]*$":
        return "a valid name (letters, digits and _, not starting with a digit)"
    if pattern == "^[a-zA-Z_:][a-zA-Z0-9_:]*$":
        return "a valid Prometheus metric name (letters, digits, _ and :)"
    if pattern.startswith("^[^\\s/@]+:[0-9]+"):
        return "a host:port address, without a scheme, a path or credentials"
    if pattern.endswith("\\.(json|ya?ml)$"):
        return "the path of a .json, .yml or .yaml file"
    if "=~|!~" in pattern:
        return 'an Alertmanager matcher such as severity="critical"'
    if pattern.startswith("^https?"):
        return "an http(s) URL"
    if pattern == "^[a-z][a-z0-9_]*$":
        return "a valid name here (lowercase letters, digits and _, starting with a letter)"
    if pattern == "^[A-Za-z][A-Za-z0-9_]*$":
        return "a valid name here (letters, digits and _, starting with a letter)"
    if pattern == "^[A-Z]{3}$":
        return "a currency code of three capital letters (USD, EUR)"
    if pattern == "^/":
        return "an absolute path (starting with /)"
    if "description" in schema:
        return f"valid here ({schema['description'].rstrip('.')}; expected to match {pattern})"
    return f"valid here (expected to match {pattern})"


def _show(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return "a mapping" if isinstance(value, dict) else "a list"
    return repr(value)


def _article(value: Any) -> str:
    names = {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        dict: "a mapping",
        list: "a list",
        type(None): "empty",
    }
    for kind, name in names.items():
        if isinstance(value, kind):
            return name
    return type(value).__name__


def _type_words(expected: Any) -> str:
    words = {
        "object": "a mapping",
        "array": "a list",
        "string": "a string",
        "number": "a number",
        "integer": "a whole number",
        "boolean": "true or false",
    }
    if isinstance(expected, list):
        return " or ".join(words.get(str(e), str(e)) for e in expected)
    return words.get(str(expected), str(expected))
