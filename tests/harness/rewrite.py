"""Test-side transforms of Prometheus and Alertmanager configs.

The committed configuration is never modified: these functions take its parsed
YAML and return a copy whose network endpoints point at local test servers.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import yaml

ConfigSource = str | Mapping[str, Any]
ScrapeTargets = Sequence[str] | Mapping[str, Sequence[str]]

RECEIVER_HEADER = "X-Test-Receiver"
UNUSED_HTTP_BASE = "http://127.0.0.1:9"
UNUSED_SMTP = "127.0.0.1:9"

_CLIENT_TRANSPORT_KEYS = frozenset(
    {
        "tls_config",
        "oauth2",
        "proxy_url",
        "no_proxy",
        "proxy_from_environment",
        "proxy_connect_header",
    }
)
_PROMETHEUS_DROPPED_SECTIONS = ("remote_write", "remote_read", "tracing", "scrape_config_files")

# receiver config list -> (url key, url file key, whether the notifier appends a path)
HTTP_RECEIVER_KINDS: dict[str, tuple[str, str | None, bool]] = {
    "slack_configs": ("api_url", "api_url_file", False),
    "webhook_configs": ("url", "url_file", False),
    "pagerduty_configs": ("url", None, False),
    "opsgenie_configs": ("api_url", None, True),
    "msteams_configs": ("webhook_url", "webhook_url_file", False),
    "discord_configs": ("webhook_url", "webhook_url_file", False),
    "victorops_configs": ("api_url", None, True),
    "wechat_configs": ("api_url", None, True),
    "telegram_configs": ("api_url", None, False),
    "webex_configs": ("api_url", None, False),
}

_GLOBAL_URLS: dict[str, tuple[str, bool]] = {
    "slack_api_url": ("slack", False),
    "pagerduty_url": ("pagerduty", False),
    "opsgenie_api_url": ("opsgenie", True),
    "victorops_api_url": ("victorops", True),
    "wechat_api_url": ("wechat", True),
    "telegram_api_url": ("telegram", False),
    "webex_api_url": ("webex", False),
}
_GLOBAL_URL_FILES: dict[str, str] = {"slack_api_url_file": "slack"}


def load_config(source: ConfigSource) -> dict[str, Any]:
    """Parse YAML text, or deep-copy a mapping, into a plain dict."""
    data = yaml.safe_load(source) if isinstance(source, str) else copy.deepcopy(dict(source))
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError("config must be a YAML mapping")
    return data


def dump_config(config: Mapping[str, Any]) -> str:
    """Serialise a config dict as YAML."""
    return yaml.safe_dump(dict(config), sort_keys=False)


class FileWriter:
    """Writes the small files a rewritten config refers to (dummy secrets, URLs)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._counter = itertools.count(1)

    def write(self, content: str, hint: str) -> str:
        """Write ``content`` to a new file and return its absolute path."""
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{next(self._counter):03d}-{hint}"
        path.write_text(content)
        return str(path.resolve())


def capture_url(http_base: str, kind: str, receiver: str, trailing_slash: bool = False) -> str:
    """URL under the capture server that identifies receiver type and name."""
    url = f"{http_base.rstrip('/')}/{kind}/{quote(receiver, safe='')}"
    return url + "/" if trailing_slash else url


