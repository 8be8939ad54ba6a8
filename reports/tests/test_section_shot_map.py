"""shot_map on a hand-made record: every shot with its outcome, body part, situation and xG."""

import pytest

from reports.sections import SECTIONS, SectionContext

from .fast_sections_data import OPEN_PLAY_XG, PENALTY_XG, build_record, store_known_xg

pytestmark = [pytest.mark.django_db, pytest.mark.mysql]


def test_every_shot_with_outcome_body_part_and_situation(django_assert_max_num_queries):
    record = build_record()
    store_known_xg()
    with django_assert_max_num_queries(4):
        result = SECTIONS["shot_map"].compute(SectionContext(player_id=record.player.id, data_version="t"))
    shots = result["shots"]
    # In match order, then minute: the shoot-out kick is not there.
    got = [(s["minute"], s["outcome"], s["body_part"], s["situation"], s["goal"], s["xg"]) for s in shots]
    assert got == [
        (11, "goal", "right foot", "open play", True, OPEN_PLAY_XG),
        (16, "off target", "left foot", "direct free kick", False, OPEN_PLAY_XG),
        (17, "blocked", "right foot", "open play", False, OPEN_PLAY_XG),
        (19, "post", "head or body", "open play", False, OPEN_PLAY_XG),
        (21, "saved", "left foot", "counter attack", False, OPEN_PLAY_XG),
        (51, "goal", None, "penalty", True, PENALTY_XG),
        (66, "goal", "head or body", "open play", True, OPEN_PLAY_XG),
    ]
    first = shots[0]
    assert (first["x"], first["y"], first["match_id"], first["opponent"]) == (
        90,
        50,
        record.home_win.id,
        "Rival FC",
    )
    assert first["goal_mouth"] == "centre" and first["in_penalty_area"] is True
    totals = result["totals"]
    assert (totals["shots"], totals["goals"], totals["on_target"]) == (7, 3, 4)
    assert totals["xg"] == round(6 * OPEN_PLAY_XG + PENALTY_XG, 3)
    assert totals["npxg"] == round(6 * OPEN_PLAY_XG, 3)
    assert totals["by_outcome"] == {"goal": 3, "saved": 1, "post": 1, "blocked": 1, "off target": 1}
