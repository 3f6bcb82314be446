"""The data source every generated panel reads from: a dashboard variable, so one
dashboard serves any Prometheus. Plain values, read by the dashboard lint too."""

from __future__ import annotations

DATASOURCE_VARIABLE = "datasource"
DEFAULT_DATASOURCE_UID = "prometheus"
#: Every panel, target and query variable reads from the data source the variable picks.
DATASOURCE = {"type": "prometheus", "uid": f"${{{DATASOURCE_VARIABLE}}}"}
