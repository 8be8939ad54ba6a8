"""Fair share between analysts: a window of sections per report, per-user limits, queue position, cancel.

The queues are first in, first out. Published all at once, a 500-player
report's 2,500 fast messages stood in front of every report posted after it.
So a report hands the broker at most REPORT_WINDOW_SECTIONS sections per queue
(queued there or running); the rest stay `queued` in the database with no
dispatch time. Every REPORT_WINDOW_REFILL-th section of a report that ends
writes a `publish` outbox row in its own terminal transaction (so the count is
exact: each end moves the report's counters once, and reads back its own
update), and that row tops the window up again. A report posted later joins
the back of the queue behind at most one window of each report before it, and
from then on the reports' refills alternate in the queue: round robin, made by
the broker's own order, on RabbitMQ and on the embedded filesystem transport
alike. A report alone keeps its window full: its pool never waits for work,
and it pays one publish per REPORT_WINDOW_REFILL sections
(docs/performance.md).

Shortest work first, bounded: a report with at most REPORT_WINDOW_WHOLE
sections left on a queue (30 by default, a shortlist of six players; 0: none)
may have more than a window in flight: all of them when it is alone on the
queue or behind one other report, and beside more a part of what is in
flight that shrinks with theirs (`shortlist_burst`). Behind a big report it
waits for one window, then its sections stand in front of the big one's next
refills, so a shortlist posted after a 500-player report is ready in one pass
instead of taking turns; beside four reports it takes about two windows
before turns, so it does not run at twice their rate (docs/performance.md).

Nothing about at-least-once changes: a window's records are published by the
same dispatch (marked dispatched only once confirmed), the refill is an
outbox row (a crash after the commit leaves it for the reconciler), and a
window whose refill was lost is found by the reconciler as records never
dispatched while their report has not dispatched for
REPORT_UNDISPATCHED_GRACE_S (reports.services._never_dispatched).

Per user: a new report whose sections would take its owner's outstanding
sections over the limit (REPORT_USER_MAX_OUTSTANDING, or the user's
AnalystQuota) is created `waiting`, with nothing published; one of a user with
nothing outstanding always starts, so none is refused. The owner's waiting
reports are released oldest first, while they fit, by a `release_waiting`
outbox row written when room may have freed: with a refill, when a report
ends, is cancelled or deleted; and by the reconciler every minute.
"""

import logging
import math

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Case, Count, F, Q, QuerySet, Subquery, Sum, Value, When
from django.utils import timezone

from tasks.queues import FAST_QUEUE, SLOW_QUEUE

from .exceptions import ApplicationError
from .models import AnalystQuota, OutboxKind, Report, ReportStatus, ReportTask, TaskState
from .outbox import outbox_add
from .sections import SECTIONS
from .status import revised, revision_note_after_commit

logger = logging.getLogger(__name__)

# A report whose sections may still be published: not waiting, not ended.
OUTSTANDING_REPORT = Q(completed_at__isnull=True) & ~Q(status=ReportStatus.WAITING)
_REMAINING = (
    F("fast_total") - F("fast_done") - F("fast_failed") + F("slow_total") - F("slow_done") - F("slow_failed")
)
IN_FLIGHT_STATES = (TaskState.QUEUED, TaskState.RUNNING, TaskState.RETRYING)
# The least a section is taken to cost in an ETA.
MIN_SECTION_MS = 1.0


# --- The window ---------------------------------------------------------------------------


def window_room(*, report_id) -> dict[str, int] | None:
    """Per queue, how many more of the report's sections its window takes now; None with no window.

    A report with at most REPORT_WINDOW_WHOLE sections left on a queue (a
    shortlist) may have more than a window in flight there: all of them when
    no other report has sections in flight on the queue, and beside others a
    fixed multiple of an equal share of what is in flight (`shortlist_burst`).
    Behind one big report a shortlist goes out whole and ends in one pass;
    beside four it takes turns after about two windows (docs/architecture.md).
    """
    window = settings.REPORT_WINDOW_SECTIONS
    if not window:
        return None
    in_flight = dict(
        ReportTask.objects.filter(
            report_id=report_id, state__in=IN_FLIGHT_STATES, dispatched_at__isnull=False
        )
        .values_list("queue")
        .annotate(n=Count("pk"))
        .order_by()
    )
    # The counters are read only where shortlists are on (REPORT_WINDOW_WHOLE=0: strict turns).
    left = _sections_left(report_id) if settings.REPORT_WINDOW_WHOLE else {}
    room = {}
    for queue in (FAST_QUEUE, SLOW_QUEUE):
        allowed = window
        # A shortlist no bigger than a window needs no count of the others.
        if window < left.get(queue, 0) <= settings.REPORT_WINDOW_WHOLE:
            allowed = min(left[queue], shortlist_burst(reports=_others_in_flight(report_id, queue)))
        room[queue] = max(0, allowed - in_flight.get(queue, 0))
    return room


