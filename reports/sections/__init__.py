"""The registry of report sections, in the order a report shows them."""

from .base import Section, SectionContext, SectionError
from .expected_threat import SECTION as EXPECTED_THREAT
from .heatmap import SECTION as HEATMAP
from .match_log import SECTION as MATCH_LOG
from .percentiles import SECTION as PERCENTILES
from .possession_value import SECTION as POSSESSION_VALUE
from .profile import SECTION as PROFILE
from .season_stats import SECTION as SEASON_STATS
from .shot_map import SECTION as SHOT_MAP
from .similar_players import SECTION as SIMILAR_PLAYERS
from .visuals import SECTION as VISUALS

REGISTRY: tuple[Section, ...] = (
    PROFILE,
    SEASON_STATS,
    MATCH_LOG,
    SHOT_MAP,
    HEATMAP,
    PERCENTILES,
    SIMILAR_PLAYERS,
    EXPECTED_THREAT,
    POSSESSION_VALUE,
    VISUALS,
)
SECTIONS: dict[str, Section] = {section.name: section for section in REGISTRY}

__all__ = ["SECTIONS", "Section", "SectionContext", "SectionError"]


def with_dependencies(names: list[str]) -> list[str]:
    """The named sections plus those they depend on, in registry order."""
    wanted = set(names)
    for name in names:
        dependency = SECTIONS[name].depends_on
        while dependency and dependency not in wanted:
            wanted.add(dependency)
            dependency = SECTIONS[dependency].depends_on
    return [section.name for section in REGISTRY if section.name in wanted]
