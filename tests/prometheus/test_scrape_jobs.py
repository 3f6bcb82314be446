"""Scrape jobs besides the service's own (`prometheus.scrape_jobs`), and target files:
the generated config, what promtool says of it, the findings on bad jobs, and a real
Prometheus scraping node_exporter through them."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from monitorgen.pipeline import build, compile_spec
from monitorgen.targets.prometheus_config import config
from monitorgen.writer import write_tree
from tests.harness import GeneratedConfigPrometheus, NodeExporter, require_binary

from .helpers import spec_from_text

SPEC = """\
version: 1
service: shop
prometheus:
  targets: ["shop-0:8000"]
  scrape_interval: 30s
  scrape_jobs:
    - job: node
      targets: ["shop-0:9100", "shop-1:9100"]
      labels: {{role: web}}
    - job: postgres
      target_files: [targets/postgres-*.json]
      scrape_interval: 5s
      scheme: https
      ca_file: {ca}
      credentials_file: {token}
metrics:
  - {{name: shop_orders_total, type: counter, help: Orders.}}
environments:
  prod:
    prometheus:
      scrape_jobs:
        - {{job: node, targets: ["prod-0:9100"]}}
"""


def _spec_text(tmp_path: Path) -> str:
    ca, token = tmp_path / "ca.pem", tmp_path / "token"
    ca.write_text("")
    token.write_text("t0ken")
    return SPEC.format(ca=ca, token=token)


def _built(source: Path) -> Path:
    """The spec built next to it; its own output folder."""
    result = build([source])
    assert not result.failed(), result.diagnostics
    write_tree(source.parent / "out", result.tree, prune=False)
    return source.parent / "out" / source.stem


def _jobs(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {job["job_name"]: job for job in data["scrape_configs"]}


def test_every_job_is_scraped_after_the_service_with_what_it_declares(tmp_path: Path) -> None:
    spec = spec_from_text(tmp_path, _spec_text(tmp_path))
    data = config(spec)
    assert [job["job_name"] for job in data["scrape_configs"]] == ["shop", "node", "postgres"]
    jobs = _jobs(data)
    assert jobs["node"]["static_configs"] == [
        {"targets": ["shop-0:9100", "shop-1:9100"], "labels": {"role": "web"}}
    ]
    assert "scrape_interval" not in jobs["node"]  # the global 30s
    postgres = jobs["postgres"]
    assert (postgres["scrape_interval"], postgres["scrape_timeout"]) == ("5s", "5s")
    assert postgres["file_sd_configs"] == [{"files": ["targets/postgres-*.json"]}]
    assert "static_configs" not in postgres
    assert postgres["scheme"] == "https"
    assert postgres["tls_config"] == {"ca_file": str(tmp_path / "ca.pem")}
    assert postgres["authorization"] == {
        "type": "Bearer",
        "credentials_file": str(tmp_path / "token"),
    }
    assert data["global"]["scrape_timeout"] == "10s"


def test_an_environment_changes_a_job_it_names_and_keeps_the_others(tmp_path: Path) -> None:
    path = tmp_path / "shop.yaml"
    path.write_text(_spec_text(tmp_path))
    base, prod = compile_spec(path)
    assert base.spec is not None and prod.spec is not None, prod.diagnostics
    jobs = _jobs(config(prod.spec))
    assert jobs["node"]["static_configs"] == [
        {"targets": ["prod-0:9100"], "labels": {"role": "web"}}
    ]
    assert jobs["postgres"] == _jobs(config(base.spec))["postgres"]


def test_the_service_job_may_read_its_targets_from_files(tmp_path: Path) -> None:
    text = "version: 1\nservice: shop\nprometheus:\n  target_files: [shop.json]\n"
    (job,) = config(spec_from_text(tmp_path, text))["scrape_configs"]
    assert job["file_sd_configs"] == [{"files": ["shop.json"]}]
    assert "static_configs" not in job  # no default localhost:8000 besides the files


@pytest.mark.tools
def test_promtool_accepts_the_config_and_reads_the_target_files(tmp_path: Path) -> None:
    promtool = require_binary("promtool")
    source = tmp_path / "shop.yaml"
    source.write_text(_spec_text(tmp_path))
    folder = _built(source)
    (folder / "prometheus" / "targets").mkdir()
    targets = folder / "prometheus" / "targets" / "postgres-a.json"
    targets.write_text(json.dumps([{"targets": ["db-0:9187"], "labels": {"zone": "a"}}]))
    config_file = folder / "prometheus" / "prometheus.yml"
    checked = subprocess.run(
        [promtool, "check", "config", str(config_file)], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "WARNING" not in checked.stdout + checked.stderr
    targets.write_text("[{targets: not a list}]")  # promtool reads the files it finds
    broken = subprocess.run(
        [promtool, "check", "config", str(config_file)], capture_output=True, text=True
    )
    assert broken.returncode != 0


BAD = """\
version: 1
service: shop
prometheus:
  job: node
  scrape_jobs:
    - job: node
      targets: ["a:9100"]
    - job: pg
    - job: files
      target_files: ["targets/*/x.json"]
      labels: {tier: db}
      ca_file: /ca.pem