def shortlist_burst(*, reports: int) -> int:
    """Sections a shortlist may have in flight on a queue where `reports` other reports have theirs.

    Each other report holds up to a window W, so with b of the shortlist's
    in flight its part is b / (b + reports * W), against an equal share of
    1 / (reports + 1). The rule is a fixed multiple s of the equal share, the
    one that lets a shortlist of REPORT_WINDOW_WHOLE sections out whole
    behind one report: s = 2 * WHOLE / (WHOLE + W), 1.58 with 30 and 8, and
    so b <= s * reports * W / (reports + 1 - s). Beside more reports the
    shortlist's part shrinks with everyone's: with the defaults 30 sections
    behind one report, 14 beside four, never under one window. Alone it may
    have all it has left (at most WHOLE). Integer arithmetic: behind one
    report the bound is exactly WHOLE.
    """
    window, whole = settings.REPORT_WINDOW_SECTIONS, settings.REPORT_WINDOW_WHOLE
    if not reports:
        return whole
    bound = 2 * whole * reports * window // ((reports + 1) * (whole + window) - 2 * whole)
    return max(window, bound)


def _others_in_flight(report_id, queue: str) -> int:
    """How many other reports have sections in the broker or running on the queue: one query."""
    return (
        ReportTask.objects.filter(queue=queue, state__in=IN_FLIGHT_STATES, dispatched_at__isnull=False)
        .exclude(report_id=report_id)
        .values("report_id")
        .distinct()
        .count()
    )


def _sections_left(report_id) -> dict[str, int]:
    """Per queue, the report's sections not ended yet (in flight or still in the database), from its counters."""
    row = (
        Report.objects.filter(pk=report_id)
        .values("fast_total", "fast_done", "fast_failed", "slow_total", "slow_done", "slow_failed")
        .first()
    )
    if row is None:
        return {FAST_QUEUE: 0, SLOW_QUEUE: 0}
    return {
        FAST_QUEUE: row["fast_total"] - row["fast_done"] - row["fast_failed"],
        SLOW_QUEUE: row["slow_total"] - row["slow_done"] - row["slow_failed"],
    }


def window_select(*, report_id, publishable: QuerySet, fields: tuple[str, ...]) -> list[dict]:
    """Of the report's publishable records, the `fields` of those its window has room for now.

    Oldest records first (players in the order they were asked for), and only
    as many read per queue as there is room for: a refill of a 500-player
    report reads a window's records, not the 2,500 still queued (7.4 ms of
    CPU at its start, every REPORT_WINDOW_REFILL sections, which made the
    report's dispatch cost grow with the square of its size). `fields` must
    hold pk, player_id, section and queue.
    """
    publishable = publishable.order_by("pk")
    room = window_room(report_id=report_id)
    if room is None:
        return [dict(row) for row in publishable.values(*fields)]
    chosen: list[dict] = []
    for queue, free in room.items():
        if free:
            chosen += [dict(row) for row in publishable.filter(queue=queue).values(*fields)[:free]]
    chosen.sort(key=lambda row: row["pk"])
    return _dependents_with_their_dependency(chosen, publishable)


def _dependents_with_their_dependency(chosen: list[dict], publishable: QuerySet) -> list[dict]:
    """`chosen` less the sections whose dependency is publishable but was not chosen.

    Published alone such a section would find its dependency still queued; it
    stays back with it. (visuals after shot_map: only when a retried shot_map
    is queued again beside it.) One query, only when a dependent was chosen
    without its dependency.
    """
    chosen_keys = {(row["player_id"], row["section"]) for row in chosen}
    players_by_dependency: dict[str, set[int]] = {}
    for row in chosen:
        dependency = SECTIONS[row["section"]].depends_on
        if dependency and (row["player_id"], dependency) not in chosen_keys:
            players_by_dependency.setdefault(dependency, set()).add(row["player_id"])
    if not players_by_dependency:
        return chosen
    left_out = {
        (player_id, dependency)
        for dependency, players in players_by_dependency.items()
        for player_id in publishable.filter(section=dependency, player_id__in=players).values_list(
            "player_id", flat=True
        )
    }
    kept = []
    # In record order a dependency comes before its dependents, so a chain stays back whole.
    for row in chosen:
        dependency = SECTIONS[row["section"]].depends_on
        if dependency and (row["player_id"], dependency) in left_out:
            left_out.add((row["player_id"], row["section"]))
            continue
        kept.append(row)
    return kept


