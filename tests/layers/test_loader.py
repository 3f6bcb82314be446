"""`layers:` merges bundled layer files like includes, ahead of them, keeping positions."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitorgen.diagnostics import SpecError
from monitorgen.layers import available_layers, layer_file
from monitorgen.spec.loader import load_spec_file, span_of

from .helpers import LAYER_DIR, compiled, layer_display, model, write_spec


def line_of(path: Path, text: str) -> int:
    return path.read_text().splitlines().index(text) + 1


def test_bundled_layers_are_package_files() -> None:
    assert available_layers() == ("business", "infrastructure")
    assert layer_file("infrastructure") == LAYER_DIR / "infrastructure.yaml"
    assert layer_file("application") is None


def test_layers_come_before_includes_and_the_spec_itself(tmp_path: Path) -> None:
    (tmp_path / "common.yaml").write_text(
        "alerts:\n  - {name: FromInclude, severity: info, summary: s, expr: vector(1) > 2}\n"
    )
    path = write_spec(tmp_path, "infrastructure", extra="include: [common.yaml]\n")
    names = [alert.name for alert in model(path).alerts]
    layer_alerts = ["TargetDown", "NodeDiskFillingUp", "NodeDiskAlmostFull"]
    assert names[:3] == layer_alerts
    assert names[-2:] == ["FromInclude", "NoOrders"]


def test_layer_items_point_into_the_bundled_file(tmp_path: Path) -> None:
    document = load_spec_file(write_spec(tmp_path, "infrastructure"))
    index = [a["name"] for a in document["alerts"]].index("NodeHighCpu")
    span = span_of(document, ("alerts", index))
    bundled = LAYER_DIR / "infrastructure.yaml"
    assert span.file == layer_display("infrastructure")
    assert span.line == line_of(bundled, "  - name: NodeHighCpu")
    own = span_of(document, ("alerts", len(document["alerts"]) - 1))
    assert own.file.endswith("shop.yaml")


def test_a_clash_with_a_layer_points_at_both_files(tmp_path: Path) -> None:
    # The spec declares a metric the business layer already declares.
    path = write_spec(tmp_path, "business")
    mine = "  - {name: business_sessions_total, type: counter, help: Again.}"
    path.write_text(path.read_text().replace("alerts:\n", mine + "\nalerts:\n", 1))
    (duplicate,) = [d for d in compiled(path).diagnostics if d.code == "names/duplicate"]
    assert (duplicate.span.file, duplicate.span.line) == (str(path), line_of(path, mine))
    first = span_of(load_spec_file(path), ("metrics", 1))
    bundled = LAYER_DIR / "business.yaml"
    assert (first.file, first.line) == (
        layer_display("business"),
        line_of(bundled, "  - name: business_sessions_total"),
    )
    where = f"first defined at metrics[1], {first.file}:{first.line}"
    assert where in duplicate.message
    assert duplicate.related == (first,)


def test_an_unknown_layer_is_reported_at_its_item(tmp_path: Path) -> None:
    path = write_spec(tmp_path, "infrastructure, finance")
    with pytest.raises(SpecError) as failure:
        load_spec_file(path)
    (problem,) = failure.value.diagnostics
    assert problem.code == "layers/unknown"
    assert problem.path == ("layers", 1)
    assert (problem.span.line, problem.span.column) == (3, 26)
    assert problem.hint == "choose from business, infrastructure"


def test_layers_chosen_in_an_included_file_are_refused(tmp_path: Path) -> None:
    (tmp_path / "part.yaml").write_text("layers: [business]\n")
    path = write_spec(tmp_path, "infrastructure", extra="include: [part.yaml]\n")
    with pytest.raises(SpecError) as failure:
        load_spec_file(path)
    (problem,) = failure.value.diagnostics
    assert problem.code == "layers/nested"
    assert problem.span.file.endswith("part.yaml")


def test_a_repeated_layer_is_a_schema_error_not_a_double_merge(tmp_path: Path) -> None:
    path = write_spec(tmp_path, "infrastructure, infrastructure")
    document = load_spec_file(path)
    assert [a["name"] for a in document["alerts"]].count("TargetDown") == 1
    codes = {d.code for d in compiled(path).diagnostics}
    assert codes == {"schema/uniqueItems"}


def test_a_spec_without_layers_loads_as_before(tmp_path: Path) -> None:
    path = tmp_path / "plain.yaml"
    path.write_text("version: 1\nservice: plain\n")
    document = load_spec_file(path)
    assert dict(document) == {"version": 1, "service": "plain"}


def test_a_finding_names_the_item_by_its_place_in_the_file_that_writes_it(
    tmp_path: Path,
) -> None:
    """The layer's five alerts come first in the merged spec; the spec's second alert is
    still `alerts[1]` in the file the user edits, and an include's first is `alerts[0]`."""
    (tmp_path / "more.yaml").write_text(
        "alerts:\n  - {name: FromInclude, severity: info, summary: s, expr: vector(1) > 2, "
        "for: soon}\n"
    )
    second = "  - {name: Second, severity: warning, summary: s, expr: up > 1, for: later}\n"
    path = write_spec(tmp_path, "infrastructure", extra=second + "include: [more.yaml]\n")
    found = {
        (Path(d.span.file).name, d.field_path)
        for d in compiled(path).diagnostics
        if d.code == "schema/pattern"
    }
    assert found == {("shop.yaml", "alerts[1].for"), ("more.yaml", "alerts[0].for")}
