"""Provisioning files: Grafana's file provider and the Prometheus data source."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from monitorgen.model import PrometheusSettings
from monitorgen.targets.base import commented_header
from monitorgen.targets.grafana import render
from monitorgen.targets.grafana.provisioning import DASHBOARDS_MOUNT

from .helpers import FLAGSHIP, SPEC_FILES, SPEC_IDS, files_of, spec_of


def provisioning(path: Path, name: str) -> dict[str, object]:
    text = files_of(path)[f"grafana/provisioning/{name}"].decode()
    assert text.startswith(commented_header(spec_of(path)))
    data: dict[str, object] = yaml.safe_load(text)
    return data


@pytest.mark.parametrize("path", SPEC_FILES, ids=SPEC_IDS)
def test_file_provider_loads_the_dashboards_folder_into_the_specs_folder(path: Path) -> None:
    spec = spec_of(path)
    data = provisioning(path, "dashboards.yaml")
    assert data["apiVersion"] == 1
    (provider,) = data["providers"]  # type: ignore[misc]
    assert provider["type"] == "file"
    assert provider["folder"] == spec.grafana.folder
    assert provider["options"]["path"] == f"{DASHBOARDS_MOUNT}/{spec.name}"
    assert provider["allowUiUpdates"] is False
    assert provider["disableDeletion"] is False, "a dashboard removed from the spec goes"


@pytest.mark.parametrize("path", SPEC_FILES, ids=SPEC_IDS)
def test_prometheus_data_source_has_the_uid_the_dashboards_default_to(path: Path) -> None:
    spec = spec_of(path)
    data = provisioning(path, "datasources.yaml")
    sources = {s["type"]: s for s in data["datasources"]}  # type: ignore[attr-defined]
    prometheus = sources["prometheus"]
    assert prometheus["uid"] == "prometheus" and prometheus["isDefault"] is True
    assert prometheus["url"] == spec.prometheus.url
    assert prometheus["jsonData"]["timeInterval"] == spec.prometheus.scrape_interval
    alertmanager = sources["alertmanager"]
    assert alertmanager["url"] == f"http://{spec.prometheus.alertmanagers[0]}"


def test_the_prometheus_url_defaults_to_localhost_and_can_be_set(tmp_path: Path) -> None:
    assert spec_of(FLAGSHIP).prometheus.url == "http://localhost:9090"
    text = FLAGSHIP.read_text().replace(
        "  job: llm-app\n", "  job: llm-app\n  url: http://prometheus.monitoring:9090\n"
    )
    (tmp_path / "llm.yaml").write_text(text)
    data = yaml.safe_load(files_of(tmp_path / "llm.yaml")["grafana/provisioning/datasources.yaml"])
    assert data["datasources"][0]["url"] == "http://prometheus.monitoring:9090"


def test_no_alertmanager_data_source_without_alertmanagers() -> None:
    spec = spec_of(FLAGSHIP)
    settings: PrometheusSettings = replace(spec.prometheus, alertmanagers=())
    files = {a.path: a.content for a in render(replace(spec, prometheus=settings))}
    data = yaml.safe_load(files["grafana/provisioning/datasources.yaml"])
    assert [s["type"] for s in data["datasources"]] == ["prometheus"]


def test_a_spec_without_dashboards_renders_nothing() -> None:
    assert render(replace(spec_of(FLAGSHIP), dashboards=())) == []
