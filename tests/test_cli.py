"""The command line: exit codes, report formats, `schema`, environments and includes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from click.testing import CliRunner, Result

from monitorgen import pipeline, routing, tools
from monitorgen.cli import main
from monitorgen.promql import parse
from monitorgen.spec.schema import schema_text

ROOT = Path(__file__).resolve().parent.parent

VALID = """\
version: 1
service: shop
metrics:
  - name: shop_orders_total
    type: counter
    help: Orders placed.
    labels:
      - name: status
        values: [paid, failed]
alerts:
  - name: ShopOrderFailures
    severity: critical
    for: 10m
    summary: Orders fail.
    condition:
      metric: shop_orders_total
      function: ratio
      where: {status: failed}
      above: 0.1
  - name: ShopNoOrders
    severity: warning
    for: 30m
    summary: No orders.
    condition: {metric: shop_orders_total, function: increase, window: 1h, below: 1}
"""
#: Valid, but with a finding at warning level: a query that can never match.
WARNING_ONLY = VALID.replace("where: {status: failed}", "where: {status: refunded}")
#: Two independent errors.
INVALID = VALID.replace("severity: critical", "severity: urgent").replace(
    "for: 30m", "for: half an hour"
)


def _run(*args: str) -> Result:
    result = CliRunner().invoke(main, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _write(folder: Path, name: str, text: str) -> str:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return name


# -- exit codes ------------------------------------------------------------------------------


def test_a_valid_spec_exits_0(workdir: Path) -> None:
    spec = _write(workdir, "shop.yaml", VALID)
    assert _run("validate", spec).exit_code == 0
    result = _run("build", spec, "-o", "out")
    assert result.exit_code == 0, result.output
    assert (workdir / "out" / "shop" / "prometheus" / "rules.yml").is_file()


def test_an_invalid_spec_exits_1_with_every_problem(workdir: Path) -> None:
    spec = _write(workdir, "shop.yaml", INVALID)
    result = _run("validate", spec)
    assert result.exit_code == 1
    assert "shop.yaml:12:15: alerts[0].severity: 'urgent' is not one of" in result.output
    assert "shop.yaml:22:10: alerts[1].for: 'half an hour' is not a duration" in result.output
    assert "2 error(s), 0 warning(s)" in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["validate", "--no-such-option", "shop.yaml"],
        ["validate", "missing.yaml"],
        ["build", "shop.yaml", "missing.yaml"],
        ["validate", "--format", "xml", "shop.yaml"],
        ["validate", "--fail-on", "fatal", "shop.yaml"],
        ["no-such-command"],
    ],
    ids=["unknown-option", "missing-file", "one-missing", "bad-format", "bad-severity", "command"],
)
def test_wrong_usage_exits_2(workdir: Path, args: list[str]) -> None:
    _write(workdir, "shop.yaml", VALID)
    result = _run(*args)
    assert result.exit_code == 2, result.output
    assert "Usage:" in result.output or "Error:" in result.output


def test_no_spec_arguments_and_no_specs_folder_is_a_usage_error(workdir: Path) -> None:
    result = _run("validate")
    assert result.exit_code == 2
    assert "no specs given and none found in specs/*.yaml" in result.output


def test_without_arguments_every_spec_under_specs_is_used(workdir: Path) -> None:
    _write(workdir, "specs/shop.yaml", VALID)
    _write(workdir, "specs/broken.yaml", INVALID.replace("service: shop", "service: broken"))
    result = _run("validate", "--format", "json")
    assert result.exit_code == 1
    files = {d["file"] for d in json.loads(result.stdout)["diagnostics"]}
    assert files == {"specs/broken.yaml"}


# -- report formats --------------------------------------------------------------------------


def test_json_report_parses_and_places_each_finding(workdir: Path) -> None:
    spec = _write(workdir, "shop.yaml", INVALID)
    result = _run("validate", "--format", "json", spec)
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False
    found = {(d["line"], d["column"], d["path"], d["code"]) for d in report["diagnostics"]}
    assert found == {
        (12, 15, "alerts[0].severity", "schema/enum"),
        (22, 10, "alerts[1].for", "schema/pattern"),
    }
    for item in report["diagnostics"]:
        assert item["file"] == "shop.yaml"
        assert item["severity"] == "error"
        assert item["message"]


def test_json_report_of_a_build_lists_what_was_written(workdir: Path) -> None:
    spec = _write(workdir, "shop.yaml", VALID)
    result = _run("build", "--format", "json", spec, "-o", "out")
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert (report["ok"], report["written"], report["diagnostics"]) == (True, ["shop"], [])


_ANNOTATION = re.compile(
    r"^::(?P<kind>error|warning|notice) file=(?P<file>[^,]+),line=(?P<line>\d+),"
    r"col=(?P<col>\d+),title=(?P<code>[^:]+)::(?P<message>.+)$"
)


def test_github_format_prints_workflow_annotations(workdir: Path) -> None:
    spec = _write(workdir, "shop.yaml", INVALID)
    result = _run("validate", "--format", "github", spec)
    assert result.exit_code == 1
    annotations = [m.groupdict() for m in map(_ANNOTATION.match, result.stdout.splitlines()) if m]
    assert len(annotations) == 2
    first = annotations[0]
    assert (first["kind"], first["file"], first["line"], first["col"], first["code"]) == (
        "error",
        "shop.yaml",
        "12",
        "15",
        "schema/enum",
    )
    assert first["message"].startswith("alerts[0].severity: 'urgent'")


def test_github_annotations_escape_what_would_end_a_property_or_a_line(workdir: Path) -> None:
    """`,` and `:` end a property, `%` starts an escape and a line break ends the
    command: a file named `a,b:c.yaml` and a key written `x%0Ay` stay as they are."""
    spec = _write(workdir, "a,b:c.yaml", VALID.replace("version: 1\n", "version: 1\nx%0Ay: 1\n"))
    result = _run("validate", "--format", "github", spec)
    assert result.exit_code == 1
    (line,) = result.stdout.splitlines()
    assert line.startswith("::error file=a%2Cb%3Ac.yaml,line=2,col=1,title=schema/unknown-key::")
    assert "x%250Ay" in line


def test_github_format_marks_warnings_as_warnings(workdir: Path) -> None:
    spec = _write(workdir, "shop.yaml", WARNING_ONLY)
    result = _run("validate", "--format", "github", spec)
    assert result.exit_code == 0
    kinds = {m["kind"] for m in map(_ANNOTATION.match, result.stdout.splitlines()) if m}
    assert "warning" in kinds
    assert "error" not in kinds


# -- --fail-on -------------------------------------------------------------------------------


def test_fail_on_warning_turns_warnings_into_a_failure(workdir: Path) -> None:
    spec = _write(workdir, "shop.yaml", WARNING_ONLY)
    relaxed = _run("validate", spec)
    assert relaxed.exit_code == 0
    assert "warning: alerts[0].condition.where.status: 'refunded'" in relaxed.output
    assert _run("validate", "--fail-on", "warning", spec).exit_code == 1
    assert _run("validate", "--fail-on", "info", spec).exit_code == 1


def test_fail_on_warning_keeps_a_build_from_writing(workdir: Path) -> None:
    spec = _write(workdir, "shop.yaml", WARNING_ONLY)
    result = _run("build", "--fail-on", "warning", spec, "-o", "out")
    assert result.exit_code == 1
    assert "nothing written" in result.output
    assert not (workdir / "out" / "shop").exists()


# -- schema and entry points -----------------------------------------------------------------


def test_schema_command_prints_a_valid_draft_2020_12_schema() -> None:
    result = _run("schema")
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert result.stdout == schema_text()


def test_editors_find_the_schema_the_flagship_names() -> None:
    """The `yaml-language-server` line points at the packaged schema, and an editor
    using plain jsonschema on it finds the flagship valid."""
    spec = ROOT / "specs" / "llm.yaml"
    first_line = spec.read_text(encoding="utf-8").splitlines()[0]
    match = re.fullmatch(r"# yaml-language-server: \$schema=(\S+)", first_line)
    assert match is not None
    schema_file = (spec.parent / match.group(1)).resolve()
    assert schema_file.read_text(encoding="utf-8") == schema_text()
    schema = json.loads(schema_text())
    document = yaml.safe_load(spec.read_text(encoding="utf-8"))
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(document)) == []


def test_python_dash_m_monitorgen_help_works(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "monitorgen", "--help"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    for command in ("validate", "build", "check", "schema"):
        assert re.search(rf"^\s+{command}\s", completed.stdout, re.MULTILINE), command


# -- environments ----------------------------------------------------------------------------

ENVIRONMENTS = (
    VALID
    + """\