def materialise_files(node: Any, writer: FileWriter, content: str = "dummy-secret") -> None:
    """Point every ``*_file`` string field below ``node`` at a freshly written file."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key.endswith("_file") and isinstance(value, str):
                node[key] = writer.write(content, key)
            else:
                materialise_files(value, writer, content)
    elif isinstance(node, list):
        for item in node:
            materialise_files(item, writer, content)


def strip_transport(node: dict[str, Any]) -> None:
    """Drop TLS, OAuth2 and proxy client settings; test servers are plain local HTTP."""
    for key in _CLIENT_TRANSPORT_KEYS:
        node.pop(key, None)


# --- Prometheus -------------------------------------------------------------------------


def rewrite_prometheus_config(
    source: ConfigSource,
    *,
    scrape_targets: ScrapeTargets,
    alertmanagers: Sequence[str],
    rule_paths: Sequence[Path],
    writer: FileWriter,
    interval: str = "1s",
) -> dict[str, Any]:
    """Return a Prometheus config that scrapes and alerts only the given local addresses.

    A sequence of targets applies to every job; a mapping assigns targets per job
    name and drops jobs it does not name.
    """
    config = load_config(source)
    _override_global_intervals(config, interval)
    jobs = config.get("scrape_configs") or []
    config["scrape_configs"] = _rewrite_jobs(jobs, scrape_targets, interval, writer)
    _rewrite_alerting(config, alertmanagers, writer)
    if rule_paths:
        config["rule_files"] = [str(p) for p in rule_paths]
    else:
        config.pop("rule_files", None)
    for section in _PROMETHEUS_DROPPED_SECTIONS:
        config.pop(section, None)
    return config


def _override_global_intervals(config: dict[str, Any], interval: str) -> None:
    global_section = dict(config.get("global") or {})
    global_section["scrape_interval"] = interval
    global_section["scrape_timeout"] = interval
    global_section["evaluation_interval"] = interval
    config["global"] = global_section


def _rewrite_jobs(
    jobs: list[dict[str, Any]],
    targets: ScrapeTargets,
    interval: str,
    writer: FileWriter,
) -> list[dict[str, Any]]:
    rewritten = []
    for job in jobs:
        name = str(job.get("job_name", ""))
        if isinstance(targets, Mapping):
            if name not in targets:
                continue
            job_targets = list(targets[name])
        else:
            job_targets = list(targets)
        if job_targets:
            rewritten.append(_rewrite_job(job, job_targets, interval, writer))
    return rewritten


def _rewrite_job(
    job: dict[str, Any], targets: list[str], interval: str, writer: FileWriter
) -> dict[str, Any]:
    labels: dict[str, Any] = {}
    for group in job.get("static_configs") or []:
        labels.update(group.get("labels") or {})
    out = _without_discovery(job)
    strip_transport(out)
    out["scheme"] = "http"
    for key in ("scrape_interval", "scrape_timeout"):
        if key in out:
            out[key] = interval
    group_out: dict[str, Any] = {"targets": targets}
    if labels:
        group_out["labels"] = labels
    out["static_configs"] = [group_out]
    materialise_files(out, writer)
    return out


def _without_discovery(section: dict[str, Any]) -> dict[str, Any]:
    out = {
        k: v for k, v in section.items() if not k.endswith("_sd_configs") and k != "static_configs"
    }
    relabels = [r for r in out.get("relabel_configs") or [] if not _sets_address(r)]
    if relabels:
        out["relabel_configs"] = relabels
    else:
        out.pop("relabel_configs", None)
    return out


def _sets_address(rule: Mapping[str, Any]) -> bool:
    return rule.get("target_label") == "__address__"


def _rewrite_alerting(config: dict[str, Any], addresses: Sequence[str], writer: FileWriter) -> None:
    alerting = dict(config.get("alerting") or {})
    managers = alerting.get("alertmanagers") or []
    if addresses:
        base = _without_discovery(dict(managers[0]) if managers else {})
        strip_transport(base)
        base.pop("path_prefix", None)
        base["scheme"] = "http"
        base["static_configs"] = [{"targets": list(addresses)}]
        materialise_files(base, writer)
        alerting["alertmanagers"] = [base]
    else:
        alerting.pop("alertmanagers", None)
    if alerting:
        config["alerting"] = alerting
    else:
        config.pop("alerting", None)


# --- Alertmanager -----------------------------------------------------------------------


def rewrite_alertmanager_config(
    source: ConfigSource,
    *,
    http_base: str | None,
    smtp_address: str | None,
    writer: FileWriter,
    route_timing: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Return an Alertmanager config whose receivers all deliver to local capture servers.

    HTTP receivers post to ``{http_base}/{kind}/{receiver}``; email receivers use
    ``smtp_address`` without TLS and carry an ``X-Test-Receiver`` header.
    """
    config = load_config(source)
    _rewrite_am_global(config, http_base, smtp_address, writer)
    for receiver in config.get("receivers") or []:
        _rewrite_receiver(receiver, http_base, smtp_address, writer)
    if route_timing and isinstance(config.get("route"), dict):
        _apply_route_timing(config["route"], route_timing, is_root=True)
    return config


