"""Report delivery over SMTP (against local aiosmtpd servers), its HTML, and the archive."""

from __future__ import annotations

import email
import email.message
import email.policy
import re
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from monitorgen.report import build_report, render_markdown
from monitorgen.report.archive import archive_report, archived_days, report_file_name
from monitorgen.report.deliver import (
    DeliveryError,
    MailSettings,
    build_message,
    read_password,
    send_report,
)
from monitorgen.report.markdown_html import markdown_to_html
from tests.harness import LOOPBACK, SmtpCapture, free_port, require_binary

FIXTURES = Path(__file__).parent / "fixtures"
DAY = date(2026, 11, 26)
PASSWORD = "s3cret-Pa55word"


@pytest.fixture(scope="module")
def markdown() -> str:
    report = build_report(
        [FIXTURES / "trace_2026-11-26.jsonl"],
        day=DAY,
        previous_paths=[FIXTURES / "trace_2026-11-25.jsonl"],
    )
    return render_markdown(report)


def parse_mail(raw: bytes) -> email.message.EmailMessage:
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, email.message.EmailMessage)
    return parsed


def parts(message: email.message.EmailMessage) -> dict[str, str]:
    found = {}
    for part in message.walk():
        if part.get_content_maintype() == "text" and not part.is_attachment():
            # SMTP carries CRLF line ends; compare texts with the Markdown's own.
            found[part.get_content_type()] = part.get_content().replace("\r\n", "\n")
    return found


# --- HTML -------------------------------------------------------------------