# Reports that publish nothing (a refill or a reaper's row may still run for them).
PUBLISHING_STOPPED = (ReportStatus.WAITING, ReportStatus.CANCELLED)


def section_ended(*, report_id, row: dict) -> None:
    """Called in the terminal transition of one of the report's sections, with the report's row as it left it.

    Every REPORT_WINDOW_REFILL-th end tops the window up (a publish row), and
    lets the owner's waiting reports in if room freed up. `row` holds the
    counters, completed_at and owner_id read back after this end's own update.
    """
    refill = settings.REPORT_WINDOW_REFILL
    if not settings.REPORT_WINDOW_SECTIONS or refill <= 0 or row["completed_at"] is not None:
        return
    ended = row["fast_done"] + row["fast_failed"] + row["slow_done"] + row["slow_failed"]
    # The report's last end has nothing left to publish: its completion releases instead.
    if ended % refill or ended >= row["fast_total"] + row["slow_total"]:
        return
    outbox_add(kind=OutboxKind.PUBLISH, report_id=report_id)
    waiting_release_later(owner_id=row["owner_id"])


def report_ended(*, report_id) -> None:
    """In the transaction that ended the report: its owner's waiting reports may fit now.

    One query when the owner has none waiting, the usual case.
    """
    owner = Report.objects.filter(pk=report_id).values("owner_id")
    waiting = (
        Report.objects.filter(owner_id__in=Subquery(owner), status=ReportStatus.WAITING)
        .values_list("owner_id", flat=True)
        .first()
    )
    if waiting is not None:
        outbox_add(kind=OutboxKind.RELEASE_WAITING, payload={"owner_id": waiting})


def waiting_release_later(*, owner_id) -> None:
    """In the current transaction: a row releasing the owner's waiting reports once it commits, if they have any."""
    if Report.objects.filter(owner_id=owner_id, status=ReportStatus.WAITING).exists():
        outbox_add(kind=OutboxKind.RELEASE_WAITING, payload={"owner_id": owner_id})


# --- Per-user limits ----------------------------------------------------------------------


def user_limit(owner_id) -> int:
    """The owner's limit of outstanding sections: their AnalystQuota, else the setting (0: none)."""
    own = AnalystQuota.objects.filter(user_id=owner_id).values_list("max_outstanding_sections", flat=True)
    limit = own.first()
    return settings.REPORT_USER_MAX_OUTSTANDING if limit is None else limit


def user_outstanding(owner_id, *, exclude_report=None) -> int:
    reports = Report.objects.filter(OUTSTANDING_REPORT, owner_id=owner_id)
    if exclude_report is not None:
        reports = reports.exclude(pk=exclude_report)
    return reports.aggregate(n=Sum(_REMAINING))["n"] or 0


def _fits(*, outstanding: int, sections: int, limit: int) -> bool:
    # A user with nothing outstanding always starts, so no report is refused for its size.
    return not limit or outstanding == 0 or outstanding + sections <= limit


def owner_lock(owner_id) -> None:
    """The owner's row lock, which orders creations and releases of one user's reports.

    A creation takes it first in its transaction, before it inserts the
    report: the insert's foreign-key check holds a shared lock on the same
    row, and two creations upgrading theirs would deadlock.
    """
    get_user_model().objects.select_for_update().filter(pk=owner_id).values_list("pk").first()


def report_must_wait(*, report: Report, queued: int) -> bool:
    """At creation, in its transaction: whether the new report waits for its owner's other reports.

    It waits too while older reports of the owner wait: they are released in order.
    The owner's row lock orders this against a release running at the same time.
    """
    owner_id = report.owner_id
    owner_lock(owner_id)
    if Report.objects.filter(owner_id=owner_id, status=ReportStatus.WAITING).exists():
        return True
    return not _fits(
        outstanding=user_outstanding(owner_id, exclude_report=report.pk),
        sections=queued,
        limit=user_limit(owner_id),
    )