environments:
  staging:
    alerts:
      - name: ShopOrderFailures
        severity: warning
        condition: {above: 0.5}
      - name: ShopStagingOnly
        severity: info
        summary: Only in staging.
        condition: {metric: shop_orders_total, function: increase, window: 1d, below: 1}
"""
)


def _alerts(rules_file: Path) -> dict[str, dict[str, Any]]:
    document = yaml.safe_load(rules_file.read_text(encoding="utf-8"))
    return {
        rule["alert"]: rule
        for group in document["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }


def _threshold(expr: str) -> tuple[str, float]:
    tree = parse(expr)
    return str(tree.op), float(tree.rhs.val)


def test_an_environment_builds_its_own_folder_with_its_overrides(workdir: Path) -> None:
    spec = _write(workdir, "shop.yaml", ENVIRONMENTS)
    result = _run("build", spec, "-o", "out")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (workdir / "out").iterdir()) == ["shop", "shop.staging"]
    prod = _alerts(workdir / "out" / "shop" / "prometheus" / "rules.yml")
    staging = _alerts(workdir / "out" / "shop.staging" / "prometheus" / "rules.yml")

    assert _threshold(prod["ShopOrderFailures"]["expr"]) == (">", 0.1)
    assert _threshold(staging["ShopOrderFailures"]["expr"]) == (">", 0.5)
    assert prod["ShopOrderFailures"]["labels"]["severity"] == "critical"
    assert staging["ShopOrderFailures"]["labels"]["severity"] == "warning"
    # Merged by name: what the override does not mention stays as it was.
    assert staging["ShopOrderFailures"]["for"] == prod["ShopOrderFailures"]["for"] == "10m"
    assert staging["ShopNoOrders"] == prod["ShopNoOrders"]
    assert "ShopStagingOnly" in staging
    assert "ShopStagingOnly" not in prod
    # The application imports one module name in every environment.
    for folder in ("shop", "shop.staging"):
        module = workdir / "out" / folder / "python" / "shop_metrics.py"
        assert module.is_file() and "ShopMetrics" in module.read_text()


def test_each_environment_output_names_its_environment(workdir: Path) -> None:
    spec = _write(workdir, "shop.yaml", ENVIRONMENTS)
    assert _run("build", spec, "-o", "out").exit_code == 0
    staging = (workdir / "out" / "shop.staging" / "prometheus" / "rules.yml").read_text()
    assert "Generated by monitorgen from shop.yaml (environment staging)." in staging


# -- includes --------------------------------------------------------------------------------

MAIN_WITH_INCLUDE = """\
version: 1
service: shop
include: [parts/alerts.yaml]
metrics:
  - name: shop_orders_total
    type: counter
    help: Orders placed.
