"""The jobs Prometheus scrapes: unique names, targets to scrape, file_sd paths it accepts."""

from __future__ import annotations

from collections.abc import Iterator

from monitorgen.diagnostics import Diagnostic, Severity
from monitorgen.model import ScrapeJob, Spec
from monitorgen.semantic.names import duplicates

_GLOB = frozenset("*?[")


def check(spec: Spec) -> Iterator[Diagnostic]:
    jobs = spec.prometheus.jobs()
    yield from duplicates("scrape job", ((job.job, (*job.path, "job")) for job in jobs))
    for job in jobs:
        yield from _targets(job)
        yield from _glob_in_folder(job)
        yield from _ca_without_tls(job)


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
