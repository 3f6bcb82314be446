"""Panels laid out on the 24-column grid from the spec's rows."""

from __future__ import annotations

from monitorgen.model import Dashboard, Panel, PanelQuery, PanelType, Row
from monitorgen.targets.grafana.layout import DEFAULT_HEIGHT, GRID_WIDTH, Box, layout

QUERY = (PanelQuery("up"),)


def panel(kind: PanelType = PanelType.TIMESERIES, **kw: int) -> Panel:
    return Panel(f"p{kw}", kind, QUERY, **kw)  # type: ignore[arg-type]


def board(*rows: Row) -> Dashboard:
    return Dashboard("d", "D", rows)


def test_panels_without_sizes_share_the_row() -> None:
    (row,) = layout(board(Row("r", (panel(), panel(), panel()))))
    assert row.row == Box(0, 0, GRID_WIDTH, 1)
    assert row.panels == (
        Box(0, 1, 8, DEFAULT_HEIGHT),
        Box(8, 1, 8, DEFAULT_HEIGHT),
        Box(16, 1, 8, DEFAULT_HEIGHT),
    )


def test_free_columns_are_shared_in_proportion_to_each_types_minimum() -> None:
    (row,) = layout(board(Row("r", (panel(), panel(PanelType.STAT)))))
    assert [b.w for b in row.panels] == [16, 8]


def test_explicit_widths_and_heights_are_kept() -> None:
    (row,) = layout(board(Row("r", (panel(width=10, height=12), panel()))))
    assert row.panels[0] == Box(0, 1, 10, 12)
    assert row.panels[1] == Box(10, 1, 14, 12), "the line is as tall as its tallest panel"


def test_panels_that_do_not_fit_wrap_onto_a_new_line() -> None:
    panels = tuple(panel() for _ in range(4))
    (row,) = layout(board(Row("r", panels)))
    assert [(b.x, b.y, b.w) for b in row.panels] == [(0, 1, 8), (8, 1, 8), (16, 1, 8), (0, 9, 24)]


def test_rows_follow_each_other_and_a_collapsed_row_takes_one_line() -> None:
    rows = layout(
        board(
            Row("a", (panel(),)),
            Row("b", (panel(height=5),), collapsed=True),
            Row("c", (panel(),)),
        )
    )
    assert [r.row.y for r in rows] == [0, 9, 10]
    assert rows[1].panels == (Box(0, 10, 24, 5),), "kept for when the row is opened"
    assert rows[2].panels[0].y == 11


def test_no_panel_leaves_the_grid_or_overlaps_another() -> None:
    widths = [None, 10, None, 24, None, 6, 6, None]
    kinds = list(PanelType) * 2
    panels = tuple(Panel(f"p{i}", kinds[i], QUERY, width=w) for i, w in enumerate(widths))
    (row,) = layout(board(Row("r", panels)))
    cells: set[tuple[int, int]] = set()
    for box in row.panels:
        assert box.x >= 0 and box.x + box.w <= GRID_WIDTH
        mine = {(x, y) for x in range(box.x, box.x + box.w) for y in range(box.y, box.y + box.h)}
        assert not cells & mine
        cells |= mine
