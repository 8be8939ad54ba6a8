"""The registry of report sections, in the order a report shows them."""

from .base import Section, SectionContext, SectionError
from .profile import SECTION as PROFILE

REGISTRY: tuple[Section, ...] = (PROFILE,)
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
