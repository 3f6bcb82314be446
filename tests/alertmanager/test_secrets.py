"""Secrets never enter a spec or the generated config: only `*_file` references do."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from monitorgen.cli import main
from monitorgen.pipeline import ExtraChecks, build
from monitorgen.semantic.receivers import secret_in_url
from monitorgen.spec.schema import SECRET_FIELDS
from monitorgen.targets import alertmanager
from tests.alertmanager.helpers import base_document, codes, compile_one, spec_models, write_spec

#: A valid config of each receiver kind, before a secret is added to it.
VALID_CONFIGS: dict[str, dict[str, Any]] = {
    "email": {
        "to": "a@example.com",
        "from": "b@example.com",
        "smarthost": "smtp.example.com:587",
    },
    "slack": {"api_url_file": "/run/secrets/slack"},
    "webhook": {"url": "https://hooks.example.com/x"},
    "pagerduty": {"routing_key_file": "/run/secrets/pd"},
    "opsgenie": {"api_key_file": "/run/secrets/og"},
}


def _with_receiver(kind: str, config: dict[str, Any]) -> dict[str, Any]:
    document = base_document()
    document["receivers"][0] = {"name": "oncall", kind: [config]}
    return document


@pytest.mark.parametrize("kind", sorted(VALID_CONFIGS))
@pytest.mark.parametrize("key", sorted(SECRET_FIELDS))
def test_every_plaintext_secret_field_is_refused(tmp_path: Path, kind: str, key: str) -> None:
    config = {**VALID_CONFIGS[kind], key: "s3cr3t-value"}
    compiled = compile_one(tmp_path, _with_receiver(kind, config))
    [finding] = [d for d in compiled.diagnostics if d.code == "secrets/plaintext"]
    assert finding.path == ("receivers", 0, kind, 0, key)
    assert f"'{key}'" in finding.message
    assert finding.hint is not None and f"'{SECRET_FIELDS[key]}:" in finding.hint
    assert finding.span.line > 0
    assert compiled.spec is None  # refused: nothing can be rendered


@pytest.mark.parametrize(
    ("url", "what"),
    [
        ("https://user:hunter2@hooks.example.com/x", "a user name and password"),
        ("https://ghp_abcdef@hooks.example.com/x", "credentials before '@'"),
        ("https://hooks.example.com/x?token=abc", "the query parameter 'token'"),
        ("https://hooks.example.com/x?a=1&api_key=abc", "the query parameter 'api_key'"),
        ("https://hooks.example.com/x?X-Amz-Signature=abc", "the query parameter"),
        ("https://fn.example.com/api/alert?code=abc", "the query parameter 'code'"),
        ("https://hooks.slack.com/services/T0/B0/XYZ", "a Slack incoming-webhook URL"),
        ("https://discord.com/api/webhooks/1/abc", "a Discord webhook URL"),
        ("https://acme.webhook.office.com/webhookb2/abc", "a Microsoft Teams webhook URL"),
    ],
)
def test_url_with_embedded_secret_is_refused(tmp_path: Path, url: str, what: str) -> None:
    assert what in (secret_in_url(url) or "")
    compiled = compile_one(tmp_path, _with_receiver("webhook", {"url": url}))
    [finding] = [d for d in compiled.diagnostics if d.code == "secrets/token-in-url"]
    assert finding.path == ("receivers", 0, "webhook", 0, "url")
    assert "webhook 'url'" in finding.message
    assert finding.hint is not None
    expected = "api_url_file" if "Slack" in what else "credentials_file"
    assert expected in finding.hint
    assert not compiled.ok


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.com/alerts",
        "https://hooks.example.com/alerts?channel=ops&format=json",
        "https://hooks.example.com/keys/rotate",
        "http://127.0.0.1:9000/hook",
        "https://hooks.slack.com/",
    ],
)
def test_url_without_secret_is_accepted(tmp_path: Path, url: str) -> None:
    assert secret_in_url(url) is None
    compiled = compile_one(tmp_path, _with_receiver("webhook", {"url": url}))
    assert codes(compiled.diagnostics, "secrets/") == []


#: Every other place a spec writes a URL or a text that generated files carry as written.
_WRITTEN_OUT = {
    ("prometheus", "url"): {"prometheus": {"job": "shop", "targets": ["localhost:8000"]}},
    ("grafana", "url"): {"grafana": {}},
    ("runbook_base_url",): {},
    ("alerts", 1, "runbook_url"): {},
    ("alerts", 1, "description"): {},
    ("alerts", 1, "annotations", "playbook"): {},
    ("dashboards", 0, "rows", 0, "panels", 0, "links", 0, "url"): {
        "dashboards": [
            {
                "uid": "shop",
                "title": "Shop",
                "rows": [
                    {
                        "title": "R",
                        "panels": [
                            {
                                "title": "Up",
                                "queries": [{"expr": "up"}],
                                "links": [{"title": "Runbook"}],
                            }
                        ],
                    }
                ],
            }
        ]
    },
}


@pytest.mark.parametrize("path", list(_WRITTEN_OUT), ids=lambda p: ".".join(map(str, p)))
def test_a_secret_in_any_url_the_output_carries_is_refused(
    tmp_path: Path, path: tuple[str | int, ...]
) -> None:
    """Generated rules, dashboards and data sources carry these as written: a token or
    a password in one would land in every deployment repository."""
    url = (
        "https://admin:hunter2@example.com/x"
        if str(path[-1]).endswith("url")
        else ("see https://wiki.example.com/rb?access_token=abc123")
    )
    document = {**base_document(), **_WRITTEN_OUT[path]}
    node: Any = document
    for key in path[:-1]:
        node = node.setdefault(key, {}) if isinstance(key, str) else node[key]
    node[path[-1]] = url
    compiled = compile_one(tmp_path, document)
    [finding] = [d for d in compiled.diagnostics if d.code == "secrets/token-in-url"]
    assert finding.path == path
    assert f"'{path[-1]}' embeds a secret" in finding.message
    assert finding.span.line > 0
    assert not compiled.ok


def test_an_alertmanager_address_with_credentials_is_refused(tmp_path: Path) -> None:
    document = base_document()
    document["prometheus"] = {
        "job": "shop",
        "targets": ["localhost:8000"],
        "alertmanagers": ["am:hunter2@localhost:9093"],
    }
    compiled = compile_one(tmp_path, document)
    [finding] = [d for d in compiled.diagnostics if d.code == "schema/pattern"]
    assert finding.path == ("prometheus", "alertmanagers", 0)
    assert "is not a host:port address" in finding.message


def test_a_runbook_derived_from_a_refused_base_is_reported_once(tmp_path: Path) -> None:
    document = {**base_document(), "runbook_base_url": "https://rb.example.com/?token=abc"}
    compiled = compile_one(tmp_path, document)
    found = [d.path for d in compiled.diagnostics if d.code == "secrets/token-in-url"]
    assert found == [("runbook_base_url",)]


def test_slack_url_pasted_into_a_file_field_is_refused(tmp_path: Path) -> None:
    config = {"api_url_file": "https://hooks.slack.com/services/T0/B0/XYZ"}
    compiled = compile_one(tmp_path, _with_receiver("slack", config))
    [finding] = [d for d in compiled.diagnostics if d.code == "secrets/token-in-url"]
    assert finding.path == ("receivers", 0, "slack", 0, "api_url_file")


def test_email_without_sender_or_smarthost_is_refused(tmp_path: Path) -> None:
    compiled = compile_one(tmp_path, _with_receiver("email", {"to": "a@example.com"}))
    found = [d for d in compiled.diagnostics if d.code == "receivers/email-incomplete"]
    assert sorted(d.message.split("'")[1] for d in found) == ["from", "smarthost"]


def _walk(node: Any, key: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for child_key, value in node.items():
            yield from _walk(value, str(child_key))
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item, key)
    else:
        yield key, node


def test_generated_configs_hold_only_file_references() -> None:
    secret_keys = {*SECRET_FIELDS, "url_file", "api_url", "routing_key", "service_key"}
    for spec in spec_models():
        config = yaml.safe_load(alertmanager.render(spec)[0].content)
        leaves = list(_walk(config))
        assert not {key for key, _ in leaves} & secret_keys, spec.name
        files = [value for key, value in leaves if key.endswith("_file")]
        assert files and all(str(v).startswith("/etc/alertmanager/secrets/") for v in files)
        assert not [v for _, v in leaves if isinstance(v, str) and secret_in_url(v)]


# --- --check-secrets ---------------------------------------------------------------------


def _secret_spec(tmp_path: Path, password_file: str) -> Path:
    document = base_document()
    email = {**VALID_CONFIGS["email"], "auth_password_file": password_file}
    document["receivers"].append({"name": "mail", "email": [email]})
    document["routing"]["routes"].append({"matchers": ['severity="info"'], "receiver": "mail"})
    return write_spec(tmp_path, document)


def _missing(tmp_path: Path, password_file: str, output: Path | None) -> list[str]:
    result = build([_secret_spec(tmp_path, password_file)], extra=ExtraChecks(secrets_in=output))
    return [d.message for d in result.diagnostics if d.code == "secrets/missing-file"]


def test_check_secrets_warns_about_absent_files_only(tmp_path: Path) -> None:
    absent = tmp_path / "absent"
    present = tmp_path / "present"
    present.write_text("pw")
    output = tmp_path / "out"
    assert len(_missing(tmp_path, str(absent), output)) == 1
    assert str(absent) in _missing(tmp_path, str(absent), output)[0]
    assert _missing(tmp_path, str(present), output) == []
    assert _missing(tmp_path, str(absent), None) == []  # off unless asked for


def test_check_secrets_resolves_relative_paths_next_to_the_config(tmp_path: Path) -> None:
    output = tmp_path / "out"
    assert len(_missing(tmp_path, "secrets/pw", output)) == 1
    (output / "shop" / "alertmanager" / "secrets").mkdir(parents=True)
    (output / "shop" / "alertmanager" / "secrets" / "pw").write_text("pw")
    assert _missing(tmp_path, "secrets/pw", output) == []


def test_check_secrets_also_covers_the_long_term_store_scrapes_and_the_report_mail(
    tmp_path: Path,
) -> None:
    """Prometheus reads the remote-write and scrape tokens and the scheduled report the
    SMTP password only when they are used: each fails as a missing receiver file does."""
    document = base_document()
    document["metrics"] = [{"name": "shop_orders_total", "type": "counter", "help": "Orders."}]
    document["retention"] = {
        "series": ["shop_orders_total"],
        "remote_write": {
            "url": "https://lts.example.com/push",
            "credentials_file": "secrets/lts_token",
        },
    }
    document["prometheus"] = {
        "scrape_jobs": [
            {"job": "node", "targets": ["a:9100"], "credentials_file": "secrets/node_token"}
        ]
    }
    work = tmp_path / "srv"
    document["report"] = {
        "working_directory": str(work),
        "mail": {
            "to": ["a@example.com"],
            "from": "b@example.com",
            "smarthost": "smtp.example.com:587",
            "auth_username": "b@example.com",
            "auth_password_file": "smtp_password",
        },
    }
    spec = write_spec(tmp_path, document)
    output = tmp_path / "out"

    def missing() -> dict[str, str]:
        result = build([spec], extra=ExtraChecks(secrets_in=output))
        found = [d for d in result.diagnostics if d.code == "secrets/missing-file"]
        return {d.field_path: d.message for d in found}

    found = missing()
    assert set(found) == {
        "retention.remote_write.credentials_file",
        "prometheus.scrape_jobs[0].credentials_file",
        "report.mail.auth_password_file",
    }
    assert "cannot scrape" in found["prometheus.scrape_jobs[0].credentials_file"]
    assert "Prometheus cannot authenticate" in found["retention.remote_write.credentials_file"]
    assert "monitorgen report --send" in found["report.mail.auth_password_file"]
    (output / "shop" / "prometheus" / "secrets").mkdir(parents=True)
    (output / "shop" / "prometheus" / "secrets" / "lts_token").write_text("t")
    (output / "shop" / "prometheus" / "secrets" / "node_token").write_text("t")
    work.mkdir()
    (work / "smtp_password").write_text("pw")
    assert missing() == {}


def test_check_command_flag(tmp_path: Path) -> None:
    spec = _secret_spec(tmp_path, str(tmp_path / "absent"))
    output = tmp_path / "out"
    runner = CliRunner()
    assert runner.invoke(main, ["build", str(spec), "-o", str(output)]).exit_code == 0
    plain = runner.invoke(main, ["check", str(spec), "-o", str(output), "--format", "json"])
    flagged = runner.invoke(
        main, ["check", str(spec), "-o", str(output), "--format", "json", "--check-secrets"]
    )
    assert plain.exit_code == 0 and flagged.exit_code == 0  # a warning does not fail
    assert "secrets/missing-file" not in plain.output
    report = json.loads(flagged.output)
    found = [d for d in report["diagnostics"] if d["code"] == "secrets/missing-file"]
    assert [d["severity"] for d in found] == ["warning"]


@pytest.mark.parametrize(
    ("config", "shown", "code"),
    [
        (
            {"api_url": "https://hooks.slack.com/services/T0/B0/S3cretPart"},
            "- api_url: <redacted>",
            "secrets/plaintext",
        ),
        (
            {"url": "https://bot:S3cretPart@hooks.example.com/x"},
            "- url: <redacted>",
            "secrets/token-in-url",
        ),
        (
            {"url": "https://hooks.example.com/x", "auth_pasword": "S3cretPart"},
            "auth_pasword: <redacted>",
            "schema/unknown-key",
        ),
        (
            {"url": "https://hooks.example.com/x", "db_password": "S3cretPart"},
            "db_password: <redacted>",
            "schema/unknown-key",
        ),
    ],
    ids=["plaintext", "token-in-url", "misspelt-secret-key", "unknown-secret-key"],
)
def test_the_excerpt_of_a_secret_finding_hides_the_secret(
    tmp_path: Path, config: dict[str, str], shown: str, code: str
) -> None:
    """The finding goes to terminals and CI logs: its source line must not carry the
    secret it is about (the message names the field, never the value), nor one under
    a misspelt or unknown key that names a secret."""
    kind = "slack" if "api_url" in config else "webhook"
    path = write_spec(tmp_path, _with_receiver(kind, config))
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 1
    assert "S3cretPart" not in result.output
    assert shown in result.output
    assert f"[{code}]" in result.output
