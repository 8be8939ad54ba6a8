"""Refreshing everything derived from the events: the xG model, the xT grid, then the per-player aggregates.

In that order because the aggregates hold xG and xT added under the current
models, and their version is a hash of both models' versions.
"""

import io
import time
from dataclasses import dataclass
from typing import TextIO

from .aggregates import refresh_aggregates
from .xg import fit_xg
from .xt import fit_xt


@dataclass
class AnalyticsRefresh:
    xg_version: str
    xt_version: str
    aggregates_version: str
    aggregate_rows: int
    seconds: dict[str, float]


def refresh_analytics(
    *, stdout: TextIO | io.TextIOBase | None = None, force: bool = False
) -> AnalyticsRefresh:
    """Fits xG, fits xT, refreshes the aggregates; reports progress on `stdout` when given.

    `force` rebuilds the aggregates even when their version (data, xG and xT
    versions) is unchanged.
    """

    def say(message: str) -> None:
        if stdout is not None:
            stdout.write(message if message.endswith("\n") else message + "\n")
            stdout.flush()

    seconds: dict[str, float] = {}
    started = time.monotonic()
    say("fitting the expected-goals model...")
    xg = fit_xg()
    seconds["xg"] = round(time.monotonic() - started, 2)
    say(f"xG {xg.version[:12]}: {xg.metrics.get('in_sample', {}).get('shots', 0)} shots ({seconds['xg']}s)")

    started = time.monotonic()
    say("fitting the expected-threat grid...")
    xt = fit_xt()
    seconds["xt"] = round(time.monotonic() - started, 2)
    say(f"xT {xt.version[:12]} ({seconds['xt']}s)")

    started = time.monotonic()
    say("refreshing the per-player aggregates...")
    aggregates = refresh_aggregates(force=force, progress=say)
    seconds["aggregates"] = round(time.monotonic() - started, 2)
    return AnalyticsRefresh(
        xg_version=xg.version,
        xt_version=xt.version,
        aggregates_version=aggregates.version,
        aggregate_rows=aggregates.metrics.get("rows", 0),
        seconds=seconds,
    )
