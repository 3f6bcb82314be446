"""Receivers Alertmanager accepts and that carry no secret.

The schema already refuses plaintext secret keys (`auth_password`, `api_url`, ...). What
it cannot see is a secret hidden in a URL: `https://user:pass@host`, `?token=...`, or a
Slack incoming-webhook URL, whose path is the credential. Those are refused here, as is
an e-mail receiver Alertmanager would reject for lack of a sender or a smarthost.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import fields, is_dataclass
from pathlib import Path as FilePath
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from monitorgen.diagnostics import Diagnostic, Severity
from monitorgen.immutable import immutable
from monitorgen.model import Path, Receiver, Spec

#: Receiver kinds as the spec names them.
RECEIVER_KINDS = ("email", "slack", "webhook", "pagerduty", "opsgenie")

#: Hosts whose webhook URLs carry the credential in their path.
_TOKEN_PATH_URLS = (
    (re.compile(r"^hooks\.slack\.com$"), "/services/", "a Slack incoming-webhook URL"),
    (re.compile(r"^(discord|discordapp)\.com$"), "/api/webhooks/", "a Discord webhook URL"),
    (re.compile(r"(^|\.)webhook\.office\.com$"), "/", "a Microsoft Teams webhook URL"),
    (re.compile(r"^outlook\.office\.com$"), "/webhook", "a Microsoft Teams webhook URL"),
)
#: Query parameter names (or their last `_`/`-`/`.` part) that carry a credential.
_SECRET_WORDS = frozenset(
    {"token", "key", "secret", "password", "passwd", "pwd", "signature", "sig", "auth"}
    | {"credential", "credentials", "apikey", "apitoken", "accesstoken", "authtoken", "code"}
)
_URL_IN_TEXT = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^\s\"'<>]+")


def check(spec: Spec) -> Iterator[Diagnostic]:
    for receiver in spec.receivers:
        for kind, index, config in receiver_configs(receiver):
            for key, value in _string_fields(config):
                path = (*receiver.path, kind, index, key)
                yield from _token_in_url(f"{kind} '{key}'", value, path, kind)
        for index, email in enumerate(receiver.email):
            yield from _email_transport(email, (*receiver.path, "email", index))
    for path, value in _texts_written_out(spec):
        yield from _token_in_url(f"'{path[-1]}'", value, path)


_OTHER_URL_HINT = (
    "write the URL without its secret: the generated files (rule annotations, "
    "dashboards, data sources) carry it as written"
)


def _texts_written_out(spec: Spec) -> Iterator[tuple[Path, str]]:
    """The spec's URLs and texts, besides receivers and remote_write, that generated
    files carry as written: field path and value."""
    settings = (
        (("prometheus", "url"), spec.prometheus.url),
        (("grafana", "url"), spec.grafana.url),
        (("runbook_base_url",), spec.runbook_base_url),
        (("description",), spec.description),
    )
    yield from ((path, value) for path, value in settings if value)
    base = f"{spec.runbook_base_url.rstrip('/')}/" if spec.runbook_base_url else None
    for alert in spec.alerts:
        texts = (("summary", alert.summary), ("description", alert.description))
        yield from (((*alert.path, key), value) for key, value in texts if value)
        derived = base is not None and (alert.runbook_url or "").startswith(base)
        if alert.runbook_url and not derived:  # a derived one is checked as the base
            yield (*alert.path, "runbook_url"), alert.runbook_url
        for key, value in alert.annotations:
            yield (*alert.path, "annotations", key), value
    for slo in spec.slos:
        if slo.runbook_url:
            yield (*slo.path, "alerting", "runbook_url"), slo.runbook_url
    for dashboard in spec.dashboards:
        if dashboard.description:
            yield (*dashboard.path, "description"), dashboard.description
        for row in dashboard.rows:
            for panel in row.panels:
                if panel.description:
                    yield (*panel.path, "description"), panel.description
                for index, (_title, url) in enumerate(panel.links):
                    yield (*panel.path, "links", index, "url"), url


def receiver_configs(receiver: Receiver) -> Iterator[tuple[str, int, Any]]:
    """(kind, index, config) for every notifier of a receiver."""
    for kind in RECEIVER_KINDS:
        for index, config in enumerate(getattr(receiver, kind)):
            yield kind, index, config


def _string_fields(config: Any) -> Iterator[tuple[str, str]]:
    """Spec key and value of every text field of a receiver config (`from_` is `from`)."""
    assert is_dataclass(config)
    for item in fields(config):
        value = getattr(config, item.name)
        if isinstance(value, str):
            yield item.name.rstrip("_"), value


def secret_in_url(url: str) -> str | None:
    """What kind of secret `url` embeds, or None."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        password = parts.password
    except ValueError:
        return None
    if parts.username:
        return "a user name and password" if password else "credentials before '@'"
    for name, _value in parse_qsl(parts.query, keep_blank_values=True):
        if _is_secret_parameter(name):
            return f"the query parameter '{name}'"
    for host_pattern, path_prefix, what in _TOKEN_PATH_URLS:
        if host_pattern.search(host) and parts.path.startswith(path_prefix):
            return what
    return None


