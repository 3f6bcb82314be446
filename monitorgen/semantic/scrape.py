"""The jobs Prometheus scrapes: unique names, targets and ports, the labels it sets
itself, file_sd paths it accepts."""

from __future__ import annotations

from collections.abc import Iterator

from monitorgen.diagnostics import Diagnostic, Severity
from monitorgen.model import Path, ScrapeJob, Spec
from monitorgen.semantic.names import duplicates

_GLOB = frozenset("*?[")


#: Labels Prometheus sets on every scraped series: a target's `labels` replacing them
#: would give two targets the same series, or move them out of their job.
_SET_BY_PROMETHEUS = frozenset({"job", "instance"})
_HIGHEST_PORT = 65535


def check(spec: Spec) -> Iterator[Diagnostic]:
    settings = spec.prometheus
    jobs = settings.jobs()
    yield from duplicates("scrape job", ((job.job, (*job.path, "job")) for job in jobs[1:]))
    yield from _named_like_the_service_job(jobs)
    for job in jobs:
        yield from _targets(job)
        yield from _labels(job)
        yield from _ports(job.targets, (*job.path, "targets"))
        yield from _glob_in_folder(job)
        yield from _ca_without_tls(job)
    yield from _ports(settings.alertmanagers, ("prometheus", "alertmanagers"))


def _named_like_the_service_job(jobs: tuple[ScrapeJob, ...]) -> Iterator[Diagnostic]:
    service = jobs[0]
    for job in jobs[1:]:
        if job.job == service.job:
            yield Diagnostic(
                "names/duplicate",
                f"duplicate scrape job '{job.job}': the service's own job has that name "
                "(`prometheus.job`, by default the service name)",
                path=(*job.path, "job"),
            )


def _targets(job: ScrapeJob) -> Iterator[Diagnostic]:
    if not job.targets and not job.target_files:
        yield Diagnostic(
            "scrape/no-targets",
            f"scrape job '{job.job}' lists no targets",
            path=job.path,
            hint="give `targets` (host:port addresses) or `target_files` (file_sd files)",
        )
    elif job.labels and not job.targets:
        yield Diagnostic(
            "scrape/labels-without-targets",
            "`labels` are given to the addresses in `targets`, and this job has none: "
            "a target file carries the labels of its own targets",
            path=(*job.path, "labels"),
        )


def _labels(job: ScrapeJob) -> Iterator[Diagnostic]:
    for name, _value in job.labels:
        if name in _SET_BY_PROMETHEUS or name.startswith("__"):
            yield Diagnostic(
                "scrape/reserved-label",
                f"label '{name}' is Prometheus' own: it sets `job` and `instance` on every "
                "series, and `__` labels are for relabelling",
                path=(*job.path, "labels", name),
            )


def _ports(addresses: tuple[str, ...], path: Path) -> Iterator[Diagnostic]:
    for index, address in enumerate(addresses):
        port = int(address.rpartition(":")[2])
        if not 0 < port <= _HIGHEST_PORT:
            yield Diagnostic(
                "scrape/port",
                f"'{address}' has port {port}: a port is 1 to {_HIGHEST_PORT}",
                path=(*path, index),
            )


def _glob_in_folder(job: ScrapeJob) -> Iterator[Diagnostic]:
    """Prometheus expands a glob only in a file's name, and refuses the config otherwise."""
    for index, file in enumerate(job.target_files):
        folder = file.rpartition("/")[0]
        if _GLOB & set(folder):
            yield Diagnostic(
                "scrape/glob-in-folder",
                f"'{file}' has a glob in a folder name: Prometheus accepts one only in "
                "the file name",
                path=(*job.path, "target_files", index),
            )


def _ca_without_tls(job: ScrapeJob) -> Iterator[Diagnostic]:
    if job.ca_file and job.scheme != "https":
        yield Diagnostic(
            "scrape/ca-without-https",
            f"`ca_file` verifies an https target, and job '{job.job}' scrapes over "
            f"{job.scheme}: the file is never read",
            path=(*job.path, "ca_file"),
            severity=Severity.WARNING,
            hint="set `scheme: https`",
        )
