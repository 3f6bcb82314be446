"""Bundled spec layers, chosen with `layers: [infrastructure, business]`.

A layer is a spec fragment shipped with monitorgen. The loader merges the
chosen layers before the spec's own includes, the same way as an include, so a
finding about a layer's alert points into the bundled file.
"""

from __future__ import annotations

from pathlib import Path

LAYER_DIR = Path(__file__).resolve().parent


def available_layers() -> tuple[str, ...]:
    """Names of the bundled layers, sorted."""
    return tuple(sorted(path.stem for path in LAYER_DIR.glob("*.yaml")))


def layer_file(name: str) -> Path | None:
    """The bundled file of layer `name`, or None when there is no such layer."""
    return LAYER_DIR / f"{name}.yaml" if name in available_layers() else None
