"""The hot-path benchmark runs (tiny and untimed here) and prints both timings and the ratio."""

from __future__ import annotations

import re
import subprocess
import sys

from .conftest import ROOT


def test_the_benchmark_prints_both_timings_and_the_ratio() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "hot_path.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert re.search(r"design document MetricsCollector\.record_llm_call\s+[\d.]+ us/call", out)
    assert re.search(r"generated LlmMetrics\.record_llm_call\s+[\d.]+ us/call\s+ratio [\d.]+", out)
    assert re.search(
        r"ratio generated / hand-written: [\d.]+ \(target <= 0\.5: (met|NOT met)\)", out
    )
