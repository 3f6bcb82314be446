"""Placeholder until this target is built: renders nothing."""

from __future__ import annotations

from monitorgen.model import Spec
from monitorgen.targets.base import Artifact


def render(spec: Spec) -> list[Artifact]:
    return []
