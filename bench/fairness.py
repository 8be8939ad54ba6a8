"""Fair share between analysts (issue 17): how a small report fares beside a big one, as ratios of one run.

Every report here asks for the fast sections only: then "ready" is the whole
report, and the slow pool, which would run on for minutes after each big
report, does not take CPU from the next measure. Reuse is ruled out: every
report is deleted once measured (its partials go with it, no other report
shares them), so the next one computes everything again, and reports that run
together never share a player. Times are the database's (`ready_at -
created_at`, written by the workers and the web process), not when the bench
looks.

Each measure starts with both pools idle: after deleting its reports the bench
waits until no worker runs or holds a message (`measures.workers_idle_wait`).
A report that completes has its merged file written on the slow pool (a
`write_merged` outbox row, sent at completion), and for 500 players that
merge reads 2,500 partials: about 50 s of CPU, which ran on into the next
measure and took a quarter of the 2-core host from it (measured on
2026-12-07: 54 s of the slow pool's CPU inside a run that asked for fast
sections only). Which measure it fell into changed with the timing of the
deletion, and so did the figures: the big report's slowdown read 0.78 to
1.77 on the same code.

- `fair_big_alone_s`: a 500-player report alone, time to ready (the "no slower
  than today" check compares it with the figure measured before the change),
  and `fair_big_alone_cpu_s` the CPU the web and worker processes used for it,
  which the machine's other load moves far less than the time;
- `fair_small_alone_s`: a 5-player report alone (median of four);
- `fair_small_ready_ratio`: the same 5-player report posted 1 s after a
  500-player report of another user (`fair_small_after_big_s`, median of
  three; the 500-player report is deleted once the small one is ready),
  divided by `fair_small_alone_s`. The alone and after runs alternate, each
  after run between two alone ones, so both medians see the host at the same
  speed: on a shared host that speed moved by a third between runs minutes
  apart (the 500-player report alone took 86 to 124 s in four runs of one
  hour), and a ratio of one sample to a baseline taken minutes before moved
  with it (2.16 and 1.18 on the same code);
- `fair_big_slowdown`: the 500-player report's time to ready with ten small
  reports (of the other user) arriving during it, the first 1 s after it,
  divided by `fair_big_alone_s`, the mean of its runs alone just before and
  just after (`fair_big_alone_runs_s`), for the same reason: one run alone
  before it moved the ratio from 0.78 to 1.33 on the same code;
- `fair_jain_index`: Jain's index of the progress rates (sections ended per
  second) of five reports of 5 to 500 players, posted largest first, over the
  time all five are outstanding (from the last post to the first report's
  end, at most JAIN_WINDOW_MAX_S): 1 when every report progresses at the same
  rate, 1/5 when one takes all the workers.
"""

from __future__ import annotations

import statistics
import time
from datetime import timedelta

from django.db.models import Count

from reports.models import Report, ReportTask

from . import cpu
from .http import ApiClient
from .measures import FAST_SECTIONS, WATCH_INTERVAL_S, most_played, say, workers_idle_wait
from .results import ratio, rounded

BIG_PLAYERS = 500
SMALL_PLAYERS = 5
SMALL_ARRIVALS = 10
# Runs of the small report after the big one (and one more alone than that, alternating).
SMALL_PAIRS = 3
# The first small report arrives this long after the big one (the "1 s later").
SMALL_DELAY_S = 1.0
JAIN_SIZES = (500, 250, 100, 25, 5)
# Longest window the Jain index is measured over: on a first-in-first-out
# queue the first report to end is the 500-player one, minutes later.
JAIN_WINDOW_MAX_S = 20.0
REPORT_DEADLINE_S = 900


def jain_index(rates: list[float]) -> float:
    """(sum x)^2 / (n * sum x^2): 1 for equal shares, 1/n when one takes everything."""
    squares = sum(rate * rate for rate in rates)
    return sum(rates) ** 2 / (len(rates) * squares) if squares else 0.0


def _create(client: ApiClient, *, name: str, player_ids: list[int]) -> str:
    answer, _ = client.request(
        "POST", "/api/reports/", json={"name": name, "players": player_ids, "sections": FAST_SECTIONS}
    )
    if answer.status_code != 202:
        raise RuntimeError(f"POST /api/reports/ answered {answer.status_code}: {answer.text[:500]}")
    return answer.json()["id"]


