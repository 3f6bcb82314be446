"""The `monitorgen` command: parse arguments, run the pipeline, render, set the exit code.

Exit codes: 0 success, 1 invalid spec / findings at or above --fail-on / stale output,
2 wrong usage.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from monitorgen import pipeline, render, writer
from monitorgen.diagnostics import Diagnostic, Severity

if TYPE_CHECKING:
    from monitorgen.model import Spec
    from monitorgen.report_cli import ReportInputs

FORMATS = click.Choice(["text", "json", "github"])
SEVERITIES = click.Choice(["info", "warning", "error"])
spec_args = click.argument("specs", nargs=-1, type=click.Path(path_type=Path, dir_okay=False))
format_opt = click.option(
    "--format",
    "fmt",
    type=FORMATS,
    default="text",
    show_default=True,
    help="How findings are printed.",
)
fail_on_opt = click.option(
    "--fail-on",
    type=SEVERITIES,
    default="error",
    show_default=True,
    help="Lowest finding severity that fails the command.",
)
output_opt = click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, file_okay=False),
    default=pipeline.DEFAULT_OUTPUT_DIR,
    show_default=True,
    help="Folder that holds one sub-folder per spec.",
)
_CACHE_PLACE = "$MONITORGEN_CACHE_DIR, else $XDG_CACHE_HOME/monitorgen, else ~/.cache/monitorgen"
no_cache_opt = click.option(
    "--no-cache",
    is_flag=True,
    help=f"Neither reuse nor keep spec files as parsed (kept under {_CACHE_PLACE}).",
)
check_no_cache_opt = click.option(
    "--no-cache",
    is_flag=True,
    help="Neither reuse nor keep spec files as parsed, nor what amtool accepted "
    f"(kept under {_CACHE_PLACE}).",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="monitorgen")
def main() -> None:
    """Compile monitoring specs into Prometheus, Alertmanager, Grafana and Python files."""


#: Set by the commands that compile specs: `run` then leaves without tearing down.
_skip_teardown = False
#: What those commands compiled, referenced until `run` leaves: dropped when the command
#: returns, it would be freed object by object all the same (0.09 s at 5,000 alerts).
_kept: list[pipeline.BuildResult] = []


def run() -> None:
    """The `monitorgen` program: `main`, then, after validate, build or check, an exit
    that skips the interpreter's teardown. A spec of thousands of alerts lives on as a
    million small objects, and freeing them one by one took 0.6-0.9 s at 5,000 alerts,
    after all the work was done. Those commands register no exit handlers and leave no
    process or file open; the others exit as usual."""
    try:
        main()
    except SystemExit as done:
        if not _skip_teardown:
            raise
        code = done.code
    else:
        code = 0
    if isinstance(code, str):  # what sys.exit does with a message
        print(code, file=sys.stderr)
        code = 1
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError):  # a reader that went away (`... | head -1`)
            stream.flush()
    os._exit(code or 0)


def _compiled(
    specs: Sequence[Path],
    *,
    cache: bool,
    render: bool = True,
    extra: pipeline.ExtraChecks = pipeline.NO_EXTRA_CHECKS,
    output: Path | None = None,
) -> pipeline.BuildResult:
    """`pipeline.build` for a command that leaves without tearing down (see `run`);
    the files name their spec from the folder `output` is in."""
    global _skip_teardown
    _skip_teardown = True
    root = None if output is None else output.parent
    paths = _spec_paths(specs)
    result = pipeline.build(paths, render=render, extra=extra, cache=cache, root=root)
    _kept.append(result)
    return result


def _spec_paths(specs: Sequence[Path]) -> list[Path]:
    paths = list(dict.fromkeys(specs)) or pipeline.discover_specs()  # each spec once
    if not paths:
        raise click.UsageError("no specs given and none found in specs/*.yaml")
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise click.UsageError(f"no such spec file: {', '.join(missing)}")
    return paths


def _report(diagnostics: list[Diagnostic], fmt: str, **extra: object) -> None:
    if fmt == "json":
        click.echo(render.json_report(diagnostics, **extra))
    elif fmt == "github":
        for item in diagnostics:
            click.echo(render.github(item))
    elif diagnostics:
        click.echo(render.text_report(diagnostics), err=True)


def _threshold(name: str) -> Severity:
    return Severity[name.upper()]


@main.command()
@spec_args
@format_opt
@fail_on_opt
@no_cache_opt
def validate(specs: Sequence[Path], fmt: str, fail_on: str, no_cache: bool) -> None:
    """Validate specs and report every problem at once."""
    result = _compiled(specs, render=False, cache=not no_cache)
    failed = result.failed(_threshold(fail_on))
    _report(result.diagnostics, fmt, ok=not failed)
    sys.exit(1 if failed else 0)


@main.command()
@spec_args
@output_opt
@format_opt
@fail_on_opt
@no_cache_opt
def build(specs: Sequence[Path], output: Path, fmt: str, fail_on: str, no_cache: bool) -> None:
    """Generate files for specs (all of specs/*.yaml by default) into the output folder."""
    result = _compiled(specs, cache=not no_cache, output=output)
    failed = result.failed(_threshold(fail_on))
    if not failed:
        try:
            writer.write_tree(output, result.tree, prune=not specs)
        except OSError as exc:
            raise click.ClickException(f"cannot write {output}/: {exc}") from None
    _report(
        result.diagnostics, fmt, ok=not failed, written=sorted(result.tree) if not failed else []
    )
    if failed:
        click.echo("nothing written", err=True)
        sys.exit(1)
    if fmt == "text":
        files = sum(len(v) for v in result.tree.values())
        click.echo(f"wrote {files} files for {len(result.tree)} spec(s) under {output}/")


@main.command()
@spec_args
@output_opt
@format_opt
@fail_on_opt
@click.option(
    "--check-secrets",
    is_flag=True,
    help="Warn when a secret file the spec references (receivers, long-term store, "
    "report mail) is absent here.",
)
@click.option(
    "--amtool-routes",
    type=click.Choice(pipeline.AMTOOL_ROUTES),
    default="tests",
    show_default=True,
    help="Routing cases `amtool config routes test` confirms: the spec's routing.tests, "
    "also every distinct routing situation of its alerts (thorough, for CI), or none.",
)
@check_no_cache_opt
def check(
    specs: Sequence[Path],
    output: Path,
    fmt: str,
    fail_on: str,
    check_secrets: bool,
    amtool_routes: pipeline.AmtoolRoutes,
    no_cache: bool,
) -> None:
    """Validate, regenerate in memory and compare with the output folder (for CI).

    With amtool installed, also runs `amtool check-config` on the Alertmanager config
    and `amtool config routes test` on the routing cases --amtool-routes selects.
    """
    extra = pipeline.ExtraChecks(
        tools=True,
        secrets_in=output if check_secrets else None,
        amtool_routes=amtool_routes,
        remember_verdicts=not no_cache,
    )
    result = _compiled(specs, extra=extra, cache=not no_cache, output=output)
    failed = result.failed(_threshold(fail_on))
    try:
        drift = None if failed else writer.compare_tree(output, result.tree, whole=not specs)
    except OSError as exc:
        raise click.ClickException(f"cannot read {output}/: {exc}") from None
    stale = drift is not None and not drift.clean
    _report(
        result.diagnostics,
        fmt,
        ok=not (failed or stale),
        stale=_drift_summary(drift) if drift else {},
    )
    if drift is not None and stale and fmt == "text":
        _print_drift(drift, output)
    if drift is not None and stale and fmt == "github":
        _annotate_drift(drift, output)
    if failed or stale:
        sys.exit(1)
    if fmt == "text":
        click.echo(f"{output}/ is up to date with {len(result.tree)} spec output(s)")


def _drift_summary(drift: writer.Drift) -> dict[str, list[str]]:
    return {
        "changed": [p for p, _ in drift.changed],
        "missing": list(drift.missing),
        "extra": list(drift.extra),
    }


def _print_drift(drift: writer.Drift, output: Path) -> None:
    for _path, diff in drift.changed:
        click.echo(diff, nl=False)
    for path in drift.missing:
        click.echo(f"missing: {output}/{path}")
    for path in drift.extra:
        click.echo(f"not generated by any spec: {output}/{path}")
    click.echo(f"{output}/ is stale: run `monitorgen build` and commit the result", err=True)


def _annotate_drift(drift: writer.Drift, output: Path) -> None:
    rebuild = "run `monitorgen build` and commit the result"
    for path, _diff in drift.changed:
        message = f"differs from what its spec generates: {rebuild}"
        click.echo(render.github_file(f"{output}/{path}", "output/changed", message))
    for path in drift.missing:
        message = f"{output}/{path} is missing: {rebuild}"
        click.echo(render.github_file(f"{output}/{path}", "output/missing", message))
    for path in drift.extra:
        message = f"not generated by any spec: {rebuild}"
        click.echo(render.github_file(f"{output}/{path}", "output/extra", message))


@main.command()
def schema() -> None:
    """Print the JSON Schema of the spec language."""
    from monitorgen.spec.schema import schema_text

    click.echo(schema_text(), nl=False)


@main.command("rollup")
@click.argument(
    "traces", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False, exists=True)
)
@click.option(
    "--db",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="SQLite file keeping the daily and monthly totals (created when missing).",
)
@click.option(
    "--prune",
    is_flag=True,
    help="Also delete rolled-up trace_YYYY-MM-DD.jsonl files older than --raw-days.",
)
@click.option(
    "--raw-days",
    type=click.IntRange(min=0),
    default=7,
    show_default=True,
    help="Days raw trace files are kept when pruning.",
)
@click.option(
    "--today",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Day pruning counts from [default: the newest day seen in the traces].",
)
@click.option(
    "--spec",
    "spec_path",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Spec whose price table costs entries that carry no cost_usd.",
)
def rollup_command(
    traces: Sequence[Path],
    db: Path,
    prune: bool,
    raw_days: int,
    today: datetime | None,
    spec_path: Path | None,
) -> None:
    """Add daily and monthly totals of trace logs to a SQLite file (safe to re-run)."""
    import sqlite3

    from monitorgen import report_cli
    from monitorgen.report import rollup as rollups

    pricing = report_cli.inputs_from_spec(_report_spec(spec_path) if spec_path else None).pricing
    try:
        result = rollups.rollup(traces, db, pricing=pricing)
    except (rollups.RollupError, OSError, sqlite3.Error) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(result.summary(db))
    if not prune:
        return
    day = today.date() if today else rollups.reference_day(result, traces)
    if day is None:
        raise click.UsageError("the traces hold no dated entry; pass --today to prune")
    folders = {path.parent for path in traces}
    pruned = rollups.prune_raw_traces(folders, db, today=day, raw_days=raw_days)
    for path in pruned.not_rolled_up:
        click.echo(f"kept {path}: its current content is not rolled up into {db}", err=True)
    click.echo(f"deleted {len(pruned.deleted)} raw trace file(s) dated before {pruned.cutoff}")


def _smtp_options(command: Callable[..., None]) -> Callable[..., None]:
    """SMTP settings for `report --send`; each one wins over the spec's report.mail."""
    options = (
        click.option("--smtp-host", help="SMTP server [default: report.mail.smarthost]."),
        click.option(
            "--smtp-port",
            type=click.IntRange(1, 65535),
            help="SMTP port [default: report.mail.smarthost's, else 587].",
        ),
        click.option("--smtp-user", help="SMTP login [default: report.mail.auth_username]."),
        click.option(
            "--smtp-password-file",
            type=click.Path(path_type=Path, dir_okay=False),
            help="File holding the SMTP password; the password itself is never an option.",
        ),
        click.option("--mail-from", help="Sender [default: report.mail.from]."),
        click.option(
            "--mail-to", multiple=True, help="Recipient, repeatable [default: report.mail.to]."
        ),
        click.option(
            "--starttls/--no-starttls",
            default=None,
            help="Upgrade the connection before login [default: report.mail.require_tls, else on].",
        ),
    )
    for option in reversed(options):
        command = option(command)
    return command


def _with_mail_options(inputs: ReportInputs, options: dict[str, Any]) -> ReportInputs:
    from dataclasses import replace

    from monitorgen.report.deliver import DeliveryError, MailOverrides, merged_settings

    overrides = MailOverrides(**{**options, "mail_to": tuple(options["mail_to"])})
    try:
        return replace(inputs, mail=merged_settings(inputs.mail, overrides))
    except DeliveryError as exc:
        raise click.UsageError(str(exc)) from None


@main.command("report")
@click.argument("traces", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--date",
    "--day",
    "day",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Count only entries of this UTC day and compare with the day before "
    "[default: the day in trace_YYYY-MM-DD.jsonl file names].",
)
@click.option(
    "--spec",
    "spec_path",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Spec whose pricing, baseline and report: settings apply.",
)
@click.option(
    "-o",
    "--output",
    "output_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the report to this file instead of standard output.",
)
@click.option(
    "--format",
    "report_format",
    type=click.Choice(["markdown", "json"]),
    default="markdown",
    show_default=True,
)
@click.option(
    "--archive",
    "archive_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Also store the Markdown as DIR/daily_report_<date>.md and refresh DIR/index.md.",
)
@click.option("--send", is_flag=True, help="Also e-mail the report to the spec's report.mail.")
@click.option(
    "--missing-ok",
    is_flag=True,
    help="Count a trace file that does not exist as a day without calls instead of "
    "failing (the generated schedule passes it: a quiet day writes no trace file).",
)
@_smtp_options
def report_command(
    traces: Sequence[Path],
    day: datetime | None,
    spec_path: Path | None,
    output_file: Path | None,
    report_format: str,
    archive_dir: Path | None,
    send: bool,
    missing_ok: bool,
    **smtp: Any,
) -> None:
    """Daily report from trace logs: totals, per task type and model, change against the
    previous day (its trace_<date>.jsonl next to the given file), savings against the
    spec's baseline and data quality. Malformed lines are counted, never fatal."""
    from monitorgen import report as reports
    from monitorgen import report_cli

    missing = [path for path in traces if not path.exists()]
    if missing and not missing_ok:
        raise click.BadParameter(f"File '{missing[0]}' does not exist.", param_hint="'TRACES...'")
    inputs = report_cli.inputs_from_spec(_report_spec(spec_path) if spec_path else None)
    inputs = _with_mail_options(inputs, smtp)
    when = day.date() if day else report_cli.day_from_names(traces)
    if (archive_dir or send) and when is None:
        raise click.UsageError("--archive and --send need --date or a trace_YYYY-MM-DD.jsonl")
    if send and inputs.mail is None:
        raise click.UsageError(
            "--send needs a --spec whose report: section has mail:, "
            "or --smtp-host, --mail-from and --mail-to"
        )
    try:
        result = reports.build_report(
            [path for path in traces if path not in missing],
            day=when,
            pricing=inputs.pricing,
            baseline=inputs.baseline,
            previous_paths=report_cli.previous_day_paths(traces, when) if when else (),
        )
    except OSError as exc:
        raise click.ClickException(f"cannot read the trace logs: {exc}") from None
    markdown = reports.render_markdown(result, title=inputs.title)
    text = markdown if report_format == "markdown" else reports.render_json(result)
    if output_file:
        writer.write_file(output_file, text.encode())
    else:
        click.echo(text, nl=False)
    if when is not None:
        _deliver_report(markdown, when, inputs, archive_dir, send)


def _report_spec(path: Path) -> Spec:
    """The spec (without environment) for a report; an invalid one ends the command."""
    compiled = pipeline.compile_spec(path)[0]
    if not compiled.ok or compiled.spec is None:
        click.echo(render.text_report(compiled.diagnostics), err=True)
        sys.exit(1)
    return compiled.spec


def _deliver_report(
    markdown: str, day: date, inputs: ReportInputs, archive_dir: Path | None, send: bool
) -> None:
    from monitorgen.report.archive import archive_report, report_file_name
    from monitorgen.report.deliver import DeliveryError, send_report

    if archive_dir is not None:
        click.echo(f"archived {archive_report(markdown, day, archive_dir)}", err=True)
    if send and inputs.mail is not None:
        subject = f"{inputs.title}: {day.isoformat()}"
        try:
            send_report(
                markdown, inputs.mail, subject=subject, attachment_name=report_file_name(day)
            )
        except DeliveryError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"sent to {', '.join(inputs.mail.mail_to)}", err=True)


@main.command("up")
@click.argument(
    "spec", required=False, type=click.Path(path_type=Path, dir_okay=False, exists=True)
)
@click.option(
    "--real-timing",
    is_flag=True,
    help="Keep the generated intervals, `for` and group timing (alerts then take minutes).",
)
@click.option(
    "--duration",
    type=click.FloatRange(min=0),
    default=None,
    help="Stop after this many seconds instead of waiting for Ctrl-C.",
)
def up_command(spec: Path | None, real_timing: bool, duration: float | None) -> None:
    """Run a spec's Prometheus, Alertmanager and a demo app on 127.0.0.1 until Ctrl-C.

    SPEC defaults to specs/llm.yaml, else the first of specs/*.yaml. Every receiver is
    redirected to this terminal, so alerts can be watched firing and routing locally.
    """
    from monitorgen import live

    path = spec or _default_up_spec()
    result = pipeline.build([path])
    if result.failed():
        _report(result.diagnostics, "text")
        click.echo("nothing started", err=True)
        sys.exit(1)
    [compiled] = [c for c in result.compiled if c.output_name == path.stem]
    assert compiled.spec is not None
    try:
        live.up(
            compiled.spec,
            result.tree[compiled.output_name],
            echo=click.echo,
            fast=not real_timing,
            duration=duration,
        )
    except live.LiveError as exc:
        raise click.ClickException(str(exc)) from None


def _default_up_spec() -> Path:
    flagship = pipeline.DEFAULT_SPEC_DIR / "llm.yaml"
    if flagship.is_file():
        return flagship
    return _spec_paths(())[0]
