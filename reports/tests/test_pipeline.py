"""The report pipeline end to end: API, broker, real workers, storage, merge.

Runs on the embedded stack and again on the production-like one (RabbitMQ,
Redis, MariaDB, moto S3), through the `mysql` marker. Workers are real
processes; tests choose which queues are served to hold a report at a stage.
"""

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from celery import current_app
from django.conf import settings
from django.core.files.storage import default_storage
from rest_framework.test import APIClient

from football.models import Player
from football.tests.factories import PlayerFactory
from reports import dispatch
from reports.models import Partial, Report, ReportStatus, ReportTask, TaskState
from reports.sections import REGISTRY

from .builders import small_league
from .conftest import wait_for

pytestmark = [pytest.mark.mysql, pytest.mark.django_db(transaction=True), pytest.mark.slow]

ALL_SECTIONS = [section.name for section in REGISTRY]
FAST_SECTIONS = [section.name for section in REGISTRY if section.queue == "fast"]


def create(client, player_ids, sections=None, **extra):
    body = {"name": "Test report", "players": player_ids}
    if sections is not None:
        body["sections"] = list(sections)
    response = client.post("/api/reports/", body, format="json", **extra)
    assert response.status_code == 202, response.content
    return response.json()["id"]


def ended(report_id):
    report = Report.objects.get(pk=report_id)
    return report if report.completed_at else None


def ready(report_id):
    report = Report.objects.get(pk=report_id)
    return report if report.ready_at else None


def stored_keys(prefix: str = "reports/") -> set[str]:
    """Every object under a prefix, walking the storage's folders."""
    keys, folders = set(), [prefix.rstrip("/")]
    while folders:
        folder = folders.pop()
        try:
            subfolders, files = default_storage.listdir(folder)
        except FileNotFoundError:
            continue
        keys.update(f"{folder}/{name}" for name in files if not name.startswith(".tmp-"))
        folders.extend(f"{folder}/{name}" for name in subfolders)
    return keys


def test_report_goes_pending_running_ready_complete(workers, auth_client):
    league = small_league()
    player_ids = league.player_ids[:2]
    report_id = create(auth_client, player_ids)

    report = wait_for(lambda: ended(report_id), message="the report to complete")

    assert report.status == ReportStatus.COMPLETE
    assert report.created_at <= report.started_at <= report.ready_at <= report.completed_at
    tasks = list(ReportTask.objects.filter(report=report))
    assert len(tasks) == 2 * len(ALL_SECTIONS)
    assert {task.state for task in tasks} == {TaskState.DONE}
    assert all(task.attempts == 1 and task.duration_ms is not None for task in tasks)
    # Ready when the last fast section ended; complete when the last of all did.
    last_fast = max(task.finished_at for task in tasks if task.queue == "fast")
    assert last_fast <= report.ready_at
    assert max(task.finished_at for task in tasks) <= report.completed_at
    # Slow sections are held back until the report is ready, so they never compete with fast ones.
    assert all(task.started_at >= report.ready_at for task in tasks if task.queue == "slow")

    status = auth_client.get(f"/api/reports/{report_id}/?detail=tasks").json()
    assert status["status"] == "complete"
    assert status["progress"]["fast"] == {
        "total": 2 * len(FAST_SECTIONS),
        "done": 2 * len(FAST_SECTIONS),
        "failed": 0,
        "reused": 0,
    }
    assert status["progress"]["percent"] == 100.0
    assert status["eta_seconds"] == 0
    assert len(status["tasks"]) == 2 * len(ALL_SECTIONS)
    assert {task["state"] for task in status["tasks"]} == {"done"}

    response = auth_client.get(f"/api/reports/{report_id}/data/")
    assert response.status_code == 200
    document = response.json()
    assert document["complete"] is True and document["pending"] == [] and document["failed"] == []
    assert "Pappalardo" in document["credit"]
    for player_id in player_ids:
        sections = document["players"][str(player_id)]
        assert list(sections) == ALL_SECTIONS
        assert sections["profile"]["id"] == player_id
        for name, section in sections.items():
            assert section["section"] == name
        # Pictures are stored by key and answered with a URL.
        assert set(sections["visuals"]["image_urls"]) == set(sections["visuals"]["images"])
        for key in sections["visuals"]["images"].values():
            assert key.startswith("reports/") and default_storage.exists(key)
    assert all(key.startswith("reports/") for key in stored_keys())


