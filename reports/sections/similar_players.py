"""The ten players whose per-90 profile is closest to the player's, in his main competition and season.

The main competition-season is the one where he played most minutes. The
candidates are the players of the same role with enough minutes there (the
percentiles pool). Each per-90 figure is standardised (z-score) over that
pool, so that passes (dozens a match) do not drown goals (a fraction), and
players are compared by the cosine similarity of their z-score vectors: +1 is
the same style of player, 0 unrelated, -1 the opposite.

Each similar player lists the three figures that contribute most to the
similarity (`alike`: the largest products of the two z-scores, traits both
have far from the pool's mean) and the one where they differ most
(`differs`: the largest gap in z-score), with both players' per-90 values.
"""

from dataclasses import dataclass

import numpy as np

from football.models import Player
from tasks.queues import SLOW_QUEUE

from .base import Section, SectionContext
from .percentiles import PER90_FIGURES, SeasonLine, load_player_seasons

SIMILAR_PLAYERS_COUNT = 10


def cosine_similarities(target: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """Cosine similarity of `target` with each row of `candidates`; 0 where a vector is all zeros."""
    norms = np.linalg.norm(candidates, axis=1) * np.linalg.norm(target)
    dots = candidates @ target
    return np.divide(dots, norms, out=np.zeros_like(dots), where=norms > 0)


def standardise(vectors: np.ndarray) -> np.ndarray:
    """Z-scores per column; a column with no spread carries no information and becomes 0."""
    mean = vectors.mean(axis=0)
    std = vectors.std(axis=0)
    return np.divide(vectors - mean, std, out=np.zeros_like(vectors), where=std > 0)


# How many figures explain a similarity: the closest ones, then the one furthest apart.
EXPLAINED_FIGURES = 3


@dataclass(frozen=True)
class Similar:
    line: SeasonLine
    score: float
    # Figure names: the EXPLAINED_FIGURES closest in z-score (shared and distinctive), and the furthest.
    alike: list[str]
    differs: str


def explain(target_z: np.ndarray, other_z: np.ndarray, names: list[str]) -> tuple[list[str], str]:
    """What makes two standardised profiles similar and where they differ most.

    Alike: the figures that contribute most to the cosine similarity (the
    product of the two z-scores: large when both are far from the pool's mean on
    the same side, i.e. a trait they share); differs: the largest gap in z-score.
    """
    contribution = target_z * other_z
    order = sorted(range(len(names)), key=lambda i: (-contribution[i], names[i]))
    gap = np.abs(target_z - other_z)
    furthest = max(range(len(names)), key=lambda i: (gap[i], names[i]))
    return [names[i] for i in order[:EXPLAINED_FIGURES]], names[furthest]


def rank_similar(
    target: SeasonLine, pool: list[SeasonLine], count: int = SIMILAR_PLAYERS_COUNT
) -> list[Similar]:
    """The `count` pool players most similar to `target` (never the target himself), best first."""
    own = target.per90()
    profiles = [
        (line, per90)
        for line in pool
        if line.player_id != target.player_id and (per90 := line.per90()) is not None
    ]
    if not profiles or own is None:
        return []
    candidates = [line for line, _ in profiles]
    names = list(PER90_FIGURES)
    # The target is standardised with the pool; he is part of it when he has the minutes.
    vectors = np.array([[own[n] for n in names]] + [[per90[n] for n in names] for _, per90 in profiles])
    z = standardise(vectors)
    scores = [float(score) for score in cosine_similarities(z[0], z[1:])]
    # Rounded so that equal profiles (equal up to float noise) tie and the lower id goes first.
    order = sorted(range(len(candidates)), key=lambda i: (-round(scores[i], 9), candidates[i].player_id))
    similar = []
    for i in order[:count]:
        alike, differs = explain(z[0], z[i + 1], names)
        similar.append(Similar(candidates[i], scores[i], alike, differs))
    return similar


def compute(context: SectionContext) -> dict:
    seasons = load_player_seasons(context.player_id)
    base = {"role": seasons.player.role, "features": list(PER90_FIGURES), "players": []}
    played = [(line, described) for line, described in seasons.lines if line.minutes > 0]
    if not played:
        return {**base, "competition": None, "reason": "the player has no minutes in the data"}
    line, described = max(played, key=lambda item: (item[0].minutes, item[1]["season_id"]))
    pool = seasons.pool[(line.competition_id, line.season_id)]
    similar = rank_similar(line, pool)
    names = _player_names([other.line.player_id for other in similar])
    own = line.per90() or {}
    return {
        **base,
        "competition": {**described, "minutes": line.minutes, "team": line.main_team},
        "pool_size": len([p for p in pool if p.player_id != line.player_id]),
        "players": [
            {
                "id": other.line.player_id,
                **names.get(other.line.player_id, {"name": None, "short_name": None}),
                "team": other.line.main_team,
                "minutes": other.line.minutes,
                "similarity": round(other.score, 4),
                "alike": [_compared(name, own, other.line) for name in other.alike],
                "differs": _compared(other.differs, own, other.line),
            }
            for other in similar
        ],
    }


def _compared(name: str, own: dict[str, float], other: SeasonLine) -> dict:
    """One figure per 90 of the player and of the similar player, side by side."""
    theirs = other.per90() or {}
    return {
        "figure": name,
        "player_per90": round(own[name], 3) if name in own else None,
        "other_per90": round(theirs[name], 3) if name in theirs else None,
    }


def _player_names(player_ids: list[int]) -> dict[int, dict]:
    return {
        row["id"]: {"name": row["name"], "short_name": row["short_name"]}
        for row in Player.objects.filter(pk__in=player_ids).values("id", "name", "short_name")
    }


SECTION = Section(
    name="similar_players",
    queue=SLOW_QUEUE,
    # 2: the new per-90 figures in the profile; each player's alike/differs explanation.
    version=2,
    compute=compute,
    uses=("agg",),
    description=(
        "the ten most similar players by standardised per-90 profile, with a cosine similarity, the three "
        "figures that make each alike and the one that differs most"
    ),
)