alerts:
  - name: ShopNoOrders
    severity: warning
    summary: No orders.
    condition: {metric: shop_orders_total, function: increase, window: 1h, below: 1}
"""
INCLUDED_ALERTS = """\
alerts:
  - name: ShopOrderBurst
    severity: info
    summary: Many orders.
    condition: {metric: shop_orders_total, above: 100}
"""


def test_a_spec_split_over_two_files_builds_as_one(workdir: Path) -> None:
    spec = _write(workdir, "shop.yaml", MAIN_WITH_INCLUDE)
    _write(workdir, "parts/alerts.yaml", INCLUDED_ALERTS)
    result = _run("build", spec, "-o", "out")
    assert result.exit_code == 0, result.output
    alerts = _alerts(workdir / "out" / "shop" / "prometheus" / "rules.yml")
    assert set(alerts) == {"ShopNoOrders", "ShopOrderBurst"}
    assert _threshold(alerts["ShopOrderBurst"]["expr"]) == (">", 100.0)


def test_an_error_in_an_included_file_points_into_that_file(workdir: Path) -> None:
    spec = _write(workdir, "shop.yaml", MAIN_WITH_INCLUDE)
    _write(workdir, "parts/alerts.yaml", INCLUDED_ALERTS.replace("info", "notice"))
    result = _run("validate", spec)
    assert result.exit_code == 1
    assert "parts/alerts.yaml:3:15: alerts[0].severity: 'notice' is not one of" in result.output
    assert "        severity: notice" in result.output  # the excerpt comes from that file


# -- several specs ---------------------------------------------------------------------------


def test_two_specs_that_would_write_the_same_folder_are_refused(workdir: Path) -> None:
    first = _write(workdir, "team-a/shop.yaml", VALID)
    second = _write(workdir, "team-b/shop.yaml", VALID)
    result = _run("build", first, second, "-o", "out")
    assert result.exit_code == 1
    assert (
        "team-b/shop.yaml:1:1: team-a/shop.yaml and this spec both write the output folder "
        "shop/ [names/output-clash]"
    ) in result.output
    assert not (workdir / "out").exists()
    broken = _write(workdir, "team-c/shop.yaml", INVALID)
    result = _run("build", first, broken, "-o", "out")
    assert "team-c/shop.yaml:1:1: team-a/shop.yaml and this spec both write" in result.output


def test_a_spec_named_twice_is_built_once(workdir: Path) -> None:
    spec = _write(workdir, "shop.yaml", VALID)
    result = _run("build", spec, f"./{spec}", "-o", "out")
    assert result.exit_code == 0, result.output
    assert "for 1 spec(s)" in result.output


def test_the_output_names_its_spec_alike_from_any_working_directory(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Named from the folder the output folder is in, not from where the command ran:
    a build from one folder and a check from another agree."""
    _write(workdir / "project", "specs/shop.yaml", VALID)
    built = _run("build", "project/specs/shop.yaml", "-o", "project/generated")
    assert built.exit_code == 0, built.output
    rules = workdir / "project/generated/shop/prometheus/rules.yml"
    assert rules.read_text().startswith("# Generated by monitorgen from specs/shop.yaml.\n")
    monkeypatch.chdir(workdir / "project/specs")
    checked = _run("check", "shop.yaml", "-o", "../generated", "--amtool-routes", "none")
    assert checked.exit_code == 0, checked.output
    elsewhere = workdir / "elsewhere"
    _write(elsewhere, "shop.yaml", VALID)
    monkeypatch.chdir(workdir / "project")
    _run("build", str(elsewhere / "shop.yaml"), "-o", "out")
    assert (
        (workdir / "project/out/shop/prometheus/rules.yml")
        .read_text()
        .startswith("# Generated by monitorgen from shop.yaml.\n")
    )


