"""The similar_players section: cosine similarity of z-scored per-90 profiles."""

import pytest

from football.models import Competition
from football.tests.factories import CompetitionFactory, PlayerFactory, SeasonFactory, TeamFactory
from reports.sections import SectionContext, SectionError
from reports.sections.percentiles import PER90_FIGURES, SeasonLine
from reports.sections.similar_players import SECTION, rank_similar

from .test_section_percentiles import aggregate


def line(player_id, goals, passes, minutes=90):
    season_line = SeasonLine(player_id, 1, 1, "MD", minutes=minutes)
    season_line.totals = {name: 0.0 for name in PER90_FIGURES}
    season_line.totals.update(goals=goals, passes=passes)
    return season_line


def test_ordering_on_hand_made_vectors():
    """Per 90 (goals, passes): target (2, 20); pool: clone (2, 20), nothing (0, 0), (2, 0), (0, 20).

    Means 1.2 and 12, spreads 0.98 and 9.8: the target's z-vector is (+, +) at
    0.816 each; the clone's is the same (similarity 1), (0, 0) the opposite
    (-1), and (2, 0) and (0, 20) are (0.816, -1.225) and (-1.225, 0.816):
    cosine (0.816 * 0.816 - 0.816 * 1.225) / (1.155 * 1.472) = -0.196.
    """
    target = line(1, 2, 20)
    clone = line(5, 4, 40, minutes=180)  # the same per 90 over twice the minutes
    nothing, shooter, passer = line(2, 0, 0), line(3, 2, 0), line(4, 0, 20)
    ranked = rank_similar(target, [target, nothing, shooter, passer, clone])
    assert [(other.line.player_id, round(other.score, 4)) for other in ranked] == [
        (5, 1.0),
        (3, -0.1961),
        (4, -0.1961),
        (2, -1.0),
    ]
    assert [
        other.line.player_id for other in rank_similar(target, [nothing, shooter, passer, clone], count=2)
    ] == [
        5,
        3,
    ]


def test_each_similar_player_is_explained():
    """The shooter (2, 0) shares the target's goals (z 0.816 each: product 0.667, the largest) and
    differs most in passes (z 0.816 against -1.225); every other figure has no spread (z 0)."""
    target = line(1, 2, 20)
    shooter = line(3, 2, 0)
    (explained,) = [
        s for s in rank_similar(target, [line(2, 0, 0), shooter, line(4, 0, 20)]) if s.line is shooter
    ]
    assert explained.alike[0] == "goals"
    assert len(explained.alike) == 3
    assert explained.differs == "passes"


def test_no_candidates():
    assert rank_similar(line(1, 2, 20), [line(1, 2, 20)]) == []


@pytest.mark.django_db
@pytest.mark.mysql
def test_section_uses_the_main_competition_season(django_assert_num_queries):
    league = SeasonFactory(competition=CompetitionFactory(kind=Competition.Kind.LEAGUE))
    cup = SeasonFactory(competition=CompetitionFactory(kind=Competition.Kind.TOURNAMENT), name="2018")
    teams = [TeamFactory() for _ in range(3)]
    target = PlayerFactory(role="FW")
    aggregate(target, league, teams[0], minutes=2700, goals=15, shots=90, passes=600, key_passes=30)
    aggregate(target, cup, teams[0], minutes=450, goals=2, shots=10, passes=100)
    twin = PlayerFactory(role="FW")
    aggregate(twin, league, teams[1], minutes=1350, goals=7, shots=45, passes=300, key_passes=15)
    aggregate(twin, league, teams[2], minutes=1350, goals=8, shots=45, passes=300, key_passes=15)
    others = [PlayerFactory(role="FW") for _ in range(12)]
    for i, other in enumerate(others):
        aggregate(
            other, league, teams[i % 3], minutes=1000 + 100 * i, goals=i, shots=3 * i + 5, passes=900 - 40 * i
        )
    # Not candidates: too few minutes, another role.
    aggregate(PlayerFactory(role="FW"), league, teams[0], minutes=500, goals=5, shots=30, passes=100)
    aggregate(PlayerFactory(role="DF"), league, teams[0], minutes=2700, goals=15, shots=90, passes=600)

    with django_assert_num_queries(4):
        result = SECTION.compute(SectionContext(player_id=target.id, data_version="test"))
    assert result["competition"]["competition_id"] == league.competition_id
    assert result["competition"]["minutes"] == 2700
    assert result["pool_size"] == 13
    players = result["players"]
    assert len(players) == 10
    assert target.id not in {p["id"] for p in players}
    assert players[0]["id"] == twin.id
    assert players[0]["similarity"] == pytest.approx(1.0)
    assert players[0]["name"] == twin.name
    assert players[0]["minutes"] == 2700
    # Equal minutes for both clubs: the lower id is the main team.
    assert players[0]["team"] == {"id": teams[1].id, "name": teams[1].name}
    assert [len(p["alike"]) for p in players] == [3] * 10
    # The twin has the same per-90 values: each figure compared side by side is equal.
    for figure in players[0]["alike"]:
        assert figure["player_per90"] == pytest.approx(figure["other_per90"])
    last = players[-1]["differs"]
    assert last["figure"] in PER90_FIGURES and last["player_per90"] != last["other_per90"]
    scores = [p["similarity"] for p in players]
    assert scores == sorted(scores, reverse=True)
    assert all(-1.0 <= s <= 1.0 for s in scores)


@pytest.mark.django_db
@pytest.mark.mysql
def test_missing_input():
    with pytest.raises(SectionError, match="not in the football database"):
        SECTION.compute(SectionContext(player_id=987654321, data_version="test"))
    with pytest.raises(SectionError, match="aggregates not computed yet"):
        SECTION.compute(SectionContext(player_id=PlayerFactory().id, data_version="test"))