"""


def test_bad_jobs_are_all_reported_where_they_are_written(tmp_path: Path) -> None:
    path = tmp_path / "shop.yaml"
    path.write_text(BAD)
    (compiled,) = compile_spec(path)
    found = {
        (d.code, d.field_path, d.span.line, d.span.column, d.severity.name.lower())
        for d in compiled.diagnostics
    }
    assert found == {
        ("names/duplicate", "prometheus.scrape_jobs[0].job", 6, 12, "error"),
        ("scrape/no-targets", "prometheus.scrape_jobs[1]", 8, 7, "error"),
        ("scrape/glob-in-folder", "prometheus.scrape_jobs[2].target_files[0]", 10, 22, "error"),
        ("scrape/labels-without-targets", "prometheus.scrape_jobs[2].labels", 11, 15, "error"),
        ("scrape/ca-without-https", "prometheus.scrape_jobs[2].ca_file", 12, 16, "warning"),
    }
    duplicate = next(d for d in compiled.diagnostics if d.code == "names/duplicate")
    assert "the service's own job has that name" in duplicate.message


def test_two_exporter_jobs_of_one_name_point_at_the_first(tmp_path: Path) -> None:
    path = tmp_path / "shop.yaml"
    path.write_text(BAD.replace("job: pg", "job: files"))
    (compiled,) = compile_spec(path)
    duplicates = [d for d in compiled.diagnostics if d.code == "names/duplicate"]
    assert [d.field_path for d in duplicates] == [
        "prometheus.scrape_jobs[0].job",
        "prometheus.scrape_jobs[2].job",
    ]
    assert "first defined at prometheus.scrape_jobs[1].job, line 8" in duplicates[1].message


RESERVED = """version: 1
service: shop
prometheus:
  alertmanagers: ["am:99999"]
  scrape_jobs:
    - job: node
      targets: ["a:9100", "b:0"]
      labels: {job: x, instance: y, __address__: z, role: web}
"""


def test_labels_prometheus_sets_and_ports_out_of_range_are_errors(tmp_path: Path) -> None:
    path = tmp_path / "shop.yaml"
    path.write_text(RESERVED)
    (compiled,) = compile_spec(path)
    found = sorted((d.code, d.field_path, d.span.line) for d in compiled.diagnostics)
    assert found == [
        ("scrape/port", "prometheus.alertmanagers[0]", 4),
        ("scrape/port", "prometheus.scrape_jobs[0].targets[1]", 7),
        ("scrape/reserved-label", "prometheus.scrape_jobs[0].labels.__address__", 8),
        ("scrape/reserved-label", "prometheus.scrape_jobs[0].labels.instance", 8),
        ("scrape/reserved-label", "prometheus.scrape_jobs[0].labels.job", 8),
    ]


def test_an_environment_may_leave_a_job_to_its_target_files(tmp_path: Path) -> None:
    path = tmp_path / "shop.yaml"
    path.write_text(
        "version: 1\nservice: shop\nprometheus:\n  targets: ['shop-0:8000']\n"
        "environments:\n  prod:\n    prometheus:\n      targets: []\n"
        "      target_files: [/etc/prometheus/shop.json]\n"
        "  broken:\n    prometheus:\n      targets: []\n"
    )
    _base, broken, prod = compile_spec(path)
    assert prod.spec is not None and prod.ok, prod.diagnostics
    (job,) = config(prod.spec)["scrape_configs"]
    assert job["file_sd_configs"] == [{"files": ["/etc/prometheus/shop.json"]}]
    assert "static_configs" not in job
    assert [(d.code, d.field_path) for d in broken.diagnostics] == [
        ("scrape/no-targets", "environments.broken.prometheus")
    ]


def test_a_structured_condition_over_an_external_metric_says_to_write_expr(
    tmp_path: Path,
) -> None:
    path = tmp_path / "shop.yaml"
    path.write_text(
        "version: 1\nservice: shop\nexternal_metrics: [redis_memory_used_bytes]\n"
        "alerts:\n  - name: RedisMemory\n    severity: warning\n    summary: s\n"
        "    condition: {metric: redis_memory_used_bytes, function: value, above: 1e9}\n"
    )
    (compiled,) = compile_spec(path)
    (finding,) = [d for d in compiled.diagnostics if d.code.startswith("references/")]
    assert finding.code == "references/external-metric"
    assert finding.field_path == "alerts[0].condition.metric"
    assert finding.hint is not None and "`expr`" in finding.hint


LAYERED = """version: 1
service: shop
layers: [infrastructure]
"""


def test_reading_an_exporter_that_nothing_scrapes_is_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "shop.yaml"
    path.write_text(LAYERED)
    (compiled,) = compile_spec(path)
    (warning,) = [d for d in compiled.diagnostics if d.code == "lint/exporter-not-scraped"]
    assert "node_cpu_seconds_total" in warning.message and "'shop'" in warning.message
    path.write_text(LAYERED + "prometheus:\n  scrape_jobs: [{job: node, targets: ['h:9100']}]\n")
    (scraped,) = compile_spec(path)
    assert [d.code for d in scraped.diagnostics] == []


MISSPELT = """version: 1
service: shop
layers: [infrastructure]
prometheus:
  scrape_jobs:
    - {job: postgres, targets: ["db-staging:9187"]}
