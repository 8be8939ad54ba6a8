"""What the bench measures, each as a function that returns named figures.

Django must be set up (bench.phase does it in the stack's environment) before
these run. Reports go through the real web server and real workers; the
serial baseline and the section timings run in this process.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.pool
import statistics
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connections

from football.models import Appearance, Team
from football.selectors import data_version, squad_player_ids
from reports import merge, runner, services
from reports.models import Partial, Report, ReportTask
from reports.sections import REGISTRY, SECTIONS, SectionContext, SectionError

from . import cpu, stack
from .http import ApiClient, status_pollers
from .results import percentile, ratio, rounded

logger = logging.getLogger("bench")

FAST_SECTIONS = [section.name for section in REGISTRY if section.queue == "fast"]
# A report is given this long to become ready and complete before the run fails.
REPORT_DEADLINE_S = 900
# How often the bench looks at a running report's row. The figures come from
# the times the workers write (ready_at, completed_at), not from when the bench
# sees them; every look is a query on the two cores the run is measured on.
WATCH_INTERVAL_S = 0.1
# Pause between two data reads while slow sections run: one user re-reading, not a flood.
LIVE_READ_PAUSE_S = 0.25
# Processes of the local pool that the parallel baseline runs on: as many as a worker's pool grows to.
LOCAL_POOL_PROCESSES = 6
# Tries of a remote-control command (pause, resume) before the run gives up.
CONTROL_ATTEMPTS = 3
# Runs of the serial baseline, the local pool and the cold squad report: their medians are the figures.
RUNS = 3


def say(message: str) -> None:
    print(f"  {message}", flush=True)


def bench_owner():
    """The bench's user and API token, in the bench's own app database."""
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    user, _ = get_user_model().objects.get_or_create(username="bench", defaults={"email": ""})
    token, _ = Token.objects.get_or_create(user=user)
    return user, token.key


def squad_pick(*, team: str, competition_id: int, size: int) -> tuple[Team, list[int]]:
    """A real squad: the `size` players with most minutes for the team in that competition."""
    club = Team.objects.get(name=team)
    players = squad_player_ids(team_id=club.pk, competition_id=competition_id)
    if len(players) < size:
        raise RuntimeError(f"{team} has only {len(players)} players in competition {competition_id}")
    return club, players[:size]


def most_played(count: int, *, exclude: frozenset[int] | set[int] = frozenset()) -> list[int]:
    """The `count` players with most minutes across the data: real, busy players."""
    from django.db.models import Sum

    rows = (
        Appearance.objects.played()
        .values("player_id")
        .annotate(minutes=Sum("minutes"))
        .order_by("-minutes", "player_id")
    )
    chosen = []
    for row in rows.iterator():
        if row["player_id"] not in exclude:
            chosen.append(row["player_id"])
        if len(chosen) == count:
            break
    return chosen


def section_times(player_ids: list[int], *, warm_up_player: int) -> dict:
    """Compute every section for every player in this process; p50 and p95 of compute time per section.

    One player is computed first and not counted: a worker is long-lived, so
    its first call's imports and loaded models are not what a section costs.
    """
    version = data_version()
    figures: dict = {}
    upstream: dict[tuple[str, int], dict] = {}
    # CPU of the fast sections' compute alone, this process's own (the
    # database's share is MariaDB's): what a worker spends on the work itself,
    # against which the pipeline's own CPU per section is set (derived).
    fast_cpu_s, fast_computed = 0.0, 0
    for player_id in [warm_up_player, *player_ids]:
        for section in REGISTRY:
            context = SectionContext(
                player_id=player_id,
                data_version=version,
                upstream=upstream.get((section.depends_on, player_id)) if section.depends_on else None,
            )
            started, cpu_started = time.perf_counter(), time.process_time()
            try:
                content = section.compute(context)
            except SectionError as exc:
                figures[f"section_errors.{section.name}"] = (
                    figures.get(f"section_errors.{section.name}", 0) + 1
                )
                logger.warning("section %s failed for player %s: %s", section.name, player_id, exc)
                continue
            elapsed = (time.perf_counter() - started) * 1000
            cpu_s = time.process_time() - cpu_started
            upstream[(section.name, player_id)] = content
            if player_id != warm_up_player:
                figures.setdefault(section.name, []).append(elapsed)
                if section.queue == "fast":
                    fast_cpu_s += cpu_s
                    fast_computed += 1
    out: dict = {"section_players": len(player_ids)}
    if fast_computed:
        out["compute_cpu_ms_per_section"] = rounded(fast_cpu_s * 1000 / fast_computed)
    for section in REGISTRY:
        times = figures.get(section.name, [])
        if times:
            out[f"section_ms.{section.name}.p50"] = rounded(percentile(times, 50))
            out[f"section_ms.{section.name}.p95"] = rounded(percentile(times, 95))
    out.update({key: value for key, value in figures.items() if key.startswith("section_errors.")})
    return out


def broker_purge() -> None:
    """Drop the messages waiting in the bench's queues (its own virtual host or var folder)."""
    from celery import current_app

    with current_app.connection_for_write() as connection:
        for queue in ("fast", "slow"):
            try:
                connection.default_channel.queue_purge(queue)
            except Exception:
                connection.close()