def test_github_annotations_leave_out_an_unknown_line(workdir: Path) -> None:
    spec = workdir / "huge.yaml"
    spec.write_bytes(b"version: 1\nservice: shop\n" + b"#" * (2 * 1024 * 1024) + b"\n")
    result = _run("validate", "--format", "github", "huge.yaml")
    assert result.exit_code == 1
    assert result.stdout.startswith("::error file=huge.yaml,title=io/too-large::")


# -- check and amtool ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "routes"),
    [((), "tests"), (("--amtool-routes", "all"), "all"), (("--amtool-routes", "none"), "none")],
)
def test_check_asks_amtool_about_the_routing_cases_its_option_selects(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, option: tuple[str, ...], routes: str
) -> None:
    """Through the `tools.run` seam: an amtool that agrees, counting its runs."""
    commands: list[tuple[str, ...]] = []

    def agreeing_amtool(command: Sequence[str]) -> tools.ToolRun:
        commands.append(tuple(command))
        receivers = [a.split("=", 1)[1] for a in command if a.startswith("--verify.receivers=")]
        return tools.ToolRun(tuple(command), 0, "\n".join(receivers), "")

    spec_file = str(ROOT / "tests" / "specs" / "http_api.yaml")
    assert _run("build", spec_file, "-o", "out").exit_code == 0
    monkeypatch.setattr(tools, "find_amtool", lambda: "amtool")
    monkeypatch.setattr(tools, "run", agreeing_amtool)
    result = _run("check", spec_file, "-o", "out", *option)
    assert result.exit_code == 0, result.output
    route_tests = [c for c in commands if "routes" in c]
    assert [c for c in commands if "check-config" in c]
    spec = pipeline.compile_spec(Path(spec_file))[0].spec
    assert spec is not None and spec.routing is not None
    expected = {
        "tests": len(spec.routing.tests),
        "all": len(tools.RoutePlan.of(spec, routing.routing_cases(spec)).examples),
        "none": 0,
    }
    assert expected["none"] < expected["tests"] < expected["all"]
    assert len(route_tests) == expected[routes]


