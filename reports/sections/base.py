"""What a report section is: a name, a queue, a version, and a function of one player.

The registry in reports.sections drives the tasks, the status and the merge:
adding a section is adding a module with a `SECTION` and listing it there.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class SectionError(Exception):
    """A section cannot be computed for this input (not a transient fault: no retry)."""


@dataclass
class SectionContext:
    player_id: int
    data_version: str
    # The partial of the section this one depends on (its JSON object), if any.
    upstream: dict[str, Any] | None = None
    # Stores a further file (a picture) beside the partial and returns its storage key.
    save_file: Callable[[str, bytes, str], str] = field(default=lambda name, content, content_type: "")


@dataclass(frozen=True)
class Section:
    name: str
    queue: str
    version: int
    compute: Callable[[SectionContext], dict[str, Any]]
    # A section whose partial this one receives as `upstream` (run before it, in a chain).
    depends_on: str | None = None
    # Fitted artefacts (football.models.FittedModel kinds) whose versions are part of the partial's key.
    uses: tuple[str, ...] = ()
    description: str = ""
    # Loads what `compute` imports lazily (drawing libraries), so that a worker
    # can do it once before it forks its pool processes (tasks/warmup.py).
    warm_up: Callable[[], None] | None = None
