"""Storage keys of report files, built from ids and hashes only, always under `reports/`.

A partial's key names its inputs: the section and its version, the player,
the data version and the versions of the fitted models the section uses. Equal
inputs give the same key, which is what lets reports share partials.
"""

import hashlib
import uuid

from .sections import Section

PREFIX = "reports/"
# The prefixes of this app's own files, the only ones storage_audit compares:
# other apps write under `reports/` too (exports, shares), files no Partial or
# Report row names.
PARTIALS_PREFIX = f"{PREFIX}partials/"
MERGED_PREFIX = f"{PREFIX}merged/"


def partial_key(
    *, section: Section, player_id: int, data_version: str, model_versions: dict[str, str]
) -> str:
    inputs = "|".join([data_version, *(f"{kind}={model_versions.get(kind, '')}" for kind in section.uses)])
    digest = hashlib.sha256(inputs.encode()).hexdigest()[:24]
    return f"{PARTIALS_PREFIX}{section.name}/v{section.version}/{int(player_id)}/{digest}.json"


def partial_file_key(partial: str, filename: str) -> str:
    """A further file (a picture) stored beside a partial, in a folder named after it."""
    if "/" in filename or filename.startswith("."):
        raise ValueError(f"not a plain file name: {filename!r}")
    return f"{partial.removesuffix('.json')}/{filename}"


def merged_key(*, report_id: uuid.UUID, generation: int) -> str:
    return f"{MERGED_PREFIX}{uuid.UUID(str(report_id)).hex}/g{int(generation)}.json"


def share_data_key(*, report_id: uuid.UUID, link_id: int) -> str:
    """A share link's own copy of its generation's data document (web.services.share_create)."""
    return f"{PREFIX}shares/{uuid.UUID(str(report_id)).hex}/{int(link_id)}.json"
