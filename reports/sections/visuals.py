"""Pictures of a player's season: shot map, touch heatmap, pass map and defensive actions, as PNGs beside the partial.

Drawn with mplsoccer on Wyscout's own pitch (pitch_type="wyscout": 0-100 both
ways, y growing downwards, as the data has it), so coordinates go in as stored;
every action is already seen attacking left to right. The shots come from the
shot_map partial this section depends on, so the picture and the table always
agree; touches and passes are read here (one query).

Figures are built on matplotlib's object API (Figure plus the Agg canvas), not
pyplot: no global figure registry to leak memory in a long-lived worker and no
interactive backend to pick up, and each Figure is freed with its last reference.

matplotlib and mplsoccer are imported when a picture is drawn, not with the
sections registry: the web process and the fast workers read the registry
and never draw, and importing them cost the first request 0.9 s.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from football import tags as wyscout
from football.analytics.counting import is_touch, parse_tags, touch_position
from football.models import Player
from tasks.queues import SLOW_QUEUE

from .base import Section, SectionContext, SectionError
from .heatmap import HEATMAP_COLUMNS, HEATMAP_ROWS, defensive_actions, player_events

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from mplsoccer import Pitch

# Small enough to render in well under a second each, large enough to read on a report page.
VISUALS_FIGSIZE = (8, 5.6)
VISUALS_DPI = 100
PITCH_COLOUR = "#1f5f3a"
LINE_COLOUR = "#e8e8e8"
OUTCOME_COLOURS = {
    "goal": "#f5c518",
    "saved": "#5bc0eb",
    "post": "#ff8c42",
    "blocked": "#9b9b9b",
    "off target": "#e4572e",
}


def _pitch() -> Pitch:
    from mplsoccer import Pitch

    return Pitch(pitch_type="wyscout", pitch_color=PITCH_COLOUR, line_color=LINE_COLOUR, linewidth=1)


def _figure(pitch: Pitch, title: str) -> tuple[Figure, Axes]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=VISUALS_FIGSIZE, dpi=VISUALS_DPI, facecolor=PITCH_COLOUR)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    pitch.draw(ax=axes)
    axes.set_title(title, color="white", fontsize=12)
    return figure, axes


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=VISUALS_DPI, facecolor=figure.get_facecolor())
    figure.clear()
    return buffer.getvalue()


def render_shot_map(shots: list[dict], name: str) -> bytes:
    pitch = _pitch()
    goals = sum(shot["goal"] for shot in shots)
    xg = [shot["xg"] for shot in shots if shot.get("xg") is not None]
    xg_text = f", xG {sum(xg):.1f}" if xg else ""
    figure, axes = _figure(pitch, f"{name}: {len(shots)} shots, {goals} goals{xg_text}")
    for outcome, colour in OUTCOME_COLOURS.items():
        chosen = [s for s in shots if s["outcome"] == outcome and s["x"] is not None and s["y"] is not None]
        if not chosen:
            continue
        # Marker area grows with xG, so big chances stand out; a floor keeps tiny xG visible.
        sizes = [60 + 600 * (s["xg"] or 0.0) if s.get("xg") is not None else 80 for s in chosen]
        pitch.scatter(
            [s["x"] for s in chosen],
            [s["y"] for s in chosen],
            s=sizes,
            color=colour,
            edgecolors="black",
            linewidth=0.6,
            alpha=0.85,
            label=f"{outcome} ({len(chosen)})",
            ax=axes,
            zorder=3,
        )
    if shots:
        axes.legend(loc="lower left", fontsize=8, framealpha=0.8)
    return _png(figure)


# One colour per kind of defensive action (progression.DEFENSIVE_KINDS).
DEFENSIVE_COLOURS = {
    "tackle_won": "#e41a1c",
    "interception": "#377eb8",
    "clearance": "#ffffff",
    "block": "#984ea3",
    "recovery": "#ff7f00",
}


def render_defensive_actions(actions: list[dict], name: str) -> bytes:
    pitch = _pitch()
    figure, axes = _figure(pitch, f"{name}: {len(actions)} defensive actions")
    for kind, colour in DEFENSIVE_COLOURS.items():
        chosen = [a for a in actions if a["kind"] == kind and a["x"] is not None and a["y"] is not None]
        if not chosen:
            continue
        pitch.scatter(
            [a["x"] for a in chosen],
            [a["y"] for a in chosen],
            s=50,
            color=colour,
            edgecolors="black",
            linewidth=0.5,
            alpha=0.85,
            label=f"{kind.replace('_', ' ')} ({len(chosen)})",
            ax=axes,
            zorder=3,
        )
    if actions:
        axes.legend(loc="lower left", fontsize=8, framealpha=0.8)
    return _png(figure)


def render_heatmap(touches: list[tuple[int, int]], name: str) -> bytes:
    pitch = _pitch()
    figure, axes = _figure(pitch, f"{name}: {len(touches)} touches")
    if touches:
        statistic = pitch.bin_statistic(
            [x for x, _ in touches],
            [y for _, y in touches],
            statistic="count",
            bins=(HEATMAP_COLUMNS, HEATMAP_ROWS),
        )
        pitch.heatmap(statistic, ax=axes, cmap="hot", edgecolors=PITCH_COLOUR, alpha=0.85)
    return _png(figure)


def render_pass_map(passes: list[tuple[int, int, int, int, bool]], name: str) -> bytes:
    pitch = _pitch()
    completed = [p for p in passes if p[4]]
    figure, axes = _figure(pitch, f"{name}: {len(completed)} of {len(passes)} passes completed")
    for successful, colour, label in ((False, "#e4572e", "not completed"), (True, "#5bc0eb", "completed")):
        chosen = [p for p in passes if p[4] is successful]
        if not chosen:
            continue
        pitch.arrows(
            [p[0] for p in chosen],
            [p[1] for p in chosen],
            [p[2] for p in chosen],
            [p[3] for p in chosen],
            width=1,
            headwidth=4,
            headlength=4,
            color=colour,
            alpha=0.5,
            ax=axes,
            label=f"{label} ({len(chosen)})",
        )
    if passes:
        axes.legend(loc="lower left", fontsize=8, framealpha=0.8)
    return _png(figure)


def compute(context: SectionContext) -> dict:
    player = Player.objects.filter(pk=context.player_id).values_list("short_name", "name").first()
    if player is None:
        raise SectionError(f"player {context.player_id} is not in the football database")
    if not context.upstream or "shots" not in context.upstream:
        raise SectionError("visuals needs the shot_map partial of the same player as its upstream")
    name = player[0] or player[1]
    touches: list[tuple[int, int]] = []
    passes: list[tuple[int, int, int, int, bool]] = []
    events = player_events(context.player_id)
    for _, _, _, _, _, _, type_id, subtype_id, x, y, end_x, end_y, tag_string in events:
        tag_ids = parse_tags(tag_string)
        if is_touch(type_id, tag_ids):
            position = touch_position(type_id, subtype_id, x, y)
            if position is not None:
                touches.append(position)
        if (
            type_id == wyscout.PASS
            and x is not None
            and y is not None
            and end_x is not None
            and end_y is not None
        ):
            passes.append((x, y, end_x, end_y, wyscout.ACCURATE in tag_ids))
    defensive = defensive_actions(events)
    images = {
        "shot_map": context.save_file(
            "shot_map.png", render_shot_map(context.upstream["shots"], name), "image/png"
        ),
        "heatmap": context.save_file("heatmap.png", render_heatmap(touches, name), "image/png"),
        "pass_map": context.save_file("pass_map.png", render_pass_map(passes, name), "image/png"),
        "defensive_actions": context.save_file(
            "defensive_actions.png", render_defensive_actions(defensive["actions"], name), "image/png"
        ),
    }
    return {
        "images": images,
        "counts": {
            "shots": len(context.upstream["shots"]),
            "touches": len(touches),
            "passes": len(passes),
            "defensive_actions": defensive["total"],
        },
    }


def warm_up() -> None:
    """Import the drawing libraries (about 0.9 s), as a slow worker does before forking its pool."""
    import matplotlib.backends.backend_agg  # noqa: F401
    import mplsoccer  # noqa: F401


SECTION = Section(
    name="visuals",
    queue=SLOW_QUEUE,
    # 2: the defensive-actions picture.
    version=2,
    compute=compute,
    depends_on="shot_map",
    uses=("xg",),
    description="rendered shot map, heatmap, pass map and defensive-actions map (PNG), stored beside the partials",
    warm_up=warm_up,
)
