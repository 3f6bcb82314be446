from pathlib import Path

import pytest

pytest_plugins = ["tests.harness.fixtures"]


@pytest.fixture(autouse=True)
def _own_cache_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads amtool verdicts another run remembered (`monitorgen.tool_verdicts`)."""
    monkeypatch.setenv("MONITORGEN_CACHE_DIR", str(tmp_path / "monitorgen-cache"))