@dataclass
class Structure(HTMLParser):
    """Collects what the HTML means: headings, list items, table cells, bold text."""

    tags: list[str] = field(default_factory=list)
    text: dict[str, list[str]] = field(default_factory=dict)
    rows: list[list[str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__()
        self._open: list[str] = []
        self._buffer: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "tr":
            self.rows.append([])
        self._open.append(tag)
        self._buffer = []

    def handle_endtag(self, tag: str) -> None:
        content = "".join(self._buffer).strip()
        self.text.setdefault(tag, []).append(content)
        if tag in ("td", "th"):
            self.rows[-1].append(content)
        if self._open and self._open[-1] == tag:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        self._buffer.append(data)


def structure(html_text: str) -> Structure:
    parsed = Structure()
    parsed.feed(html_text)
    parsed.close()
    return parsed


def markdown_table_rows(markdown: str) -> int:
    return sum(1 for line in markdown.splitlines() if line.startswith("|") and "---" not in line)


def test_html_has_the_reports_headings_lists_and_tables(markdown: str) -> None:
    page = structure(markdown_to_html(markdown, title="Daily"))
    assert page.text["h1"] == ["LLM Token Optimization — Daily Report"]
    assert "Totals" in page.text["h2"] and "By model" in page.text["h2"]
    assert page.text["strong"] == ["Date"]
    assert len(page.rows) == markdown_table_rows(markdown)
    assert ["gpt-small", "2", "2,820", "$0.00", "250ms", "300ms", "50.00%"] in page.rows
    items = page.text["li"]
    assert "Requests: 5 (ok 3, errors 1, timeouts 1)" in items
    assert page.text["title"] == ["Daily"]


def test_html_escapes_text_from_trace_logs() -> None:
    markdown = (
        "# Report <b>\n\n| Task type | Cost |\n|---|---|\n"
        "| <script>alert(1)</script> | a \\| b |\n\n- **x** & `<y>`\n"
    )
    html_text = markdown_to_html(markdown)
    assert "<script>" not in html_text and "<b>" not in html_text
    page = structure(html_text)
    assert page.rows[1] == ["<script>alert(1)</script>", "a | b"]
    assert page.text["code"] == ["<y>"]
    assert page.text["h1"] == ["Report <b>"]


# --- message and password ---------------------------------------------------


def test_message_carries_markdown_and_html_alternatives(markdown: str) -> None:
    message = build_message(
        markdown,
        subject="Daily report 2026-11-26",
        mail_from="reports@example.com",
        mail_to=["a@example.com", "b@example.com"],
        attachment_name=report_file_name(DAY),
    )
    assert message.get_content_type() == "multipart/mixed"
    texts = parts(message)
    assert texts["text/plain"] == markdown
    assert "<table>" in texts["text/html"]
    (attachment,) = list(message.iter_attachments())
    assert attachment.get_filename() == "daily_report_2026-11-26.md"
    assert attachment.get_content() == markdown
    assert message["To"] == "a@example.com, b@example.com"


def test_password_file_is_read_without_its_newline(tmp_path: Path) -> None:
    secret = tmp_path / "smtp_password"
    secret.write_text(PASSWORD + "\n")
    assert read_password(secret) == PASSWORD
    secret.write_text("\n")
    with pytest.raises(DeliveryError, match="empty"):
        read_password(secret)
    with pytest.raises(DeliveryError, match="cannot read"):
        read_password(tmp_path / "missing")


# --- SMTP -------------------------------------------------------------------


def test_report_is_delivered_to_the_harness_smtp_server(
    smtp_capture: SmtpCapture, markdown: str
) -> None:
    settings = MailSettings(
        smarthost=smtp_capture.address,
        mail_from="reports@example.com",
        mail_to=("team@example.com",),
        starttls=False,
    )
    send_report(markdown, settings, subject="LLM daily report 2026-11-26")
    (mail,) = smtp_capture.wait_for_messages(1, timeout=10)
    assert mail.mail_from == "reports@example.com"
    assert mail.rcpt_tos == ["team@example.com"]
    received = parse_mail(mail.raw)
    assert received["Subject"] == "LLM daily report 2026-11-26"
    texts = parts(received)
    assert texts["text/plain"] == markdown
    page = structure(texts["text/html"])
    assert len(page.rows) == markdown_table_rows(markdown)


class _Recorder:
    def __init__(self) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self.logins: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        login = session.auth_data if session.authenticated else ""
        self.messages.append((login, envelope.original_content or envelope.content))
        return "250 OK"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and data.password == PASSWORD.encode()
        if not ok:
            return AuthResult(success=False, handled=False)
        self.logins.append(data.login.decode())
        return AuthResult(success=True, handled=False, auth_data=data.login.decode())


@pytest.fixture
def auth_smtp() -> Iterator[tuple[Controller, _Recorder]]:
    """aiosmtpd with AUTH (the harness capture server has none) over plain SMTP."""
    recorder = _Recorder()
    controller = Controller(
        recorder,
        hostname=LOOPBACK,
        port=free_port(),
        authenticator=recorder.authenticate,
        auth_require_tls=False,
    )
    controller.start()
    yield controller, recorder
    controller.stop()


def test_login_uses_the_password_from_the_file(
    auth_smtp: tuple[Controller, _Recorder], tmp_path: Path
) -> None:
    controller, recorder = auth_smtp
    secret = tmp_path / "smtp_password"
    secret.write_text(PASSWORD + "\n")
    settings = MailSettings(
        smarthost=f"{LOOPBACK}:{controller.port}",
        mail_from="reports@example.com",
        mail_to=("team@example.com",),
        username="reports",
        password_file=secret,
        starttls=False,
    )
    send_report("# Report\n", settings, subject="s")
    assert recorder.logins == ["reports"]
    assert [login for login, _ in recorder.messages] == ["reports"]


def test_a_refused_login_is_reported_without_the_password(
    auth_smtp: tuple[Controller, _Recorder], tmp_path: Path
) -> None:
    controller, recorder = auth_smtp
    secret = tmp_path / "smtp_password"
    secret.write_text("wrong-" + PASSWORD)
    settings = MailSettings(
        smarthost=f"{LOOPBACK}:{controller.port}",
        mail_from="reports@example.com",
        mail_to=("team@example.com",),
        username="reports",
        password_file=secret,
        starttls=False,
    )
    with pytest.raises(DeliveryError, match="login as 'reports' refused") as failure:
        send_report("# Report\n", settings, subject="s")
    assert PASSWORD not in str(failure.value)
    assert recorder.messages == []


def test_starttls_is_required_when_asked(smtp_capture: SmtpCapture) -> None:
    settings = MailSettings(
        smarthost=smtp_capture.address,
        mail_from="reports@example.com",
        mail_to=("team@example.com",),
        starttls=True,
    )
    with pytest.raises(DeliveryError, match="STARTTLS"):
        send_report("# Report\n", settings, subject="s")
    assert smtp_capture.messages == []


@pytest.fixture
def tls_files(tmp_path: Path) -> tuple[Path, Path]:
    openssl = require_binary("openssl")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            openssl,
            *("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost"),
            *("-addext", f"subjectAltName=IP:{LOOPBACK}"),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def test_login_happens_after_starttls(tls_files: tuple[Path, Path], tmp_path: Path) -> None:
    cert, key = tls_files
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    recorder = _Recorder()
    controller = Controller(
        recorder,
        hostname=LOOPBACK,
        port=free_port(),
        authenticator=recorder.authenticate,
        tls_context=server_context,
        require_starttls=True,
        auth_require_tls=True,
    )
    controller.start()
    try:
        secret = tmp_path / "smtp_password"
        secret.write_text(PASSWORD)
        settings = MailSettings(
            smarthost=f"{LOOPBACK}:{controller.port}",
            mail_from="reports@example.com",
            mail_to=("team@example.com",),
            username="reports",
            password_file=secret,
            starttls=True,
        )
        client_context = ssl.create_default_context(cafile=str(cert))
        send_report("# Report\n\n- ok\n", settings, subject="s", ssl_context=client_context)
    finally:
        controller.stop()
    assert recorder.logins == ["reports"]
    assert len(recorder.messages) == 1


def test_an_untrusted_certificate_stops_delivery(tls_files: tuple[Path, Path]) -> None:
    cert, key = tls_files
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    recorder = _Recorder()
    controller = Controller(
        recorder, hostname=LOOPBACK, port=free_port(), tls_context=server_context
    )
    controller.start()
    try:
        settings = MailSettings(
            smarthost=f"{LOOPBACK}:{controller.port}",
            mail_from="reports@example.com",
            mail_to=("team@example.com",),
        )
        with pytest.raises(DeliveryError, match="CERTIFICATE_VERIFY_FAILED"):
            send_report("# Report\n", settings, subject="s")
    finally:
        controller.stop()
    assert recorder.messages == []


# --- archive ----------------------------------------------------------------


def index_links(index: Path) -> list[tuple[str, str]]:
    return re.findall(r"^- \[([^\]]+)\]\(([^)]+)\)$", index.read_text(), flags=re.M)


def test_archive_keeps_one_report_per_day_and_an_index_newest_first(tmp_path: Path) -> None:
    archive = tmp_path / "reports"
    for day in (date(2026, 11, 25), date(2026, 11, 27), date(2026, 11, 26)):
        archive_report(f"# Report {day}\n", day, archive)
    archive_report("# Report 2026-11-25, again\n", date(2026, 11, 25), archive)
    (archive / "notes.md").write_text("not a report")

    links = index_links(archive / "index.md")
    assert [label for label, _ in links] == ["2026-11-27", "2026-11-26", "2026-11-25"]
    for label, target in links:
        assert (archive / target).read_text().startswith(f"# Report {label}")
    assert (archive / "daily_report_2026-11-25.md").read_text().endswith("again\n")
    assert archived_days(archive)[0] == date(2026, 11, 27)
    assert sorted(p.name for p in archive.iterdir() if p.name.startswith(".")) == []


def test_index_follows_reports_removed_by_hand(tmp_path: Path) -> None:
    archive = tmp_path / "reports"
    archive_report("# a\n", date(2026, 1, 1), archive)
    archive_report("# b\n", date(2026, 1, 2), archive)
    (archive / "daily_report_2026-01-01.md").unlink()
    archive_report("# c\n", date(2026, 1, 3), archive)
    assert [label for label, _ in index_links(archive / "index.md")] == [
        "2026-01-03",
        "2026-01-02",
    ]


# --- monitorgen report --send ------------------------------------------------

TRACE = FIXTURES / "trace_2026-11-26.jsonl"
MAIL_SPEC = """\
version: 1
service: bot
title: Bot
metrics:
  - {{name: bot_calls_total, type: counter, help: Calls.}}
events:
  - name: llm_call
    fields:
      - {{name: model, type: str}}
    updates:
      - {{metric: bot_calls_total, inc: 1}}
report:
  mail: {{to: spec-team@example.com, from: spec@example.com, smarthost: "{smarthost}"}}
"""


def run_report(*args: object) -> Any:
    from click.testing import CliRunner

    from monitorgen.cli import main

    return CliRunner().invoke(main, ["report", str(TRACE), *map(str, args)])


def test_send_with_command_line_mail_settings_only(smtp_capture: SmtpCapture) -> None:
    result = run_report(
        "--send",
        *("--smtp-host", LOOPBACK, "--smtp-port", smtp_capture.port),
        *("--mail-from", "cli@example.com", "--mail-to", "a@example.com"),
        *("--mail-to", "b@example.com", "--no-starttls"),
    )
    assert result.exit_code == 0, result.output
    (mail,) = smtp_capture.wait_for_messages(1, timeout=10)
    assert mail.mail_from == "cli@example.com"
    assert mail.rcpt_tos == ["a@example.com", "b@example.com"]
    assert parse_mail(mail.raw)["Subject"] == "LLM Token Optimization — Daily Report: 2026-11-26"


def test_command_line_settings_win_over_the_spec(smtp_capture: SmtpCapture, tmp_path: Path) -> None:
    spec = tmp_path / "bot.yaml"
    spec.write_text(MAIL_SPEC.format(smarthost="smtp.invalid:25"))
    result = run_report(
        "--spec", spec, "--send", "--smtp-host", LOOPBACK, "--smtp-port", smtp_capture.port,
        "--no-starttls",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (mail,) = smtp_capture.wait_for_messages(1, timeout=10)
    assert (mail.mail_from, mail.rcpt_tos) == ("spec@example.com", ["spec-team@example.com"])


def test_command_line_login_reads_the_password_file(
    auth_smtp: tuple[Controller, _Recorder], tmp_path: Path
) -> None:
    controller, recorder = auth_smtp
    secret = tmp_path / "pw"
    secret.write_text(PASSWORD + "\n")
    common = (
        *("--send", "--smtp-host", LOOPBACK, "--smtp-port", controller.port, "--no-starttls"),
        *("--mail-from", "cli@example.com", "--mail-to", "a@example.com"),
        *("--smtp-user", "reports"),
    )
    result = run_report(*common, "--smtp-password-file", secret)
    assert result.exit_code == 0, result.output
    assert recorder.logins == ["reports"]
    secret.write_text("wrong\n")
    refused = run_report(*common, "--smtp-password-file", secret)
    assert refused.exit_code == 1
    assert "refused" in refused.output and "wrong" not in refused.output


def test_incomplete_mail_settings_are_a_usage_error() -> None:
    result = run_report("--send", "--smtp-host", LOOPBACK)
    assert result.exit_code == 2
    assert "--mail-from, --mail-to" in result.output


def test_no_option_takes_the_password_itself() -> None:
    result = run_report("--send", "--smtp-password", PASSWORD)
    assert result.exit_code == 2
    assert "No such option" in result.output


def test_a_spec_without_a_report_section_titles_the_report_after_itself(tmp_path: Path) -> None:
    spec = tmp_path / "bot.yaml"
    spec.write_text(MAIL_SPEC.format(smarthost="x:25").split("report:")[0])
    result = run_report("--spec", spec)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("# Bot — Daily Report\n")
