"""Two to four players of one report side by side: the same figures in columns, read from the report's data.

Nothing is computed again: every figure is read from the report's merged
data (the partials the sections wrote), as the report page shows them.
"""

from typing import Any

from reports.exceptions import ApplicationError
from reports.models import Report

from .pizza import MISSING, PIZZA_FIGURES, main_competition, peer_pool_text

COMPARE_MIN_PLAYERS = 2
COMPARE_MAX_PLAYERS = 4
# Per-90 figures of season_stats, shown in this order.
PER90_ROWS = (
    ("goals", "Goals"),
    ("non_penalty_goals", "Non-penalty goals"),
    ("assists", "Assists"),
    ("shots", "Shots"),
    ("shots_on_target", "Shots on target"),
    ("xg", "xG"),
    ("npxg", "npxG"),
    ("key_passes", "Key passes"),
    ("passes", "Passes"),
    ("passes_accurate", "Accurate passes"),
    ("duels_won", "Duels won"),
)


def parse_players(value: str | None, *, report: Report) -> list[int]:
    """The `players` query parameter: 2 to 4 distinct ids of players in the report, comma-separated."""
    if not value or not value.strip():
        raise ApplicationError(
            "players: give 2 to 4 player ids of this report, comma-separated, e.g. ?players=3359,25413.",
            field="players",
        )
    parts = [part.strip() for part in value.split(",") if part.strip()]
    bad = [part for part in parts if not (part.isascii() and part.isdecimal())]  # not "²"
    if bad:
        raise ApplicationError(f"players: not player ids: {', '.join(bad)}.", field="players")
    ids = [int(part) for part in parts]
    repeated = sorted({pid for pid in ids if ids.count(pid) > 1})
    if repeated:
        raise ApplicationError(f"players: repeated: {', '.join(map(str, repeated))}.", field="players")
    if not COMPARE_MIN_PLAYERS <= len(ids) <= COMPARE_MAX_PLAYERS:
        raise ApplicationError(
            f"players: compare {COMPARE_MIN_PLAYERS} to {COMPARE_MAX_PLAYERS} players, not {len(ids)}.",
            field="players",
        )
    outside = [pid for pid in ids if pid not in report.player_ids]
    if outside:
        raise ApplicationError(
            f"players: not in this report: {', '.join(map(str, outside))}.", field="players"
        )
    return ids


def _number(value: Any, digits: int = 2) -> str:
    if value is None:
        return MISSING
    if isinstance(value, int) or float(value).is_integer():
        return str(int(value))
    return f"{value:.{digits}f}"


def _main_season(season_stats: dict | None) -> dict | None:
    rows = (season_stats or {}).get("competitions") or []
    return max(rows, key=lambda row: row.get("minutes") or 0) if rows else None


def _main_xt(expected_threat: dict | None) -> dict | None:
    rows = (expected_threat or {}).get("competitions") or []
    return max(rows, key=lambda row: row.get("minutes") or 0) if rows else None


def comparison(*, document: dict, player_ids: list[int]) -> dict:
    """Columns (one per player) and rows of figures, each row a label and one cell per player.

    A cell is {"text", "value"}; `value` is the number the row's best is picked by (None: not compared).
    """
    columns: list[dict[str, Any]] = []
    for pid in player_ids:
        sections = document["players"].get(str(pid), {})
        profile = sections.get("profile") or {}
        columns.append(
            {
                "id": pid,
                "name": profile.get("name") or f"Player {pid}",
                "profile": profile,
                "season": _main_season(sections.get("season_stats")),
                "percentiles": main_competition(sections.get("percentiles") or {}),
                "xt": _main_xt(sections.get("expected_threat")),
                "has_pizza": bool(sections.get("percentiles")),
            }
        )

    groups: list[dict] = []

    def group(title: str, rows: list[tuple[str, list[tuple[str, float | None]]]]) -> None:
        shaped = []
        for label, cells in rows:
            numbers = [value for _, value in cells if value is not None]
            best = max(numbers) if len(numbers) > 1 and len(set(numbers)) > 1 else None
            shaped.append(
                {
                    "label": label,
                    "cells": [
                        {"text": text, "best": value is not None and value == best} for text, value in cells
                    ],
                }
            )
        groups.append({"title": title, "rows": shaped})

    def profile_cell(column: dict, key: str, unit: str = "") -> tuple[str, None]:
        value = column["profile"].get(key)
        return (f"{value}{unit}" if value not in (None, "") else MISSING, None)

    group(
        "Profile",
        [
            ("Role", [profile_cell(c, "role") for c in columns]),
            ("Age at season end", [profile_cell(c, "age_at_season_end") for c in columns]),
            ("Nationality", [profile_cell(c, "nationality") for c in columns]),
            ("Height", [profile_cell(c, "height_cm", " cm") for c in columns]),
            ("Foot", [profile_cell(c, "foot") for c in columns]),
        ],
    )

    def season_cell(column: dict, key: str) -> tuple[str, float | None]:
        season = column["season"]
        if season is None:
            return (MISSING, None)
        return (_number(season.get(key)), season.get(key))

    group(
        "Season (the competition with most minutes)",
        [
            (
                "Competition",
                [
                    (f"{c['season']['competition']} {c['season']['season']} ({c['season']['team']})", None)
                    if c["season"]
                    else (MISSING, None)
                    for c in columns
                ],
            ),
            *[
                (label, [season_cell(c, key) for c in columns])
                for key, label in (
                    ("appearances", "Appearances"),
                    ("starts", "Starts"),
                    ("minutes", "Minutes"),
                    ("goals", "Goals"),
                    ("assists", "Assists"),
                    ("shots", "Shots"),
                    ("xg", "xG"),
                    ("key_passes", "Key passes"),
                    ("passes", "Passes"),
                    ("pass_accuracy_pct", "Pass accuracy %"),
                    ("duels_won_pct", "Duels won %"),
                )
            ],
        ],
    )

    def per90_cell(column: dict, key: str) -> tuple[str, float | None]:
        per90 = (column["season"] or {}).get("per90") or {}
        return (_number(per90.get(key)), per90.get(key))

    group("Per 90 minutes", [(label, [per90_cell(c, key) for c in columns]) for key, label in PER90_ROWS])

    def percentile_cell(column: dict, key: str) -> tuple[str, float | None]:
        competition = column["percentiles"]
        if competition is None:
            return (MISSING, None)
        figure = competition["figures"].get(key) or {}
        percentile = figure.get("percentile")
        if percentile is None:
            return (MISSING, None)
        return (f"{round(percentile)} ({_number(figure.get('per90'))} p90)", percentile)

    group(
        "Percentile against the peer pool (per 90 in brackets)",
        [
            (label.replace("\n", " "), [percentile_cell(c, key) for c in columns])
            for key, label in PIZZA_FIGURES
        ],
    )

    def xt_cell(column: dict, key: str) -> tuple[str, float | None]:
        row = column["xt"]
        if row is None:
            return (MISSING, None)
        return (_number(row.get(key), 3), row.get(key))

    group(
        "Expected threat",
        [
            ("xT added", [xt_cell(c, "xt_added") for c in columns]),
            ("xT added per 90", [xt_cell(c, "xt_added_per90") for c in columns]),
        ],
    )
    pools = [
        {"name": c["name"], "text": peer_pool_text(c["percentiles"])} for c in columns if c["percentiles"]
    ]
    return {"columns": columns, "groups": groups, "pools": pools, "credit": document.get("credit", "")}