@contextmanager
def consumers_paused(workers: dict[str, str]):
    """The workers (queue -> node name) stop taking messages, and take them again after.

    With Celery's remote control (cancel_consumer, add_consumer): the pools
    stay up and warm, as between two reports. What was published meanwhile is
    purged before they consume again.
    """
    from celery import current_app

    def each(command: str) -> None:
        for queue, node in workers.items():
            # A worker busy with thousands of messages (the 500-player reports)
            # answered after the 10 s once, and the whole run was lost; both
            # commands may be repeated (the answer is "ok" either way).
            for _ in range(CONTROL_ATTEMPTS):
                replies = getattr(current_app.control, command)(
                    queue, destination=[node], reply=True, timeout=10
                )
                if any(node in reply and "ok" in reply[node] for reply in replies or ()):
                    break
            else:
                raise RuntimeError(f"{command} {queue} on {node} answered {replies!r}")

    each("cancel_consumer")
    try:
        yield
    finally:
        broker_purge()
        each("add_consumer")


def workers_idle_wait(workers: dict[str, str]) -> None:
    """Purge the queues until no worker runs or holds a message (nothing new may be published meanwhile)."""
    from celery import current_app

    nodes = set(workers.values())
    deadline = time.monotonic() + REPORT_DEADLINE_S
    while True:
        broker_purge()
        inspect = current_app.control.inspect(destination=sorted(nodes), timeout=10)
        active, reserved = inspect.active() or {}, inspect.reserved() or {}
        if set(active) == nodes == set(reserved) and not any(active.values()) and not any(reserved.values()):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"the workers are still busy after {REPORT_DEADLINE_S} s: {active}")
        time.sleep(1)


def reports_clear(workers: dict[str, str]) -> None:
    """Every report deleted with its partials, once the workers are idle: the runs after it start cold.

    A section still running when its report is deleted stores its partial
    and finds no record to finish; those partials, with no report, are
    deleted as orphans.
    """
    workers_idle_wait(workers)
    for report in Report.objects.all():
        services.report_delete(report=report)
    services.partials_delete_orphans()


def serial_fast(*, owner, player_ids: list[int], cpu_roots: dict[str, int] | None = None) -> dict:
    """The fast sections of a report computed and stored one after another here, by reports.runner.

    The report is created by the same service as the API (so its messages go
    to the broker); the workers are paused (consumers_paused) and its
    messages purged. The report is then deleted, which removes its partials,
    so the squad report after this one starts cold. One run: its time, and
    the CPU of each role over the whole run (creation and deletion included).
    """

    def one_after_another(task_ids: list[int]) -> None:
        for task_id in task_ids:
            runner.report_task_run(report_task_id=task_id)

    return _fast_sections_run(
        "serial_fast", one_after_another, owner=owner, player_ids=player_ids, cpu_roots=cpu_roots or {}
    )