environments:
  prod:
    prometheus:
      scrape_jobs:
        - {job: postgress, targets: ["db-prod:9187"]}
        - {job: redis, targets: ["redis:9121"]}
    alerts:
      - {name: NodeHighCpus, severity: warning, summary: s, expr: up == 0}
      - {name: NodeHighCpu, severity: critical, summary: s, expr: up == 0}
"""


def test_an_environment_adding_an_item_named_like_one_of_the_spec_is_a_warning(
    tmp_path: Path,
) -> None:
    """A slip of the name adds a second job (or alert) instead of changing the one meant."""
    path = tmp_path / "shop.yaml"
    path.write_text(MISSPELT)
    base, prod = compile_spec(path)
    assert not [d for d in base.diagnostics if d.code == "environments/new-item"]
    found = [d for d in prod.diagnostics if d.code == "environments/new-item"]
    assert [(d.field_path, d.span.line, d.span.column, d.hint) for d in found] == [
        (
            "environments.prod.prometheus.scrape_jobs[0].job",
            11,
            17,
            "did you mean 'postgres'? an item of the same job changes it",
        ),
        (
            "environments.prod.alerts[0].name",
            14,
            16,
            "did you mean 'NodeHighCpu'? an item of the same name changes it",
        ),
    ]


def test_a_target_file_must_be_json_or_yaml(tmp_path: Path) -> None:
    path = tmp_path / "shop.yaml"
    path.write_text(BAD.replace("targets/*/x.json", "targets.txt"))
    (compiled,) = compile_spec(path)
    (finding,) = compiled.diagnostics
    assert finding.code == "schema/pattern"
    assert finding.field_path == "prometheus.scrape_jobs[2].target_files[0]"
    assert "a .json, .yml or .yaml file" in finding.message


# --- live -------------------------------------------------------------------------


LIVE = """\
version: 1
service: shop
prometheus:
  targets: ["127.0.0.1:9"]
  scrape_interval: 1s
  evaluation_interval: 1s
  alertmanagers: ["127.0.0.1:9"]
  scrape_jobs:
    - job: node-static
      targets: ["{address}"]
      labels: {{role: web}}
    - job: node-files
      target_files: [targets/node-*.json]
metrics:
  - {{name: shop_orders_total, type: counter, help: Orders.}}
"""


@pytest.mark.e2e
def test_prometheus_scrapes_node_exporter_through_targets_and_target_files(
    tmp_path: Path, node_exporter: NodeExporter
) -> None:
    """The generated prometheus.yml as it is, nothing rewritten: both jobs come up with
    their labels, and node_exporter's series carry each job's name."""
    binary = require_binary("prometheus")
    source = tmp_path / "shop.yaml"
    source.write_text(LIVE.format(address=node_exporter.address))
    folder = _built(source)
    targets = folder / "prometheus" / "targets"
    targets.mkdir()
    listed = [{"targets": [node_exporter.address], "labels": {"zone": "a"}}]
    (targets / "node-a.json").write_text(json.dumps(listed))
    with GeneratedConfigPrometheus(
        folder / "prometheus" / "prometheus.yml", workdir=tmp_path / "prometheus", binary=binary
    ) as prometheus:
        for job, label in (("node-static", ("role", "web")), ("node-files", ("zone", "a"))):
            (up,) = prometheus.wait_for(
                lambda job=job: prometheus.query(f'up{{job="{job}"}} == 1'),  # type: ignore[misc]
                timeout=30,
                message=f"{job} scraped",
            )
            assert up["metric"]["instance"] == node_exporter.address
            assert up["metric"][label[0]] == label[1]
            assert prometheus.query(f'node_uname_info{{job="{job}"}}'), job
