"""Publishing a report's section tasks to the broker.

One message per (player, section) on the section's queue. Fast sections go
out when the report is created; slow ones once it is ready (reports.status
publishes them), so they do not compete with the fast ones the analyst waits
for. A section whose dependency is published in the same batch travels in a
Celery chain behind it; one published on its own loads its dependency's
partial from storage. All messages of a dispatch share one channel whose
publisher confirms are awaited together at the end (`_confirmed_batch`);
the records are marked dispatched only once every message is confirmed.
Measurements: docs/performance.md, "Why the code is as it is".
"""

import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import amqp
from celery import current_app, group
from django.conf import settings
from django.db import connections, router
from django.utils import timezone
from kombu import Connection, Producer, pools

from tasks.queues import FAST_QUEUE, SLOW_QUEUE

from . import fairshare
from .exceptions import ServiceUnavailable
from .models import Report, ReportTask, TaskState
from .sections import SECTIONS

logger = logging.getLogger(__name__)

TASK_NAMES = {FAST_QUEUE: "reports.compute_fast_section", SLOW_QUEUE: "reports.compute_slow_section"}
DISPATCH_TASK = "reports.dispatch_report"
# How long a dispatch waits for the broker to confirm its messages.
CONFIRM_TIMEOUT_S = 30
# Rows per UPDATE ... WHERE id IN (...), well under SQLite's variable limit.
UPDATE_BATCH = 900


def celery_task_id(report_task_id: int) -> str:
    """Stable per record, so a re-dispatch or a retry keeps the id that revoke and Flower know."""
    return f"report-task-{report_task_id}"


def broker_ensure_reachable() -> None:
    """Raise ServiceUnavailable (503) when the broker does not answer within BROKER_CHECK_TIMEOUT_S."""
    timeout = settings.BROKER_CHECK_TIMEOUT_S
    try:
        with current_app.connection_for_write(connect_timeout=timeout) as connection:
            connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=timeout)
    except Exception as exc:
        logger.error("broker unreachable: %s", exc)
        raise ServiceUnavailable(
            "The task broker is unreachable; the report was not created. Try again shortly.",
            headers={"Retry-After": "10"},
        ) from exc


def _publishable(report_id):
    """Queued, undispatched records of the report that may go out now: slow ones only once it is ready.

    None of a waiting or cancelled report's (reports.fairshare).
    """
    records = ReportTask.objects.filter(
        report_id=report_id, state=TaskState.QUEUED, dispatched_at__isnull=True
    )
    report = Report.objects.filter(pk=report_id).values_list("ready_at", "status").first()
    if report is None or report[1] in fairshare.PUBLISHING_STOPPED:
        return records.none()
    if report[0] is None:
        records = records.filter(queue=FAST_QUEUE)
    return records


def report_dispatch_after_commit(*, report_id) -> None:
    """Publish a few hundred messages from this process; hand more to a dispatch task.

    With a window (REPORT_WINDOW_SECTIONS) a dispatch publishes at most a
    window per queue, always from this process.
    """
    if (
        settings.REPORT_WINDOW_SECTIONS
        or _publishable(report_id).count() <= settings.REPORT_DISPATCH_INLINE_MAX
    ):
        report_dispatch(report_id=report_id)
    else:
        current_app.send_task(
            DISPATCH_TASK, kwargs={"report_id": str(report_id)}, queue=FAST_QUEUE, ignore_result=True
        )


def _signature(row: dict, *, chained: bool):
    # ignore_result as the tasks declare it (reports.tasks): a signature made by
    # name does not know it, and Celery would subscribe this process to each
    # task's result channel in Redis, and unsubscribe again: two round trips
    # per message that nothing reads, an eighth of a cold POST's time.
    options = {"queue": row["queue"], "task_id": celery_task_id(row["pk"]), "ignore_result": True}
    # A chained task gets its parent's result as first argument; a standalone
    # one gets None in that place, and loads any dependency from storage.
    args = () if chained else (None,)
    return current_app.signature(
        TASK_NAMES[row["queue"]], args=args, kwargs={"report_task_id": row["pk"]}, **options
    )


# How long a dispatch waits for another dispatch of the same report to end.
DISPATCH_LOCK_WAIT_S = CONFIRM_TIMEOUT_S + 30


@contextmanager
def _dispatch_lock(report_id) -> Iterator[None]:
    """One dispatch of a report at a time (two would both read the same undispatched records and publish them twice).

    A named lock of the database server (MySQL's GET_LOCK), not the report's
    row: a section finishing locks its record, then the report's row for the
    counters, and a dispatch holding the report's row while it marks those
    records dispatched would deadlock with it. Held by the connection, so a
    process that dies releases it. SQLite (the embedded stack, one machine):
    no lock.
    """
    connection = connections[router.db_for_write(ReportTask)]
    if connection.vendor != "mysql":
        yield
        return
    name = f"reports.dispatch:{uuid.UUID(str(report_id)).hex}"
    with connection.cursor() as cursor:
        cursor.execute("SELECT GET_LOCK(%s, %s)", [name, DISPATCH_LOCK_WAIT_S])
        (acquired,) = cursor.fetchone()
    if acquired != 1:
        # Raised: the outbox row or the dispatch task tries again later.
        raise TimeoutError(
            f"another dispatch of report {report_id} held its lock for {DISPATCH_LOCK_WAIT_S} s"
        )
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT RELEASE_LOCK(%s)", [name])


def report_dispatch(*, report_id) -> int:
    """Publish the report's queued, undispatched records (slow ones once it is ready); returns how many."""
    with _dispatch_lock(report_id):
        return _report_dispatch(report_id=report_id)