def test_data_is_202_then_live_merge_then_one_merged_file(worker_pool, transactional_db, auth_client):
    league = small_league()
    worker_pool.ensure()  # nothing served: the report cannot start
    report_id = create(auth_client, league.player_ids[:2])

    early = auth_client.get(f"/api/reports/{report_id}/data/")
    assert early.status_code == 202
    assert int(early["Retry-After"]) >= 1
    assert early.json()["status"] == "pending"
    # Only fast sections went out, one window of them (reports.fairshare); the slow ones wait for
    # the report to be ready.
    records = ReportTask.objects.filter(report_id=report_id)
    assert records.filter(queue="fast", dispatched_at__isnull=False).count() == min(
        settings.REPORT_WINDOW_SECTIONS, records.filter(queue="fast").count()
    )
    assert (
        records.filter(queue="slow").count()
        == records.filter(queue="slow", dispatched_at__isnull=True).count()
        > 0
    )

    worker_pool.ensure("fast")
    report = wait_for(lambda: ready(report_id), message="the report to be ready")
    assert report.status == ReportStatus.READY and report.completed_at is None
    # The fast worker that made it ready published them: their first window.
    slow_window = min(settings.REPORT_WINDOW_SECTIONS, records.filter(queue="slow").count())
    wait_for(
        lambda: records.filter(queue="slow", dispatched_at__isnull=False).count() == slow_window,
        message="the slow sections to be published",
    )

    live = auth_client.get(f"/api/reports/{report_id}/data/")
    assert live.status_code == 200
    assert live["X-Report-Source"] == "partials"
    document = live.json()
    assert document["complete"] is False
    slow = {name for name in ALL_SECTIONS if name not in FAST_SECTIONS}
    assert {item["section"] for item in document["pending"]} == slow
    assert set(document["players"][str(league.player_ids[0])]) == set(FAST_SECTIONS)

    worker_pool.ensure("fast", "slow")
    wait_for(lambda: ended(report_id), message="the report to complete")

    # Twenty first reads at once: identical bodies and exactly one merge.
    def read(_):
        client = APIClient()
        client.force_authenticate(Report.objects.get(pk=report_id).owner)
        response = client.get(f"/api/reports/{report_id}/data/")
        return response.status_code, response.content

    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(read, range(20)))
    assert {code for code, _ in answers} == {200}
    # Identical but for the signed picture URLs, which carry the second they were signed in.
    assert len({without_signed_urls(body) for _, body in answers}) == 1
    # Reads never write: the merged file is written once, by the outbox row of the completion.
    report = wait_for(
        lambda: Report.objects.filter(pk=report_id, merged_generation=1).first(),
        message="the merged file to be written by the outbox",
    )
    assert report.merge_count == 1
    assert report.merged_generation == report.generation == 1

    later = auth_client.get(f"/api/reports/{report_id}/data/")
    assert later["X-Report-Source"] == "merged"
    assert without_signed_urls(later.content) == without_signed_urls(answers[0][1])


def without_signed_urls(body: bytes) -> bytes:
    document = json.loads(body)
    for sections in document["players"].values():
        sections.get("visuals", {}).pop("image_urls", None)
    return json.dumps(document, sort_keys=True).encode()


def test_same_player_and_data_reuse_stored_partials(workers, auth_client):
    league = small_league()
    first = create(auth_client, league.player_ids[:2], sections=["profile", "season_stats"])
    wait_for(lambda: ended(first), message="the first report")
    partials = Partial.objects.count()

    # With no worker serving, the second report can only complete by reuse.
    workers.ensure()
    second = create(auth_client, league.player_ids[:2], sections=["profile", "season_stats"])
    report = Report.objects.get(pk=second)
    assert report.status == ReportStatus.COMPLETE
    assert Partial.objects.count() == partials
    assert set(ReportTask.objects.filter(report=report).values_list("reused", flat=True)) == {True}
    status = auth_client.get(f"/api/reports/{second}/").json()
    assert status["progress"]["fast"]["reused"] == 4
    first_data = auth_client.get(f"/api/reports/{first}/data/").json()
    second_data = auth_client.get(f"/api/reports/{second}/data/").json()
    assert first_data["players"] == second_data["players"]


def test_a_task_delivered_twice_counts_once(worker_pool, transactional_db, auth_client):
    league = small_league()
    worker_pool.ensure()
    report_id = create(auth_client, league.player_ids[:3], sections=["profile", "match_log"])
    rows = list(ReportTask.objects.filter(report_id=report_id).values("pk", "queue"))
    # Record ids repeat across tests (the tables are emptied), and worker logs are kept per run.
    gone_before = {row["pk"]: worker_log_count(f"report task {row['pk']} is gone") for row in rows}
    # Publish every task a second time, as a redelivery or a duplicate would.
    with current_app.producer_or_acquire() as producer:
        for row in rows:
            dispatch._signature(row, chained=False).apply_async(producer=producer)

    worker_pool.ensure("fast", "slow")
    report = wait_for(lambda: ended(report_id), message="the report to complete")

    assert report.status == ReportStatus.COMPLETE
    assert report.fast_done == report.fast_total == 6
    assert report.fast_failed == 0
    assert ReportTask.objects.filter(report_id=report_id, state=TaskState.DONE).count() == 6

    # Every duplicate was consumed: either after its twin ended (it found the
    # record done and did nothing) or beside it (both claimed the running
    # record, attempts 2, and only one ended it). Either way it counted once.
    def duplicates_consumed():
        attempts = dict(ReportTask.objects.filter(report_id=report_id).values_list("pk", "attempts"))
        return all(
            attempts[row["pk"]] == 2
            or worker_log_count(f"report task {row['pk']} is gone") > gone_before[row["pk"]]
            for row in rows
        )

    wait_for(duplicates_consumed, message="the duplicates to be consumed")
    report.refresh_from_db()
    assert report.fast_done == 6 and report.completed_at is not None


