"""The `retention:` section: tiers are durations (or forever), secrets only as files,
and the model gets the design's defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitorgen.diagnostics import Diagnostic
from monitorgen.model import FOREVER
from monitorgen.spec.loader import parse_yaml
from monitorgen.spec.schema import validate_document

from .helpers import FLAGSHIP, SHOP, load_spec, variant_spec

HEAD = "version: 1\nservice: demo\n"


def _findings(body: str) -> list[Diagnostic]:
    return validate_document(parse_yaml(HEAD + body, "spec.yaml"))


@pytest.mark.parametrize("tier", ["hourly", "daily", "monthly"])
@pytest.mark.parametrize("value", ["forever", "90d", "2y", "1y6w"])
def test_coarse_tiers_take_a_duration_or_forever(tier: str, value: str) -> None:
    assert _findings(f"retention:\n  {tier}: {value}\n") == []


@pytest.mark.parametrize(
    ("tier", "value", "reason"),
    [
        ("raw", "forever", "is not a duration"),
        ("raw", "7 days", "is not a duration"),
        ("daily", "0d", "must be greater than 0"),
        ("monthly", "always", "is not a duration"),
        ("hourly", "30", "is a number, expected a string"),
    ],
)
def test_a_bad_period_is_refused_where_it_is_written(tier: str, value: str, reason: str) -> None:
    (finding,) = _findings(f"retention:\n  {tier}: {value}\n")
    assert finding.field_path == f"retention.{tier}"
    assert (finding.span.line, finding.span.column) == (4, len(tier) + 5)
    assert reason in finding.message


@pytest.mark.parametrize(
    ("key", "alternative"),
    [("password", "auth_password_file"), ("token", "credentials_file")],
)
def test_a_plaintext_secret_in_remote_write_is_refused(key: str, alternative: str) -> None:
    body = (
        f"retention:\n  remote_write:\n    url: https://lts.example.com/push\n    {key}: hunter2\n"
    )
    (finding,) = _findings(body)
    assert finding.code == "secrets/plaintext"
    assert finding.field_path == f"retention.remote_write.{key}"
    assert finding.hint is not None and alternative in finding.hint


def test_basic_auth_needs_both_the_user_and_the_password_file() -> None:
    body = (
        "retention:\n  remote_write:\n    url: https://lts.example.com/push\n"
        "    auth_username: prometheus\n"
    )
    (finding,) = _findings(body)
    assert finding.code == "schema/dependentRequired"
    assert finding.message == "'auth_username' needs 'auth_password_file' beside it"
    assert finding.field_path == "retention.remote_write.auth_username"
    assert finding.span.line == 6  # the key that needs the other, not the mapping


def test_an_empty_section_gets_the_tiers_of_the_design(tmp_path: Path) -> None:
    retention = variant_spec(SHOP, tmp_path, {}).retention
    assert retention is not None
    assert (retention.raw, retention.hourly, retention.daily, retention.monthly) == (
        "7d",
        "30d",
        "1y",
        FOREVER,
    )
    assert retention.series is None
    assert retention.remote_write is None
    assert retention.thanos is False


def test_without_the_section_there_is_no_retention(tmp_path: Path) -> None:
    assert variant_spec(SHOP, tmp_path, None).retention is None


def test_a_series_keeps_every_declared_label_unless_by_says_otherwise() -> None:
    retention = load_spec(FLAGSHIP).retention
    assert retention is not None and retention.series is not None
    kept = {item.metric: item.by for item in retention.series}
    assert kept["llm_requests_total"] == ("task_type", "model", "status")
    assert kept["llm_tokens_total"] == ("task_type", "token_type", "model")
    assert [item.path for item in retention.series][:2] == [
        ("retention", "series", 0),
        ("retention", "series", 1),
    ]


def test_remote_write_defaults_to_a_named_bearer_token_from_a_file() -> None:
    retention = load_spec(FLAGSHIP).retention
    assert retention is not None and retention.remote_write is not None
    target = retention.remote_write
    assert target.name == "llm-retention"
    assert target.auth_type == "Bearer"
    assert target.credentials_file == "/etc/prometheus/secrets/long_term_store_token"
