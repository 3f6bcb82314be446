"""E-mail a report: the Markdown as the text part, its HTML rendering as the alternative.

The SMTP password is only ever read from a file (as Alertmanager's
``auth_password_file``), so it never appears in a command line, a process
listing, the environment or an error message.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from monitorgen.immutable import immutable
from monitorgen.report.markdown_html import markdown_to_html

DEFAULT_SMTP_PORT = 587
DEFAULT_TIMEOUT = 30.0


class DeliveryError(RuntimeError):
    """The report could not be sent; the message names the cause, never a secret."""


@immutable
class MailSettings:
    """Where and how to send: ``smarthost`` is ``host`` or ``host:port``."""

    smarthost: str
    mail_from: str
    mail_to: tuple[str, ...]
    username: str | None = None
    password_file: Path | None = None
    starttls: bool = True
    timeout: float = DEFAULT_TIMEOUT

    @property
    def host(self) -> str:
        return _split_smarthost(self.smarthost)[0]

    @property
    def port(self) -> int:
        return _split_smarthost(self.smarthost)[1]


@immutable
class MailOverrides:
    """Command-line values that win over the spec's `report.mail`; None keeps the spec's."""

    smtp_host: str | None = None
    smtp_port: int | None = None
    smtp_user: str | None = None
    smtp_password_file: Path | None = None
    mail_from: str | None = None
    mail_to: tuple[str, ...] = ()
    starttls: bool | None = None

    @property
    def empty(self) -> bool:
        return self == MailOverrides()


def merged_settings(base: MailSettings | None, overrides: MailOverrides) -> MailSettings | None:
    """``base`` with ``overrides`` applied; None when neither says where to send.

    Without a base, host, sender and recipients must all come from the overrides.
    """
    if overrides.empty:
        return base
    host = overrides.smtp_host or (base.host if base else None)
    mail_from = overrides.mail_from or (base.mail_from if base else None)
    mail_to = overrides.mail_to or (base.mail_to if base else ())
    missing = [
        name
        for name, value in (
            ("--smtp-host", host),
            ("--mail-from", mail_from),
            ("--mail-to", mail_to),
        )
        if not value
    ]
    if missing or host is None or mail_from is None:
        raise DeliveryError(f"mail settings lack {', '.join(missing)}")
    port = overrides.smtp_port or (base.port if base else DEFAULT_SMTP_PORT)
    starttls = base.starttls if base else True
    return MailSettings(
        smarthost=f"{host}:{port}",
        mail_from=mail_from,
        mail_to=tuple(mail_to),
        username=overrides.smtp_user or (base.username if base else None),
        password_file=overrides.smtp_password_file or (base.password_file if base else None),
        starttls=starttls if overrides.starttls is None else overrides.starttls,
    )


def _split_smarthost(smarthost: str) -> tuple[str, int]:
    host, sep, port = smarthost.rpartition(":")
    if not sep:
        return smarthost, DEFAULT_SMTP_PORT
    if not port.isdigit() or not host:
        raise DeliveryError(f"smarthost {smarthost!r} is not host or host:port")
    return host, int(port)


def read_password(path: Path) -> str:
    """The password in ``path``, without its trailing newline."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise DeliveryError(f"cannot read the SMTP password file {path}: {reason}") from None
    password = text.rstrip("\r\n")
    if not password:
        raise DeliveryError(f"the SMTP password file {path} is empty")
    return password


def build_message(
    markdown: str,
    *,
    subject: str,
    mail_from: str,
    mail_to: Sequence[str],
    attachment_name: str | None = None,
) -> EmailMessage:
    """A multipart/alternative message: Markdown text and its HTML rendering.

    With ``attachment_name`` the Markdown is also attached as that file.
    """
    if not mail_to:
        raise DeliveryError("no recipient given")
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = mail_from
    message["To"] = ", ".join(mail_to)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=mail_from.rpartition("@")[2] or None)
    message.set_content(markdown, subtype="plain", charset="utf-8")
    message.add_alternative(markdown_to_html(markdown, title=subject), subtype="html")
    if attachment_name:
        message.add_attachment(
            markdown, subtype="markdown", charset="utf-8", filename=attachment_name
        )
    return message


def send_message(
    message: EmailMessage,
    settings: MailSettings,
    *,
    ssl_context: ssl.SSLContext | None = None,
) -> None:
    """Send over SMTP, upgrading with STARTTLS when asked and logging in when a
    username is given (the password comes from ``settings.password_file``)."""
    password = _password(settings)
    try:
        with smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout) as client:
            client.ehlo()
            if settings.starttls:
                client.starttls(context=ssl_context or ssl.create_default_context())
                client.ehlo()
            if settings.username is not None and password is not None:
                client.login(settings.username, password)
            client.send_message(message, settings.mail_from, list(settings.mail_to))
    except smtplib.SMTPAuthenticationError as exc:
        raise DeliveryError(
            f"SMTP login as {settings.username!r} refused ({exc.smtp_code})"
        ) from None
    except smtplib.SMTPNotSupportedError as exc:
        raise DeliveryError(f"{settings.smarthost}: {_reason(exc)}") from None
    except (smtplib.SMTPException, OSError, ssl.SSLError) as exc:
        raise DeliveryError(f"sending to {settings.smarthost} failed: {_reason(exc)}") from None


def _password(settings: MailSettings) -> str | None:
    if settings.username is None:
        return None
    if settings.password_file is None:
        raise DeliveryError("an SMTP username needs a password file")
    return read_password(settings.password_file)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        detail = (
            exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else ""
        )
        return f"{exc.smtp_code} {detail}".strip()
    return str(exc) or type(exc).__name__


def send_report(
    markdown: str,
    settings: MailSettings,
    *,
    subject: str,
    attachment_name: str | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> EmailMessage:
    """Build and send the report mail; return the message sent."""
    message = build_message(
        markdown,
        subject=subject,
        mail_from=settings.mail_from,
        mail_to=settings.mail_to,
        attachment_name=attachment_name,
    )
    send_message(message, settings, ssl_context=ssl_context)
    return message