def worker_log_count(text: str) -> int:
    from django.conf import settings

    from .conftest import Path

    return sum(
        path.read_text(errors="replace").count(text)
        for path in (Path(settings.VAR_DIR) / "logs").glob("worker-*.log")
    )


def test_failed_section_fails_the_report_and_retry_completes_it(worker_pool, transactional_db, auth_client):
    league = small_league()
    lost_id = league.player_ids[0]
    worker_pool.ensure()
    report_id = create(auth_client, league.player_ids[:2], sections=["profile"])
    # The player disappears before the section runs: it cannot be computed.
    Player.objects.filter(pk=lost_id).delete()
    worker_pool.ensure("fast", "slow")  # slow: the merged files are written there

    report = wait_for(lambda: ended(report_id), message="the report to end")
    assert report.status == ReportStatus.FAILED
    failed = ReportTask.objects.get(report_id=report_id, state=TaskState.FAILED)
    assert failed.player_id == lost_id
    assert "not in the football database" in failed.error
    document = auth_client.get(f"/api/reports/{report_id}/data/").json()
    assert document["failed"] == [{"player": lost_id, "section": "profile", "error": failed.error}]
    assert document["complete"] is True  # nothing pending: complete, with a failure listed

    PlayerFactory(id=lost_id)
    retried = auth_client.post(f"/api/reports/{report_id}/retry/")
    assert retried.status_code == 202
    assert retried.json()["status"] == "running"

    report = wait_for(lambda: ended(report_id), message="the retried report to complete")
    assert report.status == ReportStatus.COMPLETE
    assert report.generation == 2
    document = auth_client.get(f"/api/reports/{report_id}/data/").json()
    assert document["failed"] == [] and document["report"]["generation"] == 2
    report = wait_for(
        lambda: Report.objects.filter(pk=report_id, merged_generation=2).first(),
        message="the second generation's merged file",
    )
    assert report.merged_key.endswith("/g2.json")
    # The first generation's file is deleted when the second is written.
    assert default_storage.exists(report.merged_key)
    assert not default_storage.exists(report.merged_key.replace("/g2.json", "/g1.json"))

    nothing_left = auth_client.post(f"/api/reports/{report_id}/retry/")
    assert nothing_left.status_code == 400


def test_delete_while_queued_removes_everything_and_tasks_end_quietly(
    worker_pool, transactional_db, auth_client
):
    league = small_league()
    worker_pool.ensure()
    before = worker_log_count("nothing to do")
    report_id = create(auth_client, league.player_ids[:2], sections=["profile", "heatmap"])
    keys = list(ReportTask.objects.filter(report_id=report_id).values_list("partial_key", flat=True))

    assert auth_client.delete(f"/api/reports/{report_id}/").status_code == 204
    assert not Report.objects.filter(pk=report_id).exists()
    assert auth_client.get(f"/api/reports/{report_id}/").status_code == 404

    worker_pool.ensure("fast")
    wait_for(lambda: worker_log_count("nothing to do") >= before + 4, message="the orphaned tasks to end")
    assert Partial.objects.count() == 0
    assert not any(default_storage.exists(key) for key in keys)


def test_delete_keeps_partials_another_report_uses(workers, auth_client):
    league = small_league()
    first = create(auth_client, league.player_ids[:1], sections=["profile"])
    wait_for(lambda: ended(first), message="the first report")
    second = create(auth_client, league.player_ids[:1], sections=["profile"])
    key = Partial.objects.get().key

    auth_client.delete(f"/api/reports/{first}/")
    assert default_storage.exists(key) and Partial.objects.count() == 1
    auth_client.delete(f"/api/reports/{second}/")
    assert not default_storage.exists(key) and Partial.objects.count() == 0


