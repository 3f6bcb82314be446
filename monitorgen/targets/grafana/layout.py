"""Place panels on Grafana's 24-column grid, row by row, in spec order.

Panels without a width share their line: each gets at least the width its type
needs to be readable, and the rest of the line is split in proportion. A panel
that does not fit wraps onto a new line. A collapsed row keeps its panels' places
for when it is opened, but takes only its header's height on the page.
"""

from __future__ import annotations

from monitorgen.immutable import immutable
from monitorgen.model import Dashboard, Panel, PanelType, Row

GRID_WIDTH = 24
ROW_HEIGHT = 1
DEFAULT_HEIGHT = 8
#: The narrowest a panel of each type is laid out when the spec gives no width.
MIN_WIDTH = {
    PanelType.TIMESERIES: 8,
    PanelType.HEATMAP: 8,
    PanelType.TABLE: 12,
    PanelType.BARGAUGE: 6,
    PanelType.GAUGE: 4,
    PanelType.STAT: 4,
}


@immutable
class Box:
    """A grid position: Grafana's `gridPos`."""

    x: int
    y: int
    w: int
    h: int

    def to_json(self) -> dict[str, int]:
        return {"h": self.h, "w": self.w, "x": self.x, "y": self.y}


@immutable
class RowLayout:
    row: Box
    panels: tuple[Box, ...]


def layout(dashboard: Dashboard) -> tuple[RowLayout, ...]:
    """The position of every row header and panel, rows in order."""
    result = []
    y = 0
    for row in dashboard.rows:
        header = Box(0, y, GRID_WIDTH, ROW_HEIGHT)
        boxes, bottom = _row_panels(row, y + ROW_HEIGHT)
        result.append(RowLayout(header, boxes))
        y = y + ROW_HEIGHT if row.collapsed else bottom
    return tuple(result)


def _row_panels(row: Row, top: int) -> tuple[tuple[Box, ...], int]:
    boxes: list[Box] = []
    y = top
    for line in _lines(row.panels):
        widths = _widths(line)
        height = _line_height(line)
        x = 0
        for panel, width in zip(line, widths, strict=True):
            boxes.append(Box(x, y, width, panel.height or height))
            x += width
        y += height
    return tuple(boxes), y


def _needed_width(panel: Panel) -> int:
    return panel.width or MIN_WIDTH[panel.type]


def _lines(panels: tuple[Panel, ...]) -> list[list[Panel]]:
    """Split a row's panels into lines that fit the grid, keeping their order."""
    lines: list[list[Panel]] = []
    current: list[Panel] = []
    used = 0
    for panel in panels:
        need = _needed_width(panel)
        if current and used + need > GRID_WIDTH:
            lines.append(current)
            current, used = [], 0
        current.append(panel)
        used += need
    if current:
        lines.append(current)
    return lines


def _widths(line: list[Panel]) -> list[int]:
    """Explicit widths as given; the free columns go to the other panels in proportion
    to their minimum width (largest remainder, ties to the leftmost panel)."""
    mins = [_needed_width(p) for p in line]
    auto = [i for i, p in enumerate(line) if p.width is None]
    free = GRID_WIDTH - sum(mins)
    if not auto or free <= 0:
        return mins
    weight = sum(mins[i] for i in auto)
    shares = {i: free * mins[i] // weight for i in auto}
    left = free - sum(shares.values())
    by_remainder = sorted(auto, key=lambda i: (-(free * mins[i] % weight), i))
    for i in by_remainder[:left]:
        shares[i] += 1
    return [mins[i] + shares.get(i, 0) for i in range(len(line))]


def _line_height(line: list[Panel]) -> int:
    return max(p.height or DEFAULT_HEIGHT for p in line)
