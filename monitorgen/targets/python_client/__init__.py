"""The Python instrumentation module: `python/<spec>_metrics.py`.

One prometheus_client object per spec metric and one typed function per spec event;
the module imports only prometheus_client and the standard library. The shared runtime
(label checks, refusal counting, cost, trace log, servers) is `runtime.py.tmpl` and the
InfluxDB line-protocol sender is `influx.py.tmpl`, both copied in verbatim; `module.py`
writes the spec's own code around them.
"""

from __future__ import annotations

from monitorgen.model import Spec
from monitorgen.targets.base import Artifact
from monitorgen.targets.python_client.module import class_name, module_name, module_source

__all__ = ["class_name", "module_name", "module_path", "render"]


def module_path(spec: Spec) -> str:
    """The module's path in the spec's output folder."""
    return f"python/{module_name(spec)}.py"


def render(spec: Spec) -> list[Artifact]:
    if not spec.metrics:
        return []
    return [Artifact(module_path(spec), module_source(spec).encode())]
