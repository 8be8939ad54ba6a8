"""The percentile pizza of one player: mplsoccer's PyPizza, drawn server-side to PNG.

Each slice is a per-90 figure's percentile against the peer pool of the
percentiles section (same role, enough minutes, same competition and season);
the text on each slice gives the percentile and, beside it, the raw per-90
value, so a reader never has to guess what "80" stands for.

Drawn on matplotlib's object API (a Figure with the Agg canvas), not pyplot,
like reports.sections.visuals: no global figure registry in a long-lived web
process. matplotlib and mplsoccer are imported when a pizza is drawn, never
when a page is served (importing them costs about a second).
"""

from __future__ import annotations

import io
import threading

# Bumped when the drawing changes: it is part of the cached picture's name.
PIZZA_VERSION = 1
# The figures on the pizza, in the order they go round it: scoring, shooting,
# passing and creating, duels, then involvement.
PIZZA_FIGURES: tuple[tuple[str, str], ...] = (
    ("non_penalty_goals", "Non-penalty\ngoals"),
    ("npxg", "npxG"),
    ("shots", "Shots"),
    ("shots_on_target", "Shots on\ntarget"),
    ("assists", "Assists"),
    ("key_passes", "Key passes"),
    ("passes", "Passes"),
    ("passes_accurate", "Accurate\npasses"),
    ("xt_added", "xT added"),
    ("duels", "Duels"),
    ("duels_won", "Duels won"),
    ("touches", "Touches"),
)
# Slice colours by group, matching the order above.
_GROUP_COLOURS = ("#1a78cf",) * 4 + ("#ff9300",) * 5 + ("#d70232",) * 2 + ("#5f6b7a",)
# matplotlib is not thread-safe (its font cache and text layout are shared): a
# web process with threads (gunicorn --threads, the test server) draws one
# pizza at a time. A pizza is drawn once per percentiles partial and then
# served from storage, so the wait is rare and short.
_DRAWING = threading.Lock()
PIZZA_FIGSIZE = (6.4, 7.0)
PIZZA_DPI = 90
# Shown where a figure has no value.
MISSING = "\N{EN DASH}"


def main_competition(percentiles: dict) -> dict | None:
    """The competition-season of the percentiles section where the player played most minutes."""
    competitions = percentiles.get("competitions") or []
    if not competitions:
        return None
    return max(competitions, key=lambda row: (row.get("minutes") or 0, row.get("season_id") or 0))


def peer_pool_text(competition: dict) -> str:
    """How the section built the pool, as a reader needs it: who, how many, with how many minutes."""
    text = (
        f"{competition['pool_size']} {competition['role']} players with at least "
        f"{competition['min_minutes']} minutes in {competition['competition']} {competition['season']}"
    )
    if not competition.get("meets_min_minutes", True):
        text += (
            f" (this player has {competition['minutes']}, below the threshold, and is ranked against them)"
        )
    return text


def _raw(value: float | None) -> str:
    if value is None:
        return MISSING
    return f"{value:.2f}" if abs(value) < 10 else f"{value:.1f}"


def render_pizza(*, name: str, competition: dict) -> bytes:
    """The pizza for one competition-season row of the percentiles section, as PNG bytes."""
    with _DRAWING:
        return _draw(name=name, competition=competition)


def _draw(*, name: str, competition: dict) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from mplsoccer import PyPizza

    figures = competition["figures"]
    percentiles = [figures[key]["percentile"] for key, _ in PIZZA_FIGURES]
    values = [round(p) if p is not None else 0 for p in percentiles]
    texts = [
        f"{round(p)} · {_raw(figures[key]['per90'])}"
        if p is not None
        else f"{MISSING} · {_raw(figures[key]['per90'])}"
        for p, (key, _) in zip(percentiles, PIZZA_FIGURES, strict=True)
    ]
    figure = Figure(figsize=PIZZA_FIGSIZE, dpi=PIZZA_DPI, facecolor="#ffffff")
    FigureCanvasAgg(figure)
    axes = figure.add_axes((0.11, 0.1, 0.78, 0.7), projection="polar")
    baker = PyPizza(
        params=[label for _, label in PIZZA_FIGURES],
        background_color="#ffffff",
        straight_line_color="#d0d4da",
        straight_line_lw=1,
        last_circle_color="#9aa3ad",
        last_circle_lw=1,
        other_circle_color="#d0d4da",
        other_circle_lw=1,
        other_circle_ls="-",
        inner_circle_size=12,
    )
    baker.make_pizza(
        values,
        alt_text_values=texts,
        ax=axes,
        param_location=112,
        slice_colors=list(_GROUP_COLOURS),
        value_colors=["#ffffff"] * len(values),
        value_bck_colors=list(_GROUP_COLOURS),
        color_blank_space="same",
        blank_alpha=0.25,
        kwargs_slices={"edgecolor": "#ffffff", "zorder": 2, "linewidth": 1},
        kwargs_params={"color": "#1d2530", "fontsize": 9, "va": "center"},
        kwargs_values={
            "color": "#ffffff",
            "fontsize": 8,
            "zorder": 3,
            "bbox": {"edgecolor": "#ffffff", "facecolor": "#1a78cf", "boxstyle": "round,pad=0.2", "lw": 1},
        },
    )
    figure.text(0.5, 0.965, name, ha="center", va="top", fontsize=14, color="#1d2530", weight="bold")
    figure.text(
        0.5,
        0.925,
        f"{competition['competition']} {competition['season']}: percentile · per 90, "
        f"against {competition['pool_size']} {competition['role']} with {competition['min_minutes']}+ min",
        ha="center",
        va="top",
        fontsize=8.5,
        color="#4a5562",
    )
    figure.text(
        0.5,
        0.015,
        "Data: Wyscout public data set (Pappalardo et al., 2019), CC BY 4.0",
        ha="center",
        fontsize=7,
        color="#7a8591",
    )
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=PIZZA_DPI, facecolor=figure.get_facecolor())
    figure.clear()
    return buffer.getvalue()