# -- leaving the process -------------------------------------------------------------------

_RUN_WITH_AN_EXIT_HANDLER = """
import atexit, sys
atexit.register(lambda: print("teardown ran"))
from monitorgen.cli import run
sys.argv = ["monitorgen", *sys.argv[1:]]
run()
"""


def _program(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _RUN_WITH_AN_EXIT_HANDLER, *map(str, args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        timeout=120,
    )


def test_spec_commands_leave_without_the_teardown_with_their_output_and_exit_code(
    tmp_path: Path,
) -> None:
    valid = _program("validate", "specs/llm.yaml", "--format", "json")
    assert valid.returncode == 0 and json.loads(valid.stdout)["ok"] is True
    invalid = _program("validate", "tests/invalid/bad_duration.yaml")
    assert invalid.returncode == 1
    assert "[schema/pattern]" in invalid.stderr and invalid.stderr.endswith(" warning(s)\n")
    built = _program("build", "specs/llm.yaml", "-o", tmp_path)
    assert built.returncode == 0 and built.stdout.startswith("wrote ")
    assert (tmp_path / "llm" / "prometheus" / "rules.yml").is_file()
    for done in (valid, invalid, built):
        assert "teardown ran" not in done.stdout


_RUN_WATCHING_THE_RESULT = """
import sys, weakref
from monitorgen import pipeline
from monitorgen.cli import run
build = pipeline.build
def watched(*args, **kwargs):
    result = build(*args, **kwargs)
    weakref.finalize(result, print, "result freed", flush=True)
    return result
pipeline.build = watched
sys.argv = ["monitorgen", *sys.argv[1:]]
run()
"""


@pytest.mark.parametrize("args", [["validate"], ["build", "-o", "{out}"], ["check", "-o", "{out}"]])
def test_spec_commands_leave_with_their_result_unfreed(tmp_path: Path, args: list[str]) -> None:
    """Freeing a large spec's result object by object costs time after all is done."""
    out = tmp_path / "out"
    subprocess.run(
        [sys.executable, "-m", "monitorgen", "build", "specs/llm.yaml", "-o", str(out)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=120,
    )
    command = [a.format(out=out) for a in args]
    done = subprocess.run(
        [sys.executable, "-c", _RUN_WATCHING_THE_RESULT, *command, "specs/llm.yaml"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "result freed" not in done.stdout


def test_other_commands_exit_as_usual() -> None:
    done = _program("schema")
    assert done.returncode == 0
    assert json.loads(done.stdout.removesuffix("teardown ran\n"))["type"] == "object"
    assert done.stdout.endswith("teardown ran\n")


def test_an_environment_item_with_a_misspelt_name_hints_at_the_one_meant(workdir: Path) -> None:
    """A name no item of the spec has makes a new, incomplete item: the findings on it
    say which item the name most likely meant."""
    spec = _write(
        workdir,
        "shop.yaml",
        VALID
        + "environments:\n  staging:\n    alerts:\n      - {name: ShopOrderFailure, for: 1h}\n",
    )
    result = _run("validate", spec)
    assert result.exit_code == 1
    hint = "'ShopOrderFailure' names no item of the spec, so this adds one: did you mean "
    assert f"{hint}'ShopOrderFailures'?" in result.output


@pytest.mark.parametrize("command", ["validate", "build", "check"])
def test_no_cache_help_names_what_the_command_keeps_and_where(command: str) -> None:
    help_text = " ".join(_run(command, "--help").output.split())
    option = help_text[help_text.index("--no-cache") :]
    assert "~/.cache/monitorgen" in option
    assert ("amtool" in option) == (command == "check")


def test_an_environment_problem_is_reported_with_the_spec_s_own(workdir: Path) -> None:
    """Every problem at once: an environment's wrong `for` is not held back until the
    spec's own wrong severity is fixed, and what it inherits is reported once."""
    environments = (
        "environments:\n  staging:\n    alerts:\n"
        "      - {name: ShopOrderFailures, for: 5 minutes}\n  prod:\n    title: Shop\n"
    )
    spec = _write(workdir, "shop.yaml", VALID.replace("severity: critical", "severity: urgent"))
    Path(spec).write_text(Path(spec).read_text() + environments)
    result = _run("validate", "--format", "json", spec)
    assert result.exit_code == 1
    found = [(d["code"], d["path"]) for d in json.loads(result.stdout)["diagnostics"]]
    assert found == [
        ("schema/enum", "alerts[0].severity"),
        ("schema/pattern", "environments.staging.alerts[0].for"),
    ]


def test_an_environment_merges_recording_rules_by_record_and_dashboards_by_uid(
    workdir: Path,
) -> None:
    """Overriding one recording rule kept none of the others, and a dashboard's title
    needed the whole dashboard again."""
    spec = _write(
        workdir,
        "shop.yaml",
        VALID + "recording_rules:\n"
        "  - {record: 'shop:orders:rate5m', expr: 'sum(rate(shop_orders_total[5m]))'}\n"
        "  - {record: 'shop:orders:rate1h', expr: 'sum(rate(shop_orders_total[1h]))'}\n"
        "dashboards:\n  - uid: shop\n    title: Shop\n    rows:\n      - title: Orders\n"
        "        panels:\n          - title: Orders\n            unit: reqps\n"
        "            queries: [{expr: 'shop:orders:rate5m'}]\n"
        "environments:\n  staging:\n"
        "    recording_rules:\n"
        "      - {record: 'shop:orders:rate5m', expr: 'sum(rate(shop_orders_total[10m]))'}\n"
        "    dashboards:\n      - {uid: shop, title: Shop (staging)}\n",
    )
    result = _run("build", spec, "-o", "out")
    assert result.exit_code == 0, result.output
    rules = yaml.safe_load(
        (workdir / "out" / "shop.staging" / "prometheus" / "rules.yml").read_text()
    )
    recorded = {
        r["record"]: r["expr"] for g in rules["groups"] for r in g["rules"] if "record" in r
    }
    assert recorded["shop:orders:rate5m"] == "sum(rate(shop_orders_total[10m]))"
    assert recorded["shop:orders:rate1h"] == "sum(rate(shop_orders_total[1h]))"
    (board,) = (workdir / "out" / "shop.staging" / "grafana" / "dashboards").glob("*.json")
    dashboard = json.loads(board.read_text())
    assert dashboard["title"] == "Shop (staging)"
    assert [p["title"] for p in dashboard["panels"] if p.get("type") != "row"] == ["Orders"]