def parallel_fast(
    pool: multiprocessing.pool.Pool, *, owner, player_ids: list[int], cpu_roots: dict[str, int] | None = None
) -> dict:
    """The same fast sections as serial_fast, computed by a pool of local processes (local_pool).

    The reference for `ready_vs_serial`: the same records and code as the
    serial run, on as many processes as a worker's pool grows to, each taking
    the next record when it is free, with no broker, worker or web server in
    between. What it cannot beat is what two cores give the work itself; what
    a squad report takes beyond it (`ready_vs_parallel`) is the pipeline's.
    """

    def on_the_pool(task_ids: list[int]) -> None:
        for _ in pool.imap_unordered(_local_pool_task, task_ids, chunksize=1):
            pass

    roots: dict[str, int | list[int]] = {**(cpu_roots or {}), "local_pool": _pool_pids(pool)}
    return _fast_sections_run(
        "parallel_fast", on_the_pool, owner=owner, player_ids=player_ids, cpu_roots=roots
    )


def _fast_sections_run(
    name: str,
    run: Callable[[list[int]], None],
    *,
    owner,
    player_ids: list[int],
    cpu_roots: Mapping[str, int | list[int]],
) -> dict:
    before = cpu.cpu_by_role(cpu_roots)
    report, _ = services.report_create(
        owner=owner, player_ids=player_ids, name=f"bench: {name}", sections=FAST_SECTIONS
    )
    task_ids = list(
        ReportTask.objects.filter(report=report).order_by("player_id", "id").values_list("pk", flat=True)
    )
    started = time.perf_counter()
    run(task_ids)
    elapsed = time.perf_counter() - started
    report.refresh_from_db()
    if report.ready_at is None or report.fast_failed:
        raise RuntimeError(
            f"the {name} run did not end cleanly: {report.status}, {report.fast_failed} failed"
        )
    services.report_delete(report=report)
    if Partial.objects.exists():
        raise RuntimeError(
            f"partials are left after deleting the {name} report; the next run would not be cold"
        )
    used = cpu.cpu_used(before, cpu.cpu_by_role(cpu_roots))
    return {
        **{f"{name}_cpu.{role}_s": seconds for role, seconds in used.items()},
        f"{name}_s": elapsed,
        f"{name}_tasks": len(task_ids),
    }


def _local_pool_task(report_task_id: int) -> None:
    runner.report_task_run(report_task_id=report_task_id)


def _pool_pids(pool: multiprocessing.pool.Pool) -> list[int]:
    return [process.pid for process in pool._pool]  # type: ignore[attr-defined]


def _connections_close() -> None:
    """Close what a forked process must not share with this one: database connections, the S3 client's sockets."""
    connections.close_all()
    s3 = getattr(default_storage, "connection", None)  # a boto3 resource on S3; the file system has none
    if s3 is not None:
        s3.meta.client.close()  # its connection pool; the client opens new connections when next used


@contextmanager
def local_pool(processes: int = LOCAL_POOL_PROCESSES) -> Iterator[multiprocessing.pool.Pool]:
    """Processes forked from this one that run sections as a worker's pool processes do, minus the worker.

    They start with what this process has loaded (bench.phase forks them
    after the section timings), as the workers' pool processes start with
    what the worker warmed up (tasks.warmup), and open their own database
    and storage connections. Fork before this process talks to the broker:
    kombu's clean-up after a fork shuts down an inherited broker socket,
    which is the parent's too.
    """
    _connections_close()
    pool = multiprocessing.get_context("fork").Pool(processes)
    try:
        yield pool
    finally:
        pool.terminate()
        pool.join()


