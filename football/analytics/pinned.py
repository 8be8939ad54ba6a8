"""Fitted model versions pinned for the code running now: what a report section loads.

A report section's storage key names the versions of the fitted models it
uses (reports.keys), taken when the report was created. The runner pins
those versions around the section's compute, and `load_current_xg` /
`load_current_xt` then load exactly them, by version, instead of whatever is
newest: a refit that commits while a report runs leaves its sections on the
models their keys name, so one report never mixes two xG models. Outside a
pin (the aggregates refresh, the fits, the shell) the newest is loaded.

A context variable, so that each thread or task sees its own pin.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_PINNED: ContextVar[dict[str, str] | None] = ContextVar("pinned_model_versions", default=None)


@contextmanager
def pinned_models(versions: dict[str, str] | None) -> Iterator[None]:
    """Load these versions (by FittedModel kind) meanwhile; None or {} pins nothing."""
    token = _PINNED.set(dict(versions) if versions else None)
    try:
        yield
    finally:
        _PINNED.reset(token)


def pinned_version(kind: str) -> str | None:
    """The version pinned for `kind` ('' for "not fitted when the report was created"), None if none is."""
    versions = _PINNED.get()
    if versions is None or kind not in versions:
        return None
    return versions[kind]