def _ready(report_ids: list[str]) -> dict[str, float]:
    """Wait until every report is ready; seconds from creation to ready, by id."""
    deadline = time.monotonic() + REPORT_DEADLINE_S
    while True:
        rows = list(Report.objects.filter(pk__in=report_ids).values("pk", "created_at", "ready_at", "status"))
        if len(rows) != len(report_ids):
            raise RuntimeError("a measured report disappeared")
        if all(row["ready_at"] for row in rows):
            return {str(row["pk"]): (row["ready_at"] - row["created_at"]).total_seconds() for row in rows}
        if time.monotonic() > deadline:
            raise RuntimeError(f"reports still not ready after {REPORT_DEADLINE_S} s")
        time.sleep(WATCH_INTERVAL_S)


def _delete(owned: list[tuple[ApiClient, str]], *, workers: dict[str, str]) -> None:
    """Delete each (owner, report), then wait once until both pools are idle, so the next measure starts quiet.

    Deliveries already prefetched end quietly (their records are gone), and a
    merge sent at a report's completion runs on to its end.
    """
    for client, report_id in owned:
        answer, _ = client.request("DELETE", f"/api/reports/{report_id}/")
        if answer.status_code != 204:
            raise RuntimeError(f"DELETE answered {answer.status_code}")
    workers_idle_wait(workers)


def _alone(client: ApiClient, *, name: str, player_ids: list[int], workers: dict[str, str]) -> float:
    report_id = _create(client, name=name, player_ids=player_ids)
    seconds = _ready([report_id])[report_id]
    _delete([(client, report_id)], workers=workers)
    return seconds


def _small_after_big(
    big_client: ApiClient,
    small_client: ApiClient,
    *,
    big: list[int],
    small: list[int],
    workers: dict[str, str],
) -> float:
    """The small report posted SMALL_DELAY_S after the big one: its time to ready; both are deleted after."""
    big_id = _create(big_client, name="bench: fair big, small after", player_ids=big)
    time.sleep(SMALL_DELAY_S)
    small_id = _create(small_client, name="bench: fair small after big", player_ids=small)
    seconds = _ready([small_id])[small_id]
    _delete([(big_client, big_id), (small_client, small_id)], workers=workers)
    return seconds


def _big_alone(
    client: ApiClient, *, player_ids: list[int], cpu_roots: dict[str, int], workers: dict[str, str]
) -> dict:
    """The 500-player report alone: time to ready, and the CPU its pipeline used (the web and worker processes).

    The CPU is what a window could add (a publish per few sections) and,
    unlike the time, does not depend on what else the shared machine runs.
    """
    before = cpu.cpu_by_role(cpu_roots)
    report_id = _create(client, name="bench: fair big alone", player_ids=player_ids)
    seconds = _ready([report_id])[report_id]
    used = cpu.cpu_used(before, cpu.cpu_by_role(cpu_roots))
    _delete([(client, report_id)], workers=workers)
    pipeline = sum(used.get(role, 0.0) for role in cpu_roots)
    return {
        "fair_big_alone_s": rounded(seconds),
        "fair_big_alone_cpu_s": rounded(pipeline),
        "fair_big_alone_cpu_ms_per_section": rounded(
            pipeline * 1000 / (len(player_ids) * len(FAST_SECTIONS))
        ),
    }


def analyst(base_url: str, username: str) -> ApiClient:
    """A client for a user of its own: the measures are about reports of different analysts."""
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    user, _ = get_user_model().objects.get_or_create(username=username, defaults={"email": ""})
    token, _ = Token.objects.get_or_create(user=user)
    return ApiClient(base_url, token.key)