def celery_overhead(*, samples: int = 50, burst: int = 600, workers: dict[str, str] | None = None) -> dict:
    """A no-op task through broker and worker: round trip p50, and sustained throughput.

    `task_overhead_ms` is the round trip of a probe with its result (broker,
    worker, Redis and back). `tasks_per_s` is the issue's "sustained no-op
    sections": probes sent as sections are (acknowledged late, no result
    stored, CELERY_TASK_ROUTES' fast queue), `burst` of them queued while the
    fast worker is paused and then drained, timed from its resuming to the
    end of a last probe queued behind them whose result is awaited. Drained
    twice: the first drain grows the pool from one process
    (`tasks_per_s_first_drain`), the second is the figure. Without `workers`
    (the embedded stack) and as before this round (`tasks_with_results_per_s`),
    `burst` probes with results are sent and awaited together, publishing
    included.
    """
    from celery import current_app, group

    probe = current_app.signature("tasks.probe_sleep", args=(0,), queue="fast")
    for _ in range(5):  # warm the worker's process and both connections
        probe.apply_async().get(timeout=60)
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        probe.apply_async().get(timeout=60)
        times.append((time.perf_counter() - started) * 1000)
    started = time.perf_counter()
    group(probe.clone() for _ in range(burst)).apply_async().get(timeout=600)
    with_results = burst / (time.perf_counter() - started)
    figures = {
        "task_overhead_ms": rounded(percentile(times, 50)),
        "task_overhead_p95_ms": rounded(percentile(times, 95)),
        "tasks_with_results_per_s": rounded(with_results),
        "tasks_per_s": rounded(with_results),
    }
    if workers and "fast" in workers:
        drains = [_drain_rate(probe, node=workers["fast"], burst=burst) for _ in range(2)]
        figures["tasks_per_s_first_drain"] = rounded(drains[0])
        figures["tasks_per_s"] = rounded(drains[1])
    return figures


def _drain_rate(probe, *, node: str, burst: int) -> float:
    """No-op probes per second that the fast worker drains from a queue holding `burst` of them."""
    from celery import current_app

    control = current_app.control
    replies = control.cancel_consumer("fast", destination=[node], reply=True, timeout=10)
    if not any(node in reply for reply in replies or ()):
        raise RuntimeError(f"{node} did not stop consuming: {replies}")
    try:
        with current_app.producer_or_acquire() as producer:
            for _ in range(burst):
                probe.apply_async(ignore_result=True, producer=producer)
            last = probe.apply_async(producer=producer)
    finally:
        started = time.perf_counter()
        control.add_consumer("fast", destination=[node], reply=True, timeout=10)
    last.get(timeout=600)
    return (burst + 1) / (time.perf_counter() - started)


def _report_row(report_id: str) -> Report:
    return Report.objects.get(pk=report_id)


def _wait_for(
    report_id: str, condition: Callable[[Report], bool], *, during: Callable[[Report], None] | None = None
):
    deadline = time.monotonic() + REPORT_DEADLINE_S
    while True:
        report = _report_row(report_id)
        if condition(report):
            return report
        if time.monotonic() > deadline:
            raise RuntimeError(f"report {report_id} is still {report.status} after {REPORT_DEADLINE_S} s")
        if during is not None:
            during(report)
        else:
            time.sleep(WATCH_INTERVAL_S)


