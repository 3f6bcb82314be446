"""Grafana panel ids, shared by the dashboards and by the alerts that link to them.

One rule, so that a link never points at the wrong panel: ids count from 1 in
reading order, each row first and then the panels in it (row panels have ids too).
"""

from __future__ import annotations

from monitorgen.immutable import immutable
from monitorgen.model import Alert, Dashboard, Panel, Spec


@immutable
class PanelRef:
    """Where an alert is drawn: the dashboard, the panel and the panel's id."""

    dashboard: Dashboard
    panel: Panel
    panel_id: int


def row_ids(dashboard: Dashboard) -> tuple[int, ...]:
    """The id of each row panel, in row order."""
    ids = []
    next_id = 1
    for row in dashboard.rows:
        ids.append(next_id)
        next_id += 1 + len(row.panels)
    return tuple(ids)


def panel_ids(dashboard: Dashboard) -> tuple[tuple[int, ...], ...]:
    """The ids of the panels of each row: `panel_ids(d)[row][panel]`."""
    return tuple(
        tuple(range(row_id + 1, row_id + 1 + len(row.panels)))
        for row_id, row in zip(row_ids(dashboard), dashboard.rows, strict=True)
    )


def numbered_panels(dashboard: Dashboard) -> tuple[tuple[int, Panel], ...]:
    """Every (id, panel) of a dashboard in reading order, rows left out."""
    return tuple(
        (panel_id, panel)
        for ids, row in zip(panel_ids(dashboard), dashboard.rows, strict=True)
        for panel_id, panel in zip(ids, row.panels, strict=True)
    )


def alert_panel(spec: Spec, alert: Alert) -> PanelRef | None:
    """The panel that shows an alert: the one the alert names, else the first panel
    (dashboards in spec order) whose `alerts` lists it."""
    by_title, by_alert = spec.derived("alert_panels", lambda: _panel_index(spec))
    if alert.dashboard_uid is not None:
        return by_title.get((alert.dashboard_uid, alert.dashboard_panel or ""))
    return by_alert.get(alert.name)


def _panel_index(spec: Spec) -> tuple[dict[tuple[str, str], PanelRef], dict[str, PanelRef]]:
    """The first panel of each (dashboard uid, title) and of each alert it lists,
    numbered once per spec so that linking thousands of alerts stays linear."""
    by_title: dict[tuple[str, str], PanelRef] = {}
    by_alert: dict[str, PanelRef] = {}
    for dashboard in spec.dashboards:
        for panel_id, panel in numbered_panels(dashboard):
            ref = PanelRef(dashboard, panel, panel_id)
            by_title.setdefault((dashboard.uid, panel.title), ref)
            for name in panel.alerts:
                by_alert.setdefault(name, ref)
    return by_title, by_alert


def panel_url(grafana_url: str, dashboard_uid: str, panel_id: int) -> str:
    """A link that opens one panel of a dashboard on its own."""
    return f"{grafana_url.rstrip('/')}/d/{dashboard_uid}?viewPanel={panel_id}"
