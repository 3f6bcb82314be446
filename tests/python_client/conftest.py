"""Fixtures: the committed llm metrics module, and modules generated from test specs."""

from __future__ import annotations

import importlib.util
import itertools
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

from monitorgen import pipeline
from monitorgen.model import Spec
from monitorgen.targets import python_client

ROOT = Path(__file__).resolve().parents[2]
LLM_SPEC = ROOT / "specs" / "llm.yaml"
LLM_MODULE = ROOT / "generated" / "llm" / "python" / "llm_metrics.py"
SPECS = Path(__file__).with_name("specs")
SHOP_SPEC = SPECS / "shop.yaml"

_serial = itertools.count()


def load_module(path: Path) -> ModuleType:
    """Import a module file under a fresh name, so each load has its own state."""
    name = f"{path.stem}_{next(_serial)}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def compile_model(path: Path) -> Spec:
    compiled = pipeline.compile_spec(path)[0]
    assert compiled.spec is not None, [str(d) for d in compiled.diagnostics]
    return compiled.spec


def write_module(spec: Spec, folder: Path) -> Path:
    """Render a spec's metrics module into `folder` and return its path."""
    (artifact,) = python_client.render(spec)
    path = folder / Path(artifact.path).name
    path.write_bytes(artifact.content)
    return path


@pytest.fixture(scope="session")
def llm_spec() -> Spec:
    return compile_model(LLM_SPEC)


@pytest.fixture(scope="session")
def shop_spec() -> Spec:
    return compile_model(SHOP_SPEC)


@pytest.fixture(scope="session")
def llm_module() -> ModuleType:
    """The committed generated/llm/python/llm_metrics.py."""
    return load_module(LLM_MODULE)


@pytest.fixture(scope="session")
def shop_module_path(shop_spec: Spec, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_module(shop_spec, tmp_path_factory.mktemp("shop"))


@pytest.fixture(scope="session")
def shop_module(shop_module_path: Path) -> ModuleType:
    return load_module(shop_module_path)


@pytest.fixture
def fresh_module() -> Callable[[Path], ModuleType]:
    return load_module
