"""What each data provider's feed, as kloppy reads it, does not carry.

A section over a player from such a provider lists these under `not_in_source`
and gives the figures as null rather than 0: "no duels recorded" is not "no
duels". The lists follow kloppy 3.19's loaders (docs/data.md, per provider):

- goal_mouth: Wyscout's 12xx zone tags; kloppy gives no goal-mouth zone for any provider.
- Sportec (DFL event feed): kloppy makes no duel events and no assist or shot-assist
  flags on passes, so duels, assists and key passes are not in the source.
"""

from .models import Provider

# Figures (as the sections name them) a provider's data lacks.
NOT_IN_SOURCE: dict[str, tuple[str, ...]] = {
    Provider.WYSCOUT: (),
    Provider.STATSBOMB: ("goal_mouth",),
    Provider.OPTA: ("goal_mouth",),
    # A v2 match file has no lineups: who started and for how long is not in it.
    Provider.WYSCOUT_V2: ("goal_mouth", "starts", "minutes"),
    Provider.WYSCOUT_V3: ("goal_mouth",),
    Provider.SPORTEC: ("goal_mouth", "duels", "duels_won", "assists", "key_passes"),
}
# The per-90 and share figures derived from each of those.
DERIVED = {
    "duels": ("duels", "duels_won_pct"),
    "duels_won": ("duels_won", "duels_won_pct"),
    "assists": ("assists",),
    "key_passes": ("key_passes",),
    "starts": ("starts", "started"),
    "minutes": ("minutes", "minute_on", "minute_off"),
}


def not_in_source(providers) -> list[str]:
    """The figures that some of the given providers' data lacks, sorted."""
    missing: set[str] = set()
    for provider in providers:
        missing.update(NOT_IN_SOURCE.get(provider, ()))
    return sorted(missing)


def blank_missing(figures: dict, missing: list[str]) -> dict:
    """`figures` (a counting.Totals.figures() dict or a match row) with each missing figure set to None."""
    for name in missing:
        for key in DERIVED.get(name, ()):
            if key in figures:
                figures[key] = None
            per90 = figures.get("per90")
            if isinstance(per90, dict) and key in per90:
                per90[key] = None
    return figures