def squad_cold(
    client: ApiClient, *, player_ids: list[int], name: str, cpu_roots: dict[str, int] | None = None
) -> dict:
    """A squad report from POST to ready and to complete; data reads while slow sections run and after.

    Times are taken against the report's own `ready_at` and `completed_at`,
    written by the workers, from the moment the POST was sent; the CPU of
    each process role from then until the report is seen ready.
    """
    cpu_before = cpu.cpu_by_role(cpu_roots or {})
    posted = time.time()
    body, create_ms = client.report_create(name=name, player_ids=player_ids)
    report_id = body["id"]
    live: list[float] = []
    cpu_at_ready: dict[str, float] = {}

    def read_live(report: Report) -> None:
        if report.ready_at is None:
            time.sleep(WATCH_INTERVAL_S)
            return
        if not cpu_at_ready:
            cpu_at_ready.update(cpu.cpu_by_role(cpu_roots or {}))
        answer, ms = client.report_data(report_id)
        partials = answer.headers.get("X-Report-Source") == merge.SOURCE_PARTIALS
        # Counted only when read while slow sections were still outstanding.
        if answer.status_code == 200 and partials and answer.json()["pending"]:
            live.append(ms)
        time.sleep(LIVE_READ_PAUSE_S)

    report = _wait_for(report_id, lambda r: r.completed_at is not None, during=read_live)
    if report.status != "complete":
        failed = list(
            ReportTask.objects.filter(report_id=report_id, state="failed").values_list("section", "error")[:5]
        )
        raise RuntimeError(f"the squad report ended {report.status}: {failed}")
    # The merged file is written by the completion's outbox row on the slow queue, just after.
    _wait_for(report_id, lambda r: r.merged_generation == r.generation)
    merged = []
    for _ in range(15):
        answer, ms = client.report_data(report_id)
        if answer.headers.get("X-Report-Source") == merge.SOURCE_MERGED:
            merged.append(ms)
    figures = {
        **{
            f"squad_ready_cpu.{role}_s": rounded(seconds)
            for role, seconds in cpu.cpu_used(cpu_before, cpu_at_ready).items()
        },
        "squad_players": len(player_ids),
        "squad_create_ms": rounded(create_ms),
        "squad_ready_s": rounded(report.ready_at.timestamp() - posted),
        "squad_complete_s": rounded(report.completed_at.timestamp() - posted),
        "live_merge_reads": len(live),
        "merged_reads": len(merged),
    }
    if live:
        figures["live_merge_ms"] = rounded(percentile(live, 50))
    if merged:
        figures["merged_read_ms"] = rounded(percentile(merged, 50))
    figures["_report_id"] = report_id
    return figures


def paired_runs(
    client: ApiClient,
    *,
    owner,
    player_ids: list[int],
    name: str,
    workers: dict[str, str],
    pool: multiprocessing.pool.Pool,
    runs: int = RUNS,
    cpu_roots: dict[str, int] | None = None,
) -> dict:
    """The serial baseline, the local pool's run and a cold squad report, one after the other, `runs` times.

    `ready_vs_serial` is the median of each run's ratio, and so are
    `parallel_vs_serial` (what two cores give the work itself) and
    `ready_vs_parallel` (what the pipeline adds to that). The three legs of a
    run take seconds together, so all see the host at the same speed: on a
    shared host that speed drifted by a fifth over minutes, which moved a
    ratio of two medians taken minutes apart by as much. Each squad report is
    deleted, partials and all, but the last, which is kept for the reuse and
    storage measurements.
    """
    serials, parallels, squads = [], [], []
    for run in range(runs):
        with consumers_paused(workers):
            serials.append(serial_fast(owner=owner, player_ids=player_ids, cpu_roots=cpu_roots))
            parallels.append(parallel_fast(pool, owner=owner, player_ids=player_ids, cpu_roots=cpu_roots))
        figures = squad_cold(
            client, player_ids=player_ids, name=f"{name} ({run + 1} of {runs})", cpu_roots=cpu_roots
        )
        if run < runs - 1:
            services.report_delete(report=_report_row(figures["_report_id"]))
            if Partial.objects.exists():
                raise RuntimeError(
                    "partials are left after deleting a squad report; the next run would not be cold"
                )
        squads.append(figures)
    combined = dict(squads[-1])
    cpu_keys = sorted({key for figures in squads for key in figures if key.startswith("squad_ready_cpu.")})
    for key in (
        "squad_create_ms",
        "squad_ready_s",
        "squad_complete_s",
        "live_merge_ms",
        "merged_read_ms",
        *cpu_keys,
    ):
        values = [figures[key] for figures in squads if key in figures]
        if values:
            combined[key] = rounded(statistics.median(values))
    for name, runs_of in (("serial_fast", serials), ("parallel_fast", parallels)):
        for key in sorted({key for figures in runs_of for key in figures if key.startswith(name)}):
            combined[key] = rounded(statistics.median(figures.get(key, 0.0) for figures in runs_of))
        combined[f"{name}_runs_s"] = ", ".join(f"{figures[f'{name}_s']:.2f}" for figures in runs_of)
    for figure, numerators, key, denominators, denominator in (
        ("ready_vs_serial", squads, "squad_ready_s", serials, "serial_fast_s"),
        ("parallel_vs_serial", parallels, "parallel_fast_s", serials, "serial_fast_s"),
        ("ready_vs_parallel", squads, "squad_ready_s", parallels, "parallel_fast_s"),
    ):
        ratios = [
            above[key] / below[denominator] for above, below in zip(numerators, denominators, strict=True)
        ]
        combined[figure] = rounded(statistics.median(ratios))
        combined[f"{figure}_runs"] = ", ".join(f"{value:.3f}" for value in ratios)
    combined["squad_ready_runs_s"] = ", ".join(f"{figures['squad_ready_s']:.2f}" for figures in squads)
    combined["squad_runs"] = runs
    return combined


