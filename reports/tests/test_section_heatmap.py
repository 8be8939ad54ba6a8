"""heatmap: touches on a 12 x 8 grid; the grid holds every placed touch and nothing else."""

import pytest

from football.models import Event
from reports.sections import SECTIONS, SectionContext
from reports.sections.heatmap import HEATMAP_COLUMNS, HEATMAP_ROWS, grid_cell

from .fast_sections_data import build_record, event

pytestmark = [pytest.mark.django_db, pytest.mark.mysql]


def test_grid_cells_at_the_edges():
    assert grid_cell(0, 0) == (0, 0)
    assert grid_cell(100, 100) == (HEATMAP_ROWS - 1, HEATMAP_COLUMNS - 1)
    assert grid_cell(50, 12) == (0, 6)  # 12 * 8 // 100 = 0; 50 * 12 // 100 = 6
    assert grid_cell(90, 50) == (4, 10)


def test_grid_sums_to_the_touches(django_assert_max_num_queries):
    record = build_record()
    # A save attempt: a touch Wyscout puts at a corner of the pitch, so not on the grid.
    Event.objects.bulk_create(
        [
            event(
                record.away_win,
                record.away_win.away_team,
                record.player,
                type_id=9,
                subtype_id=90,
                x=100,
                y=100,
                tags="1801",
                second=100,
            )
        ]
    )
    # The player, his events, the shots of his matches (for the blocks on the defensive map).
    with django_assert_max_num_queries(3):
        result = SECTIONS["heatmap"].compute(SectionContext(player_id=record.player.id, data_version="t"))
    counts = result["counts"]
    assert len(counts) == HEATMAP_ROWS and {len(row) for row in counts} == {HEATMAP_COLUMNS}
    # Six shots, the clearance, two passes and the won duel in the home win, the header away:
    # 11 placed; the lost duel and the shoot-out kick are not touches.
    assert (result["touches"], result["placed"], result["unplaced"]) == (12, 11, 1)
    assert sum(map(sum, counts)) == result["placed"]
    assert sum(result["thirds"].values()) == result["placed"]
    assert sum(result["lanes"].values()) == result["placed"]
    # The clearance at (5, 50) in its own third and penalty area; the shots at x >= 75 attacking.
    assert counts[4][0] == 1
    assert result["thirds"] == {"defensive": 1, "middle": 3, "attacking": 7}
    assert result["penalty_area"] == 6  # every shot but the free kick from (75, 40)