def _report_dispatch(*, report_id) -> int:
    # As many as the report's window has room for; the rest stay in the
    # database until sections of the report end (reports.fairshare).
    rows: list[dict[str, Any]] = fairshare.window_select(
        report_id=report_id,
        publishable=_publishable(report_id),
        fields=("pk", "player_id", "section", "queue"),
    )
    if not rows:
        return 0
    by_player: dict[int, dict[str, dict]] = defaultdict(dict)
    for row in rows:
        by_player[row["player_id"]][row["section"]] = row

    def build(row: dict, sections: dict[str, dict], *, chained: bool):
        signature = _signature(row, chained=chained)
        children = [
            build(child, sections, chained=True)
            for name, child in sections.items()
            if SECTIONS[name].depends_on == row["section"]
        ]
        if not children:
            return signature
        return signature | (children[0] if len(children) == 1 else group(children))

    signatures = []
    for sections in by_player.values():
        for name, row in sections.items():
            dependency = SECTIONS[name].depends_on
            if dependency and dependency in sections:
                continue  # travels in its dependency's chain
            signatures.append(build(row, sections, chained=False))

    with _confirmed_batch() as producer:
        for signature in signatures:
            signature.apply_async(producer=producer)

    now = timezone.now()
    ids = [row["pk"] for row in rows]
    for start in range(0, len(ids), UPDATE_BATCH):
        ReportTask.objects.filter(
            pk__in=ids[start : start + UPDATE_BATCH], dispatched_at__isnull=True
        ).update(dispatched_at=now)
    Report.objects.filter(pk=report_id).update(dispatched_at=now)
    logger.info("dispatched %d sections of report %s", len(ids), report_id)
    return len(ids)


class _Confirms:
    """Counts a channel's publishes and the broker's confirms of them (delivery tags 1, 2, ... per channel).

    The channel is on a connection without kombu's `confirm_publish`, so
    py-amqp's publish does not wait for each message's confirm; the channel is
    put in confirm mode here (`confirm_select`), so the broker confirms every
    message all the same, and `wait` awaits them together. Only py-amqp's
    public channel API is used: no publish method is replaced. Upstream has
    no batch confirm yet (celery/celery#9887); the canary is
    reports/tests/test_dispatch.py::test_a_confirmed_batch_delivers_every_message.
    """

    def __init__(self, channel: amqp.Channel):
        self.channel = channel
        self.sent = 0
        self.unconfirmed: set[int] = set()
        self.nacked = 0
        channel.confirm_select()
        channel.events["basic_ack"].add(self._acked)
        channel.events["basic_nack"].add(self._nacked)

    def published(self) -> None:
        self.sent += 1
        self.unconfirmed.add(self.sent)

    def _settle(self, delivery_tag: int, multiple: bool) -> int:
        settled = {tag for tag in self.unconfirmed if tag <= delivery_tag} if multiple else {delivery_tag}
        self.unconfirmed -= settled
        return len(settled)

    def _acked(self, delivery_tag: int, multiple: bool) -> None:
        self._settle(delivery_tag, multiple)

    def _nacked(self, delivery_tag: int, multiple: bool) -> None:
        self.nacked += self._settle(delivery_tag, multiple)

    def wait(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.unconfirmed:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(
                    f"the broker confirmed {self.sent - len(self.unconfirmed)} of {self.sent} messages"
                )
            try:
                self.channel.connection.drain_events(timeout=remaining)
            except TimeoutError:
                continue
        if self.nacked:
            raise amqp.exceptions.MessageNacked(f"the broker refused {self.nacked} of {self.sent} messages")


class _CountingProducer(Producer):
    """A producer that tells its batch's _Confirms of each message it publishes."""

    confirms: _Confirms | None = None

    def publish(self, *args, **kwargs):
        if self.confirms is not None:
            self.confirms.published()
        return super().publish(*args, **kwargs)


def _publishing_connection(app) -> Connection:
    # The key of kombu's pool for it (kombu.pools: one pool per URL and options, reset after a fork).
    # Made each time (no I/O): the broker a process is configured for may change, as tests change it.
    return app.connection_for_write(transport_options={"confirm_publish": False})


def _channel(connection):
    """A new channel on a pooled connection; one the broker dropped meanwhile (a restart) is replaced once.

    A pooled connection whose last connect failed (the broker was down when
    an earlier publish tried) comes back closed: kombu then hands the
    transport no socket at all (AttributeError on None), and only a new
    connect opens it again.
    """
    try:
        return connection.channel()
    except (*connection.connection_errors, AttributeError):
        connection.collect()  # forget the dead socket without talking to it
        connection.ensure_connection(max_retries=1)
        return connection.channel()


@contextmanager
def _confirmed_batch() -> Iterator[Any]:
    """A producer on a channel of its own whose messages the broker confirms together when the block ends.

    On a broker without publisher confirms (the embedded filesystem transport)
    it is a plain producer. Raises if a message is refused or not confirmed
    in CONFIRM_TIMEOUT_S.
    """
    app = current_app._get_current_object()
    with pools.connections[_publishing_connection(app)].acquire(block=True) as connection:
        channel = _channel(connection)
        try:
            producer = _CountingProducer(channel)
            confirming = app.conf.broker_transport_options.get("confirm_publish") and isinstance(
                channel, amqp.Channel
            )
            if not confirming:
                yield producer
                return
            producer.confirms = confirms = _Confirms(channel)
            yield producer
            confirms.wait(CONFIRM_TIMEOUT_S)
        finally:
            channel.close()


def tasks_revoke(*, task_ids: list[str]) -> None:
    if not task_ids:
        return
    try:
        current_app.control.revoke(task_ids)
    except Exception:  # best effort: a task whose record is gone ends quietly anyway
        logger.warning("could not revoke %d tasks", len(task_ids), exc_info=True)
