"""Daily report schedule: `schedule/crontab` and a systemd service + timer pair.

Emitted only for specs with a `report:` section. Traced events alone are not
enough: running a job on a host is a deliberate choice, and it needs the
folder it runs in, which only `report:` says.

Both forms run the same shell command in `report.working_directory`: it works
out yesterday's UTC date (trace files are named by UTC day), then runs
`monitorgen report` on that day's trace file with the spec, archives the
Markdown under `report.archive_dir` and, when the spec sets `report.mail`,
sends it. A project virtualenv at `<working_directory>/.venv` comes first on
PATH, so a venv install is found without further set-up.
"""

from __future__ import annotations

import shlex

from monitorgen.cron import parse_cron
from monitorgen.model import ReportSettings, Spec
from monitorgen.targets.base import Artifact, commented_header

FOLDER = "schedule"
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"
YESTERDAY = "$(date -u -d yesterday +%F)"


def unit_name(spec: Spec) -> str:
    """``monitorgen-report-<service>``: the stem of both unit files."""
    return f"monitorgen-report-{spec.service}"


def render(spec: Spec) -> list[Artifact]:
    if spec.report is None:
        return []
    name = unit_name(spec)
    return [
        Artifact(f"{FOLDER}/crontab", crontab(spec, spec.report).encode()),
        Artifact(f"{FOLDER}/{name}.service", service_unit(spec, spec.report).encode()),
        Artifact(f"{FOLDER}/{name}.timer", timer_unit(spec, spec.report).encode()),
    ]


def report_command(spec: Spec, report: ReportSettings) -> str:
    """The shell command both schedules run, from inside the working directory."""
    trace_prefix = shlex.quote(f"{spec.trace.directory.rstrip('/')}/trace_")
    words = [
        "monitorgen report",
        f'{trace_prefix}"$day".jsonl',
        f"--spec {shlex.quote(spec.source)}",
        '--day "$day"',
        "--missing-ok",  # a day without calls writes no trace file, and still has a report
        f"--archive {shlex.quote(report.archive_dir)}",
    ]
    if report.mail is not None:
        words.append("--send")
    return f"day={YESTERDAY} && exec " + " ".join(words)


def _search_path(report: ReportSettings) -> str:
    return f"{report.working_directory.rstrip('/')}/.venv/bin:{SYSTEM_PATH}"


def crontab(spec: Spec, report: ReportSettings) -> str:
    """One crontab line; cron treats ``%`` as a newline, so it is escaped."""
    command = (
        f"cd {shlex.quote(report.working_directory)} && "
        f"PATH={shlex.quote(_search_path(report))} && export PATH && "
        f"{report_command(spec, report)}"
    )
    return (
        commented_header(spec)
        + f"# {report.title}: install with `crontab -e` and paste the line below.\n"
        + f"# Runs in {report.working_directory}; times are the host's local time.\n"
        + f"{report.schedule} {command.replace('%', chr(92) + '%')}\n"
    )


def _systemd_word(text: str) -> str:
    """A double-quoted systemd command-line word with specifiers and variables escaped."""
    quoted = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + quoted.replace("%", "%%").replace("$", "$$") + '"'


def service_unit(spec: Spec, report: ReportSettings) -> str:
    lines = [
        "[Unit]",
        f"Description={_systemd_text(report.title)} for {spec.service}",
        "Wants=network-online.target",
        "After=network-online.target",
        "",
        "[Service]",
        "Type=oneshot",
        f"WorkingDirectory={_systemd_text(report.working_directory)}",
        f"Environment={_systemd_word('PATH=' + _search_path(report))}",
        f"ExecStart=/bin/sh -c {_systemd_word(report_command(spec, report))}",
        "NoNewPrivileges=yes",
        "PrivateTmp=yes",
        "ProtectSystem=full",
        "# Runs as root unless a drop-in sets User= (e.g. `systemctl edit`).",
    ]
    return commented_header(spec) + "\n".join(lines) + "\n"


def timer_unit(spec: Spec, report: ReportSettings) -> str:
    on_calendar = parse_cron(report.schedule).on_calendar()
    lines = [
        "[Unit]",
        f"Description={_systemd_text(report.title)} for {spec.service} ({report.schedule})",
        "",
        "[Timer]",
        f"OnCalendar={on_calendar}",
        "Persistent=true",
        f"Unit={unit_name(spec)}.service",
        "",
        "[Install]",
        "WantedBy=timers.target",
    ]
    return commented_header(spec) + "\n".join(lines) + "\n"


def _systemd_text(text: str) -> str:
    """Free text in a unit setting: ``%`` would start a specifier."""
    return text.replace("%", "%%")
