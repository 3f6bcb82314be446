"""Specs that choose bundled layers, built into a folder."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from monitorgen import pipeline, writer
from monitorgen.model import Spec
from monitorgen.spec.loader import display_name
from tests.harness import require_binary

LAYER_DIR = Path(__file__).resolve().parents[2] / "monitorgen" / "layers"
#: The window Grafana's $__rate_interval stands for in the live queries: several scrapes
#: at the harness' 1s interval, few enough that data is there a few seconds after start.
LIVE_RATE_WINDOW = "10s"

SPEC = """\
version: 1
service: shop
layers: [{layers}]
metrics:
  - {{name: shop_orders_total, type: counter, help: Orders placed.}}
alerts:
  - name: NoOrders
    severity: warning
    summary: No orders
    expr: sum(rate(shop_orders_total[15m])) == 0
"""


def write_spec(folder: Path, layers: str = "infrastructure, business", extra: str = "") -> Path:
    path = folder / "shop.yaml"
    path.write_text(SPEC.format(layers=layers) + extra)
    return path


def compiled(path: Path) -> pipeline.Compiled:
    (result,) = pipeline.compile_spec(path)
    return result


def model(path: Path) -> Spec:
    result = compiled(path)
    assert result.spec is not None and result.ok, [str(d) for d in result.diagnostics]
    return result.spec


def build_into(path: Path, output: Path) -> Path:
    """Build the spec into `output` and return its own folder."""
    result = pipeline.build([path])
    assert not result.failed(), [str(d) for d in result.diagnostics]
    writer.write_tree(output, result.tree, prune=False)
    return output / path.stem


def layer_display(name: str) -> str:
    """How findings name a bundled layer file."""
    return display_name(LAYER_DIR / f"{name}.yaml")


def live_expr(expr: str) -> str:
    """A dashboard query as Grafana would send it, with every host selected."""
    expr = re.sub(r"\$__rate_interval\b", LIVE_RATE_WINDOW, expr)
    return expr.replace('=~"$instance"', '=~".*"')


def assert_promtool_tests_pass(built: Path) -> None:
    """`promtool test rules` passes the generated tests of a built spec folder."""
    tests = built / "prometheus" / "rules.test.yml"
    ran = subprocess.run(
        [require_binary("promtool"), "test", "rules", tests.name],
        cwd=tests.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
