"""The drift benchmark: the edited synthetic spec changes files, and both diffs of them
are printed side by side (not timed)."""

from __future__ import annotations

import pytest

from benchmarks.drift import EDITED_WORD, changed_files, difflib_diff, main, monitorgen_diff
from benchmarks.synthetic import generate


def test_the_edit_changes_the_rules_the_tests_and_the_dashboards() -> None:
    changed = changed_files(generate(10))
    paths = {path for path, _, _ in changed}
    assert {"prometheus/rules.yml", "prometheus/rules.test.yml"} <= paths
    assert any(path.startswith("grafana/") for path in paths)
    for _, old, new in changed:
        assert old != new
        assert EDITED_WORD[1].encode() in new
    assert monitorgen_diff(changed) > 0 and difflib_diff(changed) > 0


def test_the_report_prints_a_ratio_where_difflib_ran(capsys: pytest.CaptureFixture[str]) -> None:
    main(["--sizes", "10", "--repeat", "1", "--difflib-up-to", "10"])
    main(["--sizes", "10", "--repeat", "1", "--difflib-up-to", "0"])
    rows = [
        line.split() for line in capsys.readouterr().out.splitlines() if line[:6].strip() == "10"
    ]
    assert len(rows) == 2
    assert rows[0][-1].endswith("x") and float(rows[0][-1][:-1]) > 0
    assert rows[1][-1] == "run)"