def squad_reuse(client: ApiClient, *, player_ids: list[int], name: str) -> dict:
    """The same squad again with the data unchanged: every section is reused at creation."""
    posted = time.time()
    body, create_ms = client.report_create(name=name, player_ids=player_ids)
    if body["status"] in ("ready", "complete"):
        ready_s = create_ms / 1000
    else:
        report = _wait_for(body["id"], lambda r: r.ready_at is not None)
        ready_s = report.ready_at.timestamp() - posted
    report = _report_row(body["id"])
    return {
        "reuse_ready_s": rounded(ready_s),
        "reuse_reused_sections": report.fast_reused + report.slow_reused,
    }


def creates(client: ApiClient, *, player_ids: list[int], count: int, label: str) -> list[float]:
    """`count` reports of the same players created through the API; each one's time in ms."""
    times = []
    for index in range(count):
        _, ms = client.report_create(name=f"bench: {label} {index}", player_ids=player_ids)
        times.append(ms)
    return times


def status_sequential(client: ApiClient, report_id: str, *, count: int = 30) -> list[float]:
    """Conditional status GETs one after another, as one browser tab polling."""
    times, etag = [], None
    for _ in range(count):
        answer, ms = client.request(
            "GET", f"/api/reports/{report_id}/", headers={"If-None-Match": etag} if etag else {}
        )
        etag = answer.headers.get("ETag", etag)
        times.append(ms)
    return times


def report_page_first_view(client: ApiClient, *, owner, report_id: str, count: int = 30) -> list[float]:
    """`GET /reports/<id>/` (the report page's first view) signed in by session, as a browser tab opens it.

    The session is made in the bench process (Django's test client logs the
    bench user in; the session lives in the shared database) and its cookie
    sent with each request. Each time, in ms, includes the loopback round trip.
    """
    import requests
    from django.test import Client

    login = Client()
    login.force_login(owner)
    page = requests.Session()
    page.cookies.set(settings.SESSION_COOKIE_NAME, login.cookies[settings.SESSION_COOKIE_NAME].value)
    times = []
    for _ in range(count):
        started = time.perf_counter()
        answer = page.get(f"{client.base_url}/reports/{report_id}/", timeout=30, allow_redirects=False)
        _ = answer.content
        times.append((time.perf_counter() - started) * 1000)
        if answer.status_code != 200:
            raise RuntimeError(f"GET /reports/{report_id}/ answered {answer.status_code}")
    return times