def waiting_release(*, owner_id) -> int:
    """Start the owner's waiting reports, oldest first, while they fit under the limit; returns how many.

    Under the owner's row lock, so two releases (or a release and a creation)
    never both count the same room. Each released report gets its publish row
    in the same transaction; the ones still waiting get a new revision (their
    position moved).
    """
    released = 0
    with transaction.atomic():
        owner_lock(owner_id)
        waiting = list(
            Report.objects.filter(owner_id=owner_id, status=ReportStatus.WAITING)
            .order_by("created_at", "pk")
            .annotate(remaining=_REMAINING)
            .values_list("pk", "remaining")
        )
        if not waiting:
            return 0
        limit = user_limit(owner_id)
        outstanding = user_outstanding(owner_id)
        for report_id, remaining in waiting:
            if not _fits(outstanding=outstanding, sections=remaining, limit=limit):
                break  # in order: a later, smaller report does not overtake this one
            moved = Report.objects.filter(pk=report_id, status=ReportStatus.WAITING).update(
                **revised(
                    status=Case(
                        When(ready_at__isnull=False, then=Value(ReportStatus.READY)),
                        When(started_at__isnull=False, then=Value(ReportStatus.RUNNING)),
                        default=Value(ReportStatus.PENDING),
                    )
                )
            )
            if moved:
                outbox_add(kind=OutboxKind.PUBLISH, report_id=report_id)
                revision_note_after_commit(report_id)
                outstanding += remaining
                released += 1
        if released:
            waiting_positions_moved(owner_id=owner_id)
            logger.info("released %d waiting reports of user %s", released, owner_id)
    return released


def waiting_positions_moved(*, owner_id) -> None:
    """In the current transaction: the owner's waiting reports get a new revision, so pollers see their new place.

    When one before them starts, is cancelled or is deleted. Not on every
    refill: a waiting report's pollers would get a new body every few sections
    of the owner's running reports (measured: docs/performance.md, 2026-12-07).
    """
    still = Report.objects.filter(owner_id=owner_id, status=ReportStatus.WAITING)
    still.update(**revised())
    for report_id in still.values_list("pk", flat=True):
        revision_note_after_commit(report_id)


def waiting_release_all() -> int:
    """The reconciler's net: every user with waiting reports gets a release pass."""
    owners = Report.objects.filter(status=ReportStatus.WAITING).values_list("owner_id", flat=True).distinct()
    return sum(waiting_release(owner_id=owner_id) for owner_id in list(owners))


# --- Queue position and ETA ---------------------------------------------------------------


def _open_reports() -> list[tuple]:
    """(id, owner, status, created_at, fast remaining, slow remaining) of every report not ended.

    One query over the open reports (a handful on a department's service),
    made when a status body is built: once per revision of the report, since
    the body is kept in Redis beside its revision (reports.status_cache).
    """
    return list(
        Report.objects.filter(completed_at__isnull=True)
        .annotate(
            fast_left=F("fast_total") - F("fast_done") - F("fast_failed"),
            slow_left=F("slow_total") - F("slow_done") - F("slow_failed"),
        )
        .values_list("pk", "owner_id", "status", "created_at", "fast_left", "slow_left")
    )


def _own_remaining(report: Report) -> dict[str, int]:
    return {
        FAST_QUEUE: report.fast_total - report.fast_done - report.fast_failed,
        SLOW_QUEUE: report.slow_total - report.slow_done - report.slow_failed,
    }


def sections_ahead(report: Report) -> dict[str, int]:
    """Per queue, the other reports' sections that run before this one's last.

    Running reports share the workers in turn (the windows), so each other
    running report delays this one by at most as many sections as this one
    has left: min(theirs, mine) (processor sharing). A report that goes out
    whole (REPORT_WINDOW_WHOLE) takes no turns: each other report delays it
    by its window at most, or all it has left when that goes out whole too.
    A waiting report also has ahead of it everything running and the owner's
    reports that wait before it. Slow sections of a report not ready yet
    count once it is.
    """
    # Kept on the instance: the status body asks for the queue and for the ETA, one query for both.
    known = getattr(report, "_sections_ahead", None)
    if known is not None and known[0] == report.revision:
        return known[1]
    own = _own_remaining(report)
    waiting = report.status == ReportStatus.WAITING
    ahead = {FAST_QUEUE: 0, SLOW_QUEUE: 0}
    for pk, owner_id, status, created_at, fast_left, slow_left in _open_reports():
        if pk == report.pk:
            continue
        theirs = {FAST_QUEUE: max(0, fast_left), SLOW_QUEUE: max(0, slow_left)}
        if status == ReportStatus.WAITING:
            if not (
                waiting
                and owner_id == report.owner_id
                and (created_at, str(pk))
                < (
                    report.created_at,
                    str(report.pk),
                )
            ):
                continue
            for queue in ahead:
                ahead[queue] += theirs[queue]
            continue
        for queue in ahead:
            ahead[queue] += theirs[queue] if waiting else _delay(theirs=theirs[queue], mine=own[queue])
    report._sections_ahead = (report.revision, ahead)  # type: ignore[attr-defined]
    return ahead