def _rewrite_am_global(
    config: dict[str, Any], http_base: str | None, smtp_address: str | None, writer: FileWriter
) -> None:
    section = dict(config.get("global") or {})
    materialise_files(section, writer)
    base = http_base or UNUSED_HTTP_BASE
    for key, (kind, slash) in _GLOBAL_URLS.items():
        if key in section:
            section[key] = capture_url(base, kind, "_global", slash)
    for key, kind in _GLOBAL_URL_FILES.items():
        if key in section:
            section[key] = writer.write(capture_url(base, kind, "_global"), key)
    if "smtp_smarthost" in section:
        section["smtp_smarthost"] = smtp_address or UNUSED_SMTP
    section["smtp_require_tls"] = False
    if isinstance(section.get("http_config"), dict):
        strip_transport(section["http_config"])
    config["global"] = section


def _rewrite_receiver(
    receiver: dict[str, Any], http_base: str | None, smtp_address: str | None, writer: FileWriter
) -> None:
    name = str(receiver.get("name", ""))
    for key, configs in receiver.items():
        if key == "name":
            continue
        if key == "email_configs":
            _require(smtp_address, name, key)
            for cfg in configs or []:
                _rewrite_email(cfg, name, str(smtp_address), writer)
        elif key in HTTP_RECEIVER_KINDS:
            _require(http_base, name, key)
            for cfg in configs or []:
                _rewrite_http_receiver(cfg, key, name, str(http_base), writer)
        else:
            raise ValueError(f"receiver {name!r}: {key} cannot be redirected to a local server")


def _require(value: str | None, receiver: str, kind: str) -> None:
    if value is None:
        raise ValueError(f"receiver {receiver!r} uses {kind} but no capture server was given")


def _rewrite_http_receiver(
    cfg: dict[str, Any], key: str, receiver: str, http_base: str, writer: FileWriter
) -> None:
    url_key, file_key, slash = HTTP_RECEIVER_KINDS[key]
    url = capture_url(http_base, key.removesuffix("_configs"), receiver, slash)
    _neutralise_http_config(cfg)
    materialise_files(cfg, writer)
    if file_key and file_key in cfg:
        cfg.pop(url_key, None)
        cfg[file_key] = writer.write(url, file_key)
    else:
        cfg.pop(file_key or "", None)
        cfg[url_key] = url


def _neutralise_http_config(cfg: dict[str, Any]) -> None:
    http_config = cfg.get("http_config")
    if isinstance(http_config, dict):
        strip_transport(http_config)


def _rewrite_email(cfg: dict[str, Any], receiver: str, smtp: str, writer: FileWriter) -> None:
    cfg["smarthost"] = smtp
    cfg["require_tls"] = False
    cfg.pop("tls_config", None)
    headers = dict(cfg.get("headers") or {})
    headers[RECEIVER_HEADER] = receiver
    cfg["headers"] = headers
    materialise_files(cfg, writer)


def _apply_route_timing(route: dict[str, Any], timing: Mapping[str, str], is_root: bool) -> None:
    for key, value in timing.items():
        if is_root or key in route:
            route[key] = value
    for child in route.get("routes") or []:
        _apply_route_timing(child, timing, is_root=False)