def big_reports_and_pollers(
    client: ApiClient,
    *,
    base_url: str,
    token: str,
    player_ids: list[int],
    repeats: int,
    pollers: int,
    seconds: float,
    log_dir: Path,
) -> dict:
    """Reports of 500 players: API time to accept each; then pollers on the last one while workers run it."""
    times, report_ids = [], []
    for index in range(repeats):
        body, ms = client.report_create(
            name=f"bench: {len(player_ids)} players {index}", player_ids=player_ids
        )
        times.append(ms)
        report_ids.append(body["id"])
    say(f"{pollers} pollers for {seconds:.0f} s on a running {len(player_ids)}-player report...")
    offset = stack.access_log_offset(log_dir)
    polled = status_pollers(
        base_url=base_url, token=token, report_id=report_ids[-1], pollers=pollers, seconds=seconds
    )
    if polled.errors:
        raise RuntimeError(f"{len(polled.errors)} status requests failed, e.g. {polled.errors[0]}")
    server = stack.server_times_ms(
        log_dir, offset=offset, method="GET", path=f"/api/reports/{report_ids[-1]}/"
    )
    progress = _report_row(report_ids[-1])
    deletes = []
    for report_id in report_ids:
        answer, ms = client.request("DELETE", f"/api/reports/{report_id}/")
        if answer.status_code != 204:
            raise RuntimeError(f"DELETE answered {answer.status_code}")
        deletes.append(ms)
    broker_purge()
    return {
        "create_500_players_ms": rounded(percentile(times, 50)),
        "create_500_players_max_ms": rounded(max(times)),
        "status_p50_ms": rounded(percentile(polled.latencies_ms, 50)),
        "status_p99_ms": rounded(percentile(polled.latencies_ms, 99)),
        "status_requests": len(polled.latencies_ms),
        "status_304_share": rounded(polled.statuses.get(304, 0) / len(polled.latencies_ms)),
        "status_500_players_ms": rounded(percentile(polled.latencies_ms, 50)),
        "status_server_p50_ms": rounded(percentile(server, 50)),
        "status_server_p99_ms": rounded(percentile(server, 99)),
        "status_poll_sections_done": progress.fast_done + progress.slow_done,
        "delete_500_players_ms": rounded(percentile(deletes, 50)),
    }


def big_ready(
    client: ApiClient,
    *,
    owner,
    sizes: tuple[int, ...],
    workers: dict[str, str],
    pool: multiprocessing.pool.Pool,
    cpu_roots: dict[str, int] | None = None,
) -> dict:
    """Reports of the `sizes` most-played players, cold: ready time through the pipeline and on the local pool.

    For each size, the local pool's run of the report's fast sections (as
    parallel_fast, workers paused) and then the same players posted to the
    API, from POST to the report's `ready_at`: `big_ready_vs_parallel` for the
    largest size, and per fast section at each size, to show how the time
    grows with the players. The reports ask for the fast sections only: ready
    waits for nothing else (slow sections are published at ready), and a
    500-player report's 2,000 slow sections would hold the two cores for
    minutes after. Every partial must be gone before (each size is cold), and
    each report is deleted after.
    """
    figures: dict = {}
    for size in sizes:
        players = most_played(size)
        if Partial.objects.exists():
            raise RuntimeError(f"partials are left before the {size}-player run; it would not be cold")
        with consumers_paused(workers):
            parallel = parallel_fast(pool, owner=owner, player_ids=players)
        cpu_before = cpu.cpu_by_role(cpu_roots or {})
        posted = time.time()
        body, create_ms = client.report_create(
            name=f"bench: {size} players, cold", player_ids=players, sections=FAST_SECTIONS
        )
        report = _wait_for(body["id"], lambda r: r.ready_at is not None)
        used = cpu.cpu_used(cpu_before, cpu.cpu_by_role(cpu_roots or {}))
        if report.fast_failed:
            raise RuntimeError(f"the {size}-player report had {report.fast_failed} failed sections")
        ready_s = report.ready_at.timestamp() - posted
        sections = report.fast_total
        services.report_delete(report=report)
        figures[f"big_ready.{size}.players"] = len(players)
        figures[f"big_ready.{size}.ready_s"] = rounded(ready_s)
        figures[f"big_ready.{size}.parallel_s"] = rounded(parallel["parallel_fast_s"])
        figures[f"big_ready.{size}.create_ms"] = rounded(create_ms)
        figures[f"big_ready.{size}.ms_per_section"] = rounded(ready_s * 1000 / sections)
        figures[f"big_ready.{size}.vs_parallel"] = rounded(ready_s / parallel["parallel_fast_s"])
        if "fast_pool" in used:
            figures[f"big_ready.{size}.fast_worker_cpu_ms_per_section"] = rounded(
                used["fast_pool"] * 1000 / sections
            )
    largest = max(sizes)
    figures["big_ready_s"] = figures[f"big_ready.{largest}.ready_s"]
    figures["big_ready_vs_parallel"] = figures[f"big_ready.{largest}.vs_parallel"]
    return figures


