"""Alert templates: the checks Prometheus makes when it loads them, the labels they
read, and expansion exactly as Prometheus' humanize functions print."""

from __future__ import annotations

import pytest

from monitorgen.gotemplate import (
    TemplateError,
    go_float,
    humanize,
    humanize1024,
    humanize_duration,
    humanize_percentage,
    parse_template,
    render,
)


@pytest.mark.parametrize(
    ("function", "value", "text"),
    [
        (humanize, 0.0, "0"),
        (humanize, 1234567.0, "1.235M"),
        (humanize, 10000.016666666666, "10k"),
        (humanize, 0.0012, "1.2m"),
        (humanize, -2500.0, "-2.5k"),
        (humanize1024, 1048576.0, "1Mi"),
        (humanize_duration, 0.0, "0s"),
        (humanize_duration, 3661.0, "1h 1m 1s"),
        (humanize_duration, 90061.5, "1d 1h 1m 1s"),
        (humanize_duration, 9.75, "9.75s"),
        (humanize_duration, 0.25, "250ms"),
        (humanize_percentage, 0.0045, "0.45%"),
        (humanize_percentage, 0.5, "50%"),
        (go_float, 1e6, "1e+06"),
        (go_float, 123456.0, "123456"),
        (go_float, 0.0001, "0.0001"),
        (go_float, 1e-05, "1e-05"),
        (go_float, 30.000000000000004, "30.000000000000004"),
    ],
)
def test_numbers_print_as_prometheus_prints_them(function, value, text) -> None:  # type: ignore[no-untyped-def]
    assert function(value) == text


def test_a_template_expands_values_labels_and_pipelines() -> None:
    template = parse_template(
        '{{ $value | humanizePercentage }} of {{ .Labels.route }} {{- " " -}} fail; '
        '{{ humanize $value }} {{ $labels.missing }}|{{ "x" | toUpper }}'
    )
    assert render(template, 0.25, {"route": "/orders"}) == "25% of /orders fail; 250m |X"


def test_templates_with_control_flow_are_not_expanded_here() -> None:
    assert render(parse_template("{{ if $value }}on{{ end }}"), 1.0, {}) is None


def test_range_may_declare_a_key_and_a_value() -> None:
    text = "{{ range $key, $value := $labels }}{{ $key }}={{ $value }} {{ end }}"
    assert render(parse_template(text), 1.0, {}) is None  # parses; not expanded here
    with pytest.raises(TemplateError, match=r"undefined variable \$k"):
        parse_template("{{ range $k, $v }}{{ end }}")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{{ $value | humanise }}", 'function "humanise" not defined'),
        ("{{ $foo }}", "undefined variable $foo"),
        ("{{ .Foo }}", "unknown field .Foo"),
        ("{{ if $value }}x", "never closed"),
        ("x {{ end }}", "without an open"),
        ("{{ $value ", "never closed by '}}'"),
        ("a }} b", "without an opening"),
        ("{{ }}", "empty action"),
    ],
)
def test_broken_templates_are_refused_with_the_reason(text: str, message: str) -> None:
    with pytest.raises(TemplateError, match=message.replace("$", r"\$").replace(".", r"\.")):
        parse_template(text)


def test_the_labels_a_template_reads_are_found() -> None:
    template = parse_template(
        '{{ $labels.a }} {{ .Labels.b }} {{ index $labels "c" }} {{ $x := $labels.d }}{{ $x }}'
    )
    assert template.label_refs() == {"a", "b", "c", "d"}
    assert not template.uses_value()
