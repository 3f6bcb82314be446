"""What the retention tiers configure: the remote_write that ships exactly the
aggregates, the Prometheus flags (and how Debian takes them), the Thanos compactor
flags."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from monitorgen.model import Spec
from monitorgen.targets.prometheus_config import CONFIG_PATH
from monitorgen.targets.prometheus_rules import RULES_PATH
from monitorgen.targets.retention import PROMETHEUS_ARGS_PATH, THANOS_COMPACTOR_ARGS_PATH

from .helpers import (
    FLAGSHIP,
    SHOP,
    SPECS,
    files_of,
    flags_in,
    load_spec,
    recorded_names,
    retention_rules,
    variant_spec,
    write_files,
    yaml_file,
)

DEBIAN_DEFAULTS = Path("/etc/default/prometheus")


def _remote_write(spec: Spec) -> dict[str, Any]:
    (block,) = yaml_file(spec, CONFIG_PATH)["remote_write"]
    assert isinstance(block, dict)
    return block


def _keeps(block: dict[str, Any]) -> re.Pattern[str]:
    """The keep rule as Prometheus applies it: the regex anchored at both ends."""
    (relabel,) = block["write_relabel_configs"]
    assert relabel["action"] == "keep"
    assert relabel["source_labels"] == ["__name__"]
    return re.compile(f"^(?:{relabel['regex']})$")


@pytest.mark.parametrize("relative", SPECS)
def test_remote_write_keeps_exactly_the_aggregates(relative: str) -> None:
    spec = load_spec(relative)
    keep = _keeps(_remote_write(spec))
    rules = yaml_file(spec, RULES_PATH)
    aggregates = {rule["record"] for _group, rule in retention_rules(rules)}
    assert aggregates and all(keep.match(name) for name in aggregates)
    others = recorded_names(rules) - aggregates
    raw = {name for metric in spec.metrics for name in metric.series_names()}
    shipped_elsewhere = {name for name in others if keep.match(name)}
    # Only an aggregate another group already records exactly so (the shop's panel).
    assert shipped_elsewhere == ({"job:shop_orders:increase1h"} if relative == SHOP else set())
    assert not any(keep.match(name) for name in raw | {"up", "ALERTS", "ALERTS_FOR_STATE"})


@pytest.mark.parametrize("relative", SPECS)
def test_remote_write_sends_no_metadata_and_reads_secrets_only_from_files(relative: str) -> None:
    block = _remote_write(load_spec(relative))
    assert block["metadata_config"] == {"send": False}
    text = repr(block)
    for plaintext in ("'credentials':", "'password':", "bearer_token'", "'token':"):
        assert plaintext not in text


def test_the_flagship_sends_a_bearer_token_from_a_file() -> None:
    block = _remote_write(load_spec(FLAGSHIP))
    assert block["url"] == "https://metrics-lts.example.com/api/v1/push"
    assert block["name"] == "llm-retention"
    assert block["authorization"] == {
        "type": "Bearer",
        "credentials_file": "/etc/prometheus/secrets/long_term_store_token",
    }
    assert "basic_auth" not in block


def test_basic_auth_takes_the_password_from_a_file() -> None:
    block = _remote_write(load_spec(SHOP))
    assert block["basic_auth"] == {
        "username": "prometheus",
        "password_file": "secrets/long_term_store_password",
    }
    assert "authorization" not in block


def test_no_remote_write_without_a_long_term_store(tmp_path: Path) -> None:
    spec = variant_spec(SHOP, tmp_path, {"raw": "7d"})
    assert "remote_write" not in yaml_file(spec, CONFIG_PATH)
    assert "remote_write" not in yaml_file(variant_spec(SHOP, tmp_path, None), CONFIG_PATH)


@pytest.mark.parametrize(
    ("relative", "raw"),
    [(FLAGSHIP, "7d"), (SHOP, "2d")],
)
def test_prometheus_keeps_raw_samples_for_the_raw_tier_and_sidecar_sized_blocks(
    relative: str, raw: str
) -> None:
    flags = flags_in(files_of(load_spec(relative))[PROMETHEUS_ARGS_PATH])
    assert flags == [
        f"--storage.tsdb.retention.time={raw}",
        "--storage.tsdb.min-block-duration=2h",
        "--storage.tsdb.max-block-duration=2h",
    ]


@pytest.mark.parametrize(
    ("relative", "expected"),
    [
        # monthly forever: the 1h resolution (daily and monthly views) is never deleted.
        (FLAGSHIP, ("7d", "30d", "0d")),
        # monthly 5y outlives daily 400d, so the 1h resolution is kept 5y.
        (SHOP, ("2d", "15d", "5y")),
    ],
)
def test_thanos_keeps_each_resolution_for_its_tier(
    relative: str, expected: tuple[str, str, str]
) -> None:
    flags = flags_in(files_of(load_spec(relative))[THANOS_COMPACTOR_ARGS_PATH])
    resolutions = dict(flag.removeprefix("--retention.resolution-").split("=") for flag in flags)
    assert resolutions == dict(zip(("raw", "5m", "1h"), expected, strict=True))


def test_the_daily_tier_sets_the_1h_resolution_when_it_is_the_longest(tmp_path: Path) -> None:
    spec = variant_spec(
        SHOP, tmp_path, {"daily": "2y", "monthly": "2y", "hourly": "90d", "thanos": True}
    )
    flags = flags_in(files_of(spec)[THANOS_COMPACTOR_ARGS_PATH])
    assert flags == [
        "--retention.resolution-raw=7d",
        "--retention.resolution-5m=90d",
        "--retention.resolution-1h=2y",
    ]


def test_without_thanos_there_are_no_compactor_flags_and_prometheus_compacts(
    tmp_path: Path,
) -> None:
    files = files_of(variant_spec(SHOP, tmp_path, {"raw": "15d"}))
    assert THANOS_COMPACTOR_ARGS_PATH not in files
    assert flags_in(files[PROMETHEUS_ARGS_PATH]) == ["--storage.tsdb.retention.time=15d"]


def test_without_a_retention_section_no_flag_files_are_made(tmp_path: Path) -> None:
    files = files_of(variant_spec(SHOP, tmp_path, None))
    assert PROMETHEUS_ARGS_PATH not in files
    assert THANOS_COMPACTOR_ARGS_PATH not in files
    assert not any("retention" in path for path in files)


def test_the_documented_command_puts_the_flags_into_debians_args(tmp_path: Path) -> None:
    """Run the sed line the args file documents on a copy of /etc/default/prometheus,
    then read ARGS the way systemd's `ExecStart=/usr/bin/prometheus $ARGS` splits it."""
    spec = load_spec(FLAGSHIP)
    folder = write_files(spec, tmp_path / "out") / "prometheus"
    defaults = tmp_path / "prometheus.default"
    if DEBIAN_DEFAULTS.is_file():
        shutil.copyfile(DEBIAN_DEFAULTS, defaults)
    else:
        defaults.write_text('# Set the command-line arguments to pass to the server.\nARGS=""\n')
    content = (folder / "prometheus.args").read_text()
    (usage,) = [line for line in content.splitlines() if "sed -i" in line]
    command = usage.split("sudo ", 1)[1].replace("/etc/default/prometheus", str(defaults))
    subprocess.run(["bash", "-c", command], cwd=folder, check=True, timeout=30)
    read_back = subprocess.run(
        ["bash", "-c", f'set -a; . "{defaults}"; printf "%s\\n" $ARGS'],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    assert read_back.stdout.splitlines() == flags_in(content.encode())
