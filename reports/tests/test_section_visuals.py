"""visuals: four real PNG pictures stored through save_file; the partial holds their keys only."""

import struct

import pytest

from football.tests.factories import PlayerFactory
from reports.sections import SECTIONS, SectionContext, SectionError

from .fast_sections_data import build_record, store_known_xg

pytestmark = [pytest.mark.django_db, pytest.mark.mysql]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png_size(content: bytes) -> tuple[int, int]:
    assert content[:8] == PNG_SIGNATURE
    assert content[12:16] == b"IHDR"
    return struct.unpack(">II", content[16:24])


def test_renders_four_pngs_through_save_file():
    record = build_record()
    store_known_xg()
    shot_map = SECTIONS["shot_map"].compute(SectionContext(player_id=record.player.id, data_version="t"))
    saved: dict[str, tuple[bytes, str]] = {}

    def save_file(filename: str, content: bytes, content_type: str) -> str:
        saved[filename] = (content, content_type)
        return f"reports/files/abc/{filename}"

    result = SECTIONS["visuals"].compute(
        SectionContext(player_id=record.player.id, data_version="t", upstream=shot_map, save_file=save_file)
    )
    assert result["images"] == {
        "shot_map": "reports/files/abc/shot_map.png",
        "heatmap": "reports/files/abc/heatmap.png",
        "pass_map": "reports/files/abc/pass_map.png",
        "defensive_actions": "reports/files/abc/defensive_actions.png",
    }
    assert set(saved) == {"shot_map.png", "heatmap.png", "pass_map.png", "defensive_actions.png"}
    for content, content_type in saved.values():
        assert content_type == "image/png"
        width, height = _png_size(content)
        assert (width, height) == (800, 560)  # VISUALS_FIGSIZE at VISUALS_DPI
    # The defensive actions drawn are those the heatmap section maps.
    heatmap = SECTIONS["heatmap"].compute(SectionContext(player_id=record.player.id, data_version="t"))
    assert result["counts"] == {
        "shots": 7,
        "touches": 11,
        "passes": 2,
        "defensive_actions": heatmap["defensive_actions"]["total"],
    }


def test_a_player_without_events_still_gets_empty_pitches():
    quiet = PlayerFactory()
    keys = []
    result = SECTIONS["visuals"].compute(
        SectionContext(
            player_id=quiet.id,
            data_version="t",
            upstream={"shots": []},
            save_file=lambda name, content, kind: keys.append(content[:8]) or name,
        )
    )
    assert keys == [PNG_SIGNATURE] * 4
    assert result["counts"] == {"shots": 0, "touches": 0, "passes": 0, "defensive_actions": 0}


def test_needs_the_shot_map_upstream():
    record = build_record()
    with pytest.raises(SectionError, match="shot_map"):
        SECTIONS["visuals"].compute(SectionContext(player_id=record.player.id, data_version="t"))