def test_a_publish_lost_after_commit_is_done_by_the_reconciler(workers, auth_client, monkeypatch, settings):
    from reports import outbox
    from reports.models import Outbox
    from reports.services import reports_reconcile

    league = small_league()
    # The process "dies" between commit and publish: the outbox row's own run never happens.
    monkeypatch.setattr(outbox, "outbox_run", lambda **kwargs: False)
    report_id = create(auth_client, league.player_ids[:2], sections=["profile"])
    assert ReportTask.objects.filter(report_id=report_id, dispatched_at__isnull=True).count() == 2
    assert Outbox.objects.filter(report_id=report_id, kind="publish").count() == 1
    monkeypatch.undo()

    assert reports_reconcile()["outbox"] == 0  # within the grace: left to its committer
    settings.REPORT_OUTBOX_GRACE_S = 0
    Outbox.objects.filter(report_id=report_id).update(due_at=timezone_now())
    assert reports_reconcile()["outbox"] == 1
    assert not Outbox.objects.filter(report_id=report_id, kind="publish").exists()

    report = wait_for(lambda: ended(report_id), message="the report to complete")
    assert report.status == ReportStatus.COMPLETE


def timezone_now():
    from django.utils import timezone

    return timezone.now()


def test_reaper_publishes_sections_never_dispatched(workers, auth_client, monkeypatch, settings):
    from datetime import timedelta

    from django.utils import timezone

    from reports import outbox
    from reports.models import Outbox
    from reports.services import report_tasks_reap

    league = small_league()
    # The publish never happens and its outbox row is gone too (deleted by hand): the reaper's net.
    monkeypatch.setattr(outbox, "outbox_run", lambda **kwargs: False)
    report_id = create(auth_client, league.player_ids[:2], sections=["profile"])
    Outbox.objects.filter(report_id=report_id).delete()
    monkeypatch.undo()
    assert ReportTask.objects.filter(report_id=report_id, dispatched_at__isnull=True).count() == 2

    assert report_tasks_reap(now=timezone.now()) == 0  # within the grace: leave it be
    past_grace = timedelta(seconds=settings.REPORT_UNDISPATCHED_GRACE_S + 60)
    assert report_tasks_reap(now=timezone.now() + past_grace) == 2

    report = wait_for(lambda: ended(report_id), message="the reaped report to complete")
    assert report.status == ReportStatus.COMPLETE
    assert report_tasks_reap(now=timezone.now() + past_grace) == 0


def test_reaper_leaves_held_back_slow_sections_until_a_minute_after_ready(
    worker_pool, transactional_db, auth_client, settings
):
    from datetime import timedelta

    from django.utils import timezone

    from reports.services import report_tasks_reap

    league = small_league()
    worker_pool.ensure()  # nothing served
    report_id = create(auth_client, league.player_ids[:2], sections=["profile", "percentiles"])
    held = ReportTask.objects.filter(report_id=report_id, queue="slow", dispatched_at__isnull=True)
    assert held.count() == 2
    # Fast sections went out and are not lost yet; slow ones wait for ready, however long that takes.
    assert report_tasks_reap(now=timezone.now() + timedelta(minutes=5)) == 0

    # Ready past the grace, and nobody published them (the worker that made it ready died).
    past_the_grace = timezone.now() - timedelta(seconds=settings.REPORT_UNDISPATCHED_GRACE_S + 60)
    ReportTask.objects.filter(report_id=report_id, queue="fast").update(
        state=TaskState.DONE, finished_at=past_the_grace
    )
    # (and nothing of the report published since: its window's refills stopped then too)
    Report.objects.filter(pk=report_id).update(
        fast_done=2, ready_at=past_the_grace, status=ReportStatus.READY, dispatched_at=past_the_grace
    )
    assert report_tasks_reap(now=timezone.now()) == 2
    assert not held.exists()

    worker_pool.ensure("slow")
    report = wait_for(lambda: ended(report_id), message="the reaped slow sections to end")
    assert report.status == ReportStatus.COMPLETE


def test_publishing_sections_does_not_subscribe_to_their_results(
    worker_pool, transactional_db, auth_client, monkeypatch
):
    """Nothing reads a section's Celery result (the database holds its state), so a dispatch must not wait for it.

    Celery subscribes the publishing process to a task's result (a Redis
    SUBSCRIBE, then UNSUBSCRIBE when the handle is dropped) unless the message
    says its result is ignored: two round trips per message in the POST.
    """
    subscribed = []
    monkeypatch.setattr(
        current_app.backend, "on_task_call", lambda producer, task_id: subscribed.append(task_id)
    )
    league = small_league()
    worker_pool.ensure()  # nothing served: the messages stay in the broker
    report_id = create(auth_client, league.player_ids[:2], sections=["profile", "season_stats"])

    assert ReportTask.objects.filter(report_id=report_id, dispatched_at__isnull=False).count() == 4
    assert subscribed == []