def _jain(clients: list[ApiClient], groups: list[list[int]], *, workers: dict[str, str]) -> dict:
    report_ids = [
        _create(client, name=f"bench: fair {len(players)} players", player_ids=players)
        for client, players in zip(clients, groups, strict=True)
    ]
    started = time.monotonic()
    while time.monotonic() - started < JAIN_WINDOW_MAX_S + 1:
        if Report.objects.filter(pk__in=report_ids, ready_at__isnull=False).exists():
            break
        time.sleep(WATCH_INTERVAL_S)
    rows = {
        str(row["pk"]): row
        for row in Report.objects.filter(pk__in=report_ids).values("pk", "created_at", "ready_at")
    }
    window_start = max(row["created_at"] for row in rows.values())
    ends = [row["ready_at"] for row in rows.values() if row["ready_at"] is not None]
    window_end = min(ends) if ends else None
    cap = window_start + timedelta(seconds=JAIN_WINDOW_MAX_S)
    window_end = min(window_end, cap) if window_end is not None else cap
    seconds = (window_end - window_start).total_seconds()
    ended = dict(
        ReportTask.objects.filter(
            report_id__in=report_ids, finished_at__gt=window_start, finished_at__lte=window_end
        )
        .values_list("report_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    rates = [ended.get(row["pk"], 0) / seconds if seconds > 0 else 0.0 for row in rows.values()]
    _delete(list(zip(clients, report_ids, strict=True)), workers=workers)
    return {
        "fair_jain_index": rounded(jain_index(rates)),
        "fair_jain_window_s": rounded(seconds),
        "fair_jain_rates": ", ".join(f"{rate:.1f}" for rate in rates),
    }


def fair_share(base_url: str, *, cpu_roots: dict[str, int], workers: dict[str, str]) -> dict:
    """The issue's three ratios, and the times they are made of; every report size is another analyst's."""
    big_client, small_client = analyst(base_url, "bench-fair-big"), analyst(base_url, "bench-fair-small")
    players = most_played(BIG_PLAYERS + SMALL_PLAYERS * SMALL_ARRIVALS + sum(JAIN_SIZES[1:]))
    big, rest = players[:BIG_PLAYERS], players[BIG_PLAYERS:]
    smalls = [rest[index * SMALL_PLAYERS : (index + 1) * SMALL_PLAYERS] for index in range(SMALL_ARRIVALS)]
    figures: dict = {}

    say(f"fair share: a {BIG_PLAYERS}-player report alone...")
    figures.update(_big_alone(big_client, player_ids=big, cpu_roots=cpu_roots, workers=workers))
    say(
        f"fair share: a {SMALL_PLAYERS}-player report alone and {SMALL_DELAY_S:g} s after a"
        f" {BIG_PLAYERS}-player one, in turn, {SMALL_PAIRS} times..."
    )
    alone: list[float] = []
    after: list[float] = []
    for _ in range(SMALL_PAIRS):
        alone.append(
            _alone(small_client, name="bench: fair small alone", player_ids=smalls[0], workers=workers)
        )
        after.append(_small_after_big(big_client, small_client, big=big, small=smalls[0], workers=workers))
    alone.append(_alone(small_client, name="bench: fair small alone", player_ids=smalls[0], workers=workers))
    figures["fair_small_alone_s"] = rounded(statistics.median(alone))
    figures["fair_small_after_big_s"] = rounded(statistics.median(after))
    figures["fair_small_alone_runs_s"] = ", ".join(f"{seconds:.2f}" for seconds in alone)
    figures["fair_small_after_big_runs_s"] = ", ".join(f"{seconds:.2f}" for seconds in after)
    figures["fair_small_ready_ratio"] = rounded(
        ratio(statistics.median(after), statistics.median(alone)) or 0
    )

    say(
        f"fair share: the {BIG_PLAYERS}-player report again, a small one {SMALL_DELAY_S:g} s after it,"
        f" then {SMALL_ARRIVALS - 1} more during it..."
    )
    big_id = _create(big_client, name="bench: fair big", player_ids=big)
    time.sleep(SMALL_DELAY_S)
    small_ids = [_create(small_client, name="bench: fair small 0", player_ids=smalls[0])]
    # The others spread over the big report's time alone, so they all arrive while it runs.
    spacing = max(1.0, figures["fair_big_alone_s"] * 0.8 / SMALL_ARRIVALS)
    for index, group in enumerate(smalls[1:], start=1):
        time.sleep(spacing)
        small_ids.append(_create(small_client, name=f"bench: fair small {index}", player_ids=group))
    times = _ready([big_id, *small_ids])
    _delete([(big_client, big_id), *((small_client, report_id) for report_id in small_ids)], workers=workers)
    figures["fair_big_with_smalls_s"] = rounded(times[big_id])
    figures["fair_small_during_big_max_s"] = rounded(max(times[report_id] for report_id in small_ids))

    say(f"fair share: the {BIG_PLAYERS}-player report alone again...")
    big_before = figures["fair_big_alone_s"]
    big_after = _big_alone(big_client, player_ids=big, cpu_roots=cpu_roots, workers=workers)[
        "fair_big_alone_s"
    ]
    figures["fair_big_alone_runs_s"] = f"{big_before:.1f}, {big_after:.1f}"
    figures["fair_big_alone_s"] = rounded((big_before + big_after) / 2)
    figures["fair_big_slowdown"] = rounded(ratio(times[big_id], figures["fair_big_alone_s"]) or 0)

    say(f"fair share: five reports of {', '.join(map(str, JAIN_SIZES))} players at once...")
    groups, offset = [], 0
    for size in JAIN_SIZES:
        groups.append(players[offset : offset + size])
        offset += size
    clients = [analyst(base_url, f"bench-fair-{size}") for size in JAIN_SIZES]
    figures.update(_jain(clients, groups, workers=workers))
    return figures
