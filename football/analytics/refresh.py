"""Refreshing everything derived from the events: xG, xT, possession value, then the per-player aggregates.

In that order because the aggregates hold xG, xT added and possession value
under the current models, and their version is a hash of the models' versions.
"""

import io
import time
from dataclasses import dataclass
from typing import TextIO

from .aggregates import refresh_aggregates
from .vaep import fit_vaep
from .xg import fit_xg
from .xt import fit_xt


@dataclass
class AnalyticsRefresh:
    xg_version: str
    xt_version: str
    vaep_version: str
    aggregates_version: str
    aggregate_rows: int
    seconds: dict[str, float]


def refresh_analytics(
    *, stdout: TextIO | io.TextIOBase | None = None, force: bool = False
) -> AnalyticsRefresh:
    """Fits xG, xT and the possession-value model, refreshes the aggregates; reports progress on `stdout` when given.

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
    say("fitting the possession-value model...")
    vaep = fit_vaep()
    seconds["vaep"] = round(time.monotonic() - started, 2)
    held_out = vaep.metrics.get("held_out", {}).get("scores", {})
    say(
        f"possession value {vaep.version[:12]}: held-out ROC AUC {held_out.get('roc_auc')} ({seconds['vaep']}s)"
    )

    started = time.monotonic()
    say("refreshing the per-player aggregates...")
    aggregates = refresh_aggregates(force=force, progress=say)
    seconds["aggregates"] = round(time.monotonic() - started, 2)
    return AnalyticsRefresh(
        xg_version=xg.version,
        xt_version=xt.version,
        vaep_version=vaep.version,
        aggregates_version=aggregates.version,
        aggregate_rows=aggregates.metrics.get("rows", 0),
        seconds=seconds,
    )