def _is_secret_parameter(name: str) -> bool:
    lowered = name.lower()
    return lowered in _SECRET_WORDS or re.split(r"[_.-]", lowered)[-1] in _SECRET_WORDS


def _token_in_url(
    subject: str, value: str, path: Path, receiver_kind: str | None = None
) -> Iterator[Diagnostic]:
    if "://" not in value:
        return
    for url in _URL_IN_TEXT.findall(value):
        what = secret_in_url(url)
        if what is None:
            continue
        yield Diagnostic(
            "secrets/token-in-url",
            f"{subject} embeds a secret ({what}); secrets are never written into "
            "specs or generated files",
            path=path,
            hint=_OTHER_URL_HINT if receiver_kind is None else _alternative(receiver_kind, what),
        )
        return


def _alternative(kind: str, what: str) -> str:
    if "Slack" in what:
        return (
            "declare a slack receiver with 'api_url_file: /path/to/file' and keep the "
            "hooks URL in that file"
        )
    if kind == "webhook":
        return (
            "use the URL without its secret and put the token in a file named by "
            "'credentials_file' (sent as an Authorization header; Alertmanager has no "
            "url_file for webhooks)"
        )
    return "keep the secret in a file and reference it with the matching '*_file' field"


def _email_transport(email: Any, path: Path) -> Iterator[Diagnostic]:
    for key, value in (("from", email.from_), ("smarthost", email.smarthost)):
        if not value:
            yield Diagnostic(
                "receivers/email-incomplete",
                f"an e-mail receiver needs '{key}': Alertmanager refuses the config without it",
                path=path,
            )


# --- local secret files (opt-in: `monitorgen check --check-secrets`) ----------------------


@immutable
class SecretFile:
    """A secret file the spec references, who reads it and from where."""

    value: str
    path: Path
    folder: FilePath
    """Where a relative value is read from."""
    failure: str
    """What fails while the file is missing."""


def secret_files(spec: Spec, output: FilePath) -> Iterator[SecretFile]:
    """Every secret file the spec references, with the field path naming it: those of
    the receivers (read by Alertmanager next to `output`/alertmanager), of the long-term
    store and the scrape jobs (Prometheus, next to `output`/prometheus) and of the
    report's mail (the scheduled report, in its working directory)."""
    notify = "Alertmanager will fail to notify through this receiver until it does"
    for receiver in spec.receivers:
        for kind, index, config in receiver_configs(receiver):
            for key, value in _string_fields(config):
                if key.endswith("_file") and value:
                    path = (*receiver.path, kind, index, key)
                    yield SecretFile(value, path, output / "alertmanager", notify)
    remote = spec.retention.remote_write if spec.retention else None
    if remote is not None:
        ship = "Prometheus cannot authenticate to the long-term store until it does"
        for key in ("credentials_file", "auth_password_file"):
            value = getattr(remote, key)
            if value:
                yield SecretFile(value, (*remote.path, key), output / "prometheus", ship)
    scrape = "Prometheus cannot scrape this job's targets until it does"
    for job in spec.prometheus.jobs():
        if job.credentials_file:
            path = (*job.path, "credentials_file")
            yield SecretFile(job.credentials_file, path, output / "prometheus", scrape)
    mail = spec.report.mail if spec.report else None
    if spec.report is not None and mail is not None and mail.auth_password_file:
        send = "`monitorgen report --send` cannot log in to the mail server until it does"
        path = (*spec.report.path, "mail", "auth_password_file")
        folder = FilePath(spec.report.working_directory)
        yield SecretFile(mail.auth_password_file, path, folder, send)


def missing_secret_files(spec: Spec, output: FilePath) -> Iterator[Diagnostic]:
    """Referenced secret files absent on this machine (`output` is the spec's output
    folder). Their readers open them only when they send something, so no config
    check can tell."""
    for secret in secret_files(spec, output):
        file = FilePath(secret.value)
        located = file if file.is_absolute() else secret.folder / file
        if not located.is_file():
            yield Diagnostic(
                "secrets/missing-file",
                f"secret file {secret.value} does not exist here; {secret.failure}",
                path=secret.path,
                severity=Severity.WARNING,
            )