def _delay(*, theirs: int, mine: int) -> int:
    """How many of another running report's `theirs` sections left run before this one's `mine` last.

    A shortlist is taken to go out whole, as it does behind one other report
    (beside more it takes some turns: the ETA is then a little early).
    """
    whole, window = settings.REPORT_WINDOW_WHOLE, settings.REPORT_WINDOW_SECTIONS
    if window and 0 < mine <= whole:
        return theirs if theirs <= whole else min(theirs, window)
    return min(theirs, mine)


def report_queue(report: Report) -> dict:
    """The status body's `queue`: position among the owner's waiting reports (0: not waiting), sections ahead."""
    if report.completed_at is not None:
        return {"position": 0, "sections_ahead": 0}
    position = 0
    if report.status == ReportStatus.WAITING:
        position = (
            Report.objects.filter(owner_id=report.owner_id, status=ReportStatus.WAITING)
            .filter(Q(created_at__lt=report.created_at) | Q(created_at=report.created_at, pk__lt=report.pk))
            .count()
            + 1
        )
    return {"position": position, "sections_ahead": sum(sections_ahead(report).values())}


def report_eta_seconds(report: Report, *, durations: dict[str, float], parallelism: int) -> int | None:
    """Seconds until the report ends: its own sections and the ones ahead of it, per queue, over the pools."""
    if report.completed_at is not None:
        return 0
    own = _own_remaining(report)
    ahead = sections_ahead(report)
    per_queue = []
    for queue in (FAST_QUEUE, SLOW_QUEUE):
        names = [name for name in report.sections if SECTIONS[name].queue == queue]
        if not names or not own[queue]:
            continue
        # A section is never free: one recorded as 0 ms (faster than the clock's step) counts as MIN_SECTION_MS.
        mean_ms = sum(max(durations.get(name, 1000.0), MIN_SECTION_MS) for name in names) / len(names)
        per_queue.append((own[queue] + ahead[queue]) * mean_ms / 1000 / parallelism)
    # Rounded up: work outstanding is never announced as done in 0 s.
    return math.ceil(max(per_queue)) if per_queue else 0


# --- Cancel -------------------------------------------------------------------------------


def cancelled_task_end(*, report_task_id) -> bool:
    """A running record whose report was cancelled meanwhile ends `cancelled`; True if it did.

    For a section that would otherwise go back to the queue (a retry, or a
    heal that computes its input again): cancel stopped what had not
    started, and a section waiting to run again has not.
    """
    return bool(
        ReportTask.objects.filter(
            pk=report_task_id, state=TaskState.RUNNING, report__status=ReportStatus.CANCELLED
        ).update(state=TaskState.CANCELLED, finished_at=timezone.now(), error="cancelled")
    )


def report_cancel(*, report: Report) -> Report:
    """End the report `cancelled`: sections not started never run; running ones finish and stay readable.

    One transaction under the report's row lock: its queued and retrying
    records become `cancelled` (a worker that gets their message finds nothing
    to claim), the report ends, and its owner's waiting reports may start.
    Partials, shared with other reports or not, stay. Raises 409 for a report
    that has already ended.
    """
    with transaction.atomic():
        locked = (
            Report.objects.select_for_update()
            .filter(pk=report.pk)
            .values_list("completed_at", "status")
            .first()
        )
        if locked is None or locked[0] is not None:
            raise ApplicationError(
                "The report has already ended; there is nothing to cancel.", status_code=409
            )
        stopped = list(
            ReportTask.objects.filter(
                report_id=report.pk, state__in=[TaskState.QUEUED, TaskState.RETRYING]
            ).values_list("pk", "dispatched_at")
        )
        ReportTask.objects.filter(
            pk__in=[pk for pk, _ in stopped], state__in=[TaskState.QUEUED, TaskState.RETRYING]
        ).update(state=TaskState.CANCELLED, finished_at=timezone.now(), error="cancelled")
        Report.objects.filter(pk=report.pk).update(
            **revised(status=ReportStatus.CANCELLED, completed_at=timezone.now())
        )
        revision_note_after_commit(report.pk)
        if locked[1] == ReportStatus.WAITING:
            waiting_positions_moved(owner_id=report.owner_id)
        waiting_release_later(owner_id=report.owner_id)
    from . import dispatch

    # Their messages would end quietly anyway; revoked, the workers skip them.
    dispatch.tasks_revoke(task_ids=[dispatch.celery_task_id(pk) for pk, dispatched in stopped if dispatched])
    logger.info("report %s cancelled: %d sections will not run", report.pk, len(stopped))
    report.refresh_from_db()
    return report