def s3_costs(report_id: str) -> dict:
    """What the storage itself costs (moto on the production-like stack), measured from this process.

    A PUT and a GET of a partial-sized object, the concurrent fetch of every
    partial that a live merge does, and the GET of the merged file.
    """
    report = _report_row(report_id)
    keys = list(ReportTask.objects.filter(report=report).values_list("partial_key", flat=True))
    sizes = list(Partial.objects.filter(key__in=keys).values_list("size", flat=True))
    size = int(percentile(sizes, 50)) if sizes else 4096
    body = b"x" * size
    probe = f"reports/bench-probe/{size}.json"
    puts, gets, fetches, merged = [], [], [], []
    for _ in range(20):
        started = time.perf_counter()
        default_storage.save(probe, ContentFile(body, name="probe.json"))
        puts.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        with default_storage.open(probe, "rb") as stored:
            stored.read()
        gets.append((time.perf_counter() - started) * 1000)
    default_storage.delete(probe)
    for _ in range(5):
        started = time.perf_counter()
        merge._read_partials(keys)
        fetches.append((time.perf_counter() - started) * 1000)
        if report.merged_key:
            started = time.perf_counter()
            with default_storage.open(report.merged_key, "rb") as stored:
                stored.read()
            merged.append((time.perf_counter() - started) * 1000)
    figures = {
        "storage.put_ms": rounded(percentile(puts, 50)),
        "storage.get_ms": rounded(percentile(gets, 50)),
        "storage.partial_bytes_p50": size,
        "storage.live_merge_fetch_ms": rounded(percentile(fetches, 50)),
        "storage.read_concurrency": settings.REPORT_READ_CONCURRENCY,
    }
    if merged:
        figures["storage.merged_get_ms"] = rounded(percentile(merged, 50))
    return figures


def derived(figures: dict) -> dict:
    """The ratios of figures measured side by side in the same run (ready_vs_serial: paired_runs).

    The pipeline's own CPU per fast section: what the fast worker (its main
    process and its pool, from /proc) used from a squad's POST to ready,
    per fast section, less what the sections' compute alone costs
    (`compute_cpu_ms_per_section`, section_times). The rest is the claim, the
    storage write, the bookkeeping and the worker's handling of the message.
    """
    out = {
        "reuse_speedup": ratio(figures.get("squad_ready_s"), figures.get("reuse_ready_s")),
        "merged_vs_live": ratio(figures.get("merged_read_ms"), figures.get("live_merge_ms")),
    }
    pool_s, players = figures.get("squad_ready_cpu.fast_pool_s"), figures.get("squad_players")
    compute = figures.get("compute_cpu_ms_per_section")
    if isinstance(pool_s, float | int) and players:
        worker = pool_s * 1000 / (players * len(FAST_SECTIONS))
        out["fast_worker_cpu_ms_per_section"] = worker
        if isinstance(compute, float | int):
            out["overhead_cpu_ms_per_section"] = worker - compute
            out["overhead_vs_compute_cpu"] = ratio(worker - compute, compute)
    return {key: rounded(value) for key, value in out.items() if value is not None}


def fast_section_names() -> list[str]:
    return [name for name, section in SECTIONS.items() if section.queue == "fast"]
