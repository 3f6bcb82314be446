"""Alertmanager config: `alertmanager/alertmanager.yml` (routes, receivers, inhibition)."""

from __future__ import annotations

from typing import Any

from monitorgen.model import Receiver, Route, Spec
from monitorgen.targets.base import Artifact, yaml_artifact

CONFIG_PATH = "alertmanager/alertmanager.yml"


def render(spec: Spec) -> list[Artifact]:
    if spec.routing is None:
        return []
    return [yaml_artifact(spec, CONFIG_PATH, config(spec))]


def config(spec: Spec) -> dict[str, Any]:
    assert spec.routing is not None
    data: dict[str, Any] = {"route": _route(spec.routing.root)}
    data["receivers"] = [_receiver(r) for r in spec.receivers]
    return data


def _route(route: Route) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if route.receiver:
        data["receiver"] = route.receiver
    if route.matchers:
        data["matchers"] = [str(m) for m in route.matchers]
    if route.group_by is not None:
        data["group_by"] = list(route.group_by)
    for key in ("group_wait", "group_interval", "repeat_interval"):
        value = getattr(route, key)
        if value:
            data[key] = value
    if route.continue_:
        data["continue"] = True
    if route.routes:
        data["routes"] = [_route(child) for child in route.routes]
    return data


def _receiver(receiver: Receiver) -> dict[str, Any]:
    data: dict[str, Any] = {"name": receiver.name}
    if receiver.email:
        data["email_configs"] = [
            {
                k: v
                for k, v in {
                    "to": e.to,
                    "from": e.from_,
                    "smarthost": e.smarthost,
                    "auth_username": e.auth_username,
                    "auth_password_file": e.auth_password_file,
                }.items()
                if v
            }
            for e in receiver.email
        ]
    if receiver.slack:
        data["slack_configs"] = [
            {
                k: v
                for k, v in {
                    "api_url_file": s.api_url_file,
                    "channel": s.channel,
                    "title": s.title,
                }.items()
                if v
            }
            for s in receiver.slack
        ]
    return data
