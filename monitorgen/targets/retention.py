"""Files for the retention tiers (`retention:`): flags of the local Prometheus
(`prometheus/prometheus.args`), flags of the Thanos compactor with `thanos: true`
(`thanos/compactor.args`), and the promtool unit tests of the hourly and daily
aggregates (`prometheus/retention.test.yml`). The aggregate rules themselves are in
rules.yml and the remote_write in prometheus.yml.

The flag files hold one flag per line after `#` comment lines, so a shell can splice
them into a command line: `grep -v '^#' FILE | xargs`.
"""

from __future__ import annotations

from monitorgen.model import Spec
from monitorgen.retention import prometheus_flags, thanos_compactor_flags
from monitorgen.retention_tests import retention_unit_tests
from monitorgen.targets.base import Artifact, commented_header, dump_yaml

PROMETHEUS_ARGS_PATH = "prometheus/prometheus.args"
THANOS_COMPACTOR_ARGS_PATH = "thanos/compactor.args"
RETENTION_TESTS_PATH = "prometheus/retention.test.yml"
#: The sed script (for a shell, run in this folder) that sets ARGS to this file's flags.
DEBIAN_ARGS_SED = '"s|^ARGS=.*|ARGS=\\"$(grep -v \'^#\' prometheus.args | xargs)\\"|"'

_PROMETHEUS_USAGE = (
    "Flags of the local Prometheus for the raw retention tier, one per line.",
    "Debian: make them the ARGS of /etc/default/prometheus, then restart prometheus:",
    f"  sudo sed -i {DEBIAN_ARGS_SED} /etc/default/prometheus",
)
_SIDECAR_NOTE = (
    "Equal min and max block durations turn local compaction off, as the Thanos sidecar",
    "needs to upload every 2h block.",
)
_THANOS_USAGE = (
    "Retention per resolution for the Thanos compactor, one flag per line:",
    "  thanos compact --wait --data-dir=... --objstore.config-file=... \\",
    "    $(grep -v '^#' compactor.args | xargs)",
    "0d keeps a resolution forever. Thanos expires whole resolutions, not series, so",
    "the 1h resolution serves both the daily and the monthly tier.",
)


def render(spec: Spec) -> list[Artifact]:
    retention = spec.retention
    if retention is None:
        return []
    notes = _PROMETHEUS_USAGE + (_SIDECAR_NOTE if retention.thanos else ())
    artifacts = [_args_file(spec, PROMETHEUS_ARGS_PATH, notes, prometheus_flags(spec))]
    if retention.thanos:
        artifacts.append(
            _args_file(
                spec, THANOS_COMPACTOR_ARGS_PATH, _THANOS_USAGE, thanos_compactor_flags(spec)
            )
        )
    tests = _unit_tests(spec)
    return [*artifacts, tests] if tests else artifacts


def _unit_tests(spec: Spec) -> Artifact | None:
    tests, skipped = retention_unit_tests(spec)
    if tests is None:
        return None
    notes = "".join(f"# Not tested here: {line}\n" for line in skipped)
    content = commented_header(spec) + notes + dump_yaml(tests)
    return Artifact(RETENTION_TESTS_PATH, content.encode())


def _args_file(spec: Spec, path: str, notes: tuple[str, ...], flags: tuple[str, ...]) -> Artifact:
    text = commented_header(spec) + "".join(f"# {line}\n" for line in notes)
    return Artifact(path, (text + "".join(f"{flag}\n" for flag in flags)).encode())
