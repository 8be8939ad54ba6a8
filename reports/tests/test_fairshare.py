"""Fair share (reports.fairshare) with real workers: windows, waiting reports, queue position, cancel.

Runs on the embedded stack and again on the production-like one (the
`mysql` marker). The test settings give every report a window of
REPORT_WINDOW_SECTIONS (6) sections, topped up every REPORT_WINDOW_REFILL (3)
ends, so a report of a few players is dispatched in several refills.
"""

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone
from rest_framework.test import APIClient

from reports.models import AnalystQuota, Outbox, Partial, Report, ReportStatus, ReportTask, TaskState
from reports.sections import REGISTRY

from .builders import small_league
from .conftest import wait_for

pytestmark = [pytest.mark.mysql, pytest.mark.django_db(transaction=True), pytest.mark.slow]

FAST_SECTIONS = [section.name for section in REGISTRY if section.queue == "fast"]
TIMEOUT_S = 120


def create(client, player_ids, sections=FAST_SECTIONS) -> dict:
    response = client.post("/api/reports/", {"players": player_ids, "sections": sections}, format="json")
    assert response.status_code == 202, response.content
    return response.json()


def ended(report_id):
    report = Report.objects.get(pk=report_id)
    return report if report.completed_at else None


def client_of(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user=user)
    return client


def assert_each_section_ended_once(report_id) -> None:
    """Every record done, computed once, and the counters equal to the records: nothing lost or counted twice."""
    report = Report.objects.get(pk=report_id)
    records = list(ReportTask.objects.filter(report_id=report_id))
    assert {record.state for record in records} == {TaskState.DONE}
    fast = [record for record in records if record.queue == "fast"]
    assert report.fast_done == report.fast_total == len(fast)
    assert report.slow_done == report.slow_total == len(records) - len(fast)
    from reports.services import reports_reconcile

    assert reports_reconcile()["recounted"] == 0


def test_a_small_report_overtakes_a_big_one(worker_pool, transactional_db, auth_client, other_user):
    big_players, small_players = small_league().player_ids, small_league().player_ids
    worker_pool.ensure()  # nothing served: both reports are queued before any section runs
    big = create(auth_client, big_players)["id"]
    small = create(client_of(other_user), small_players[:1], ["profile"])["id"]
    # Only the big report's window is in the broker, ahead of the small one; the rest wait in the database.
    window = settings.REPORT_WINDOW_SECTIONS
    assert ReportTask.objects.filter(report_id=big, dispatched_at__isnull=False).count() == window
    assert (
        ReportTask.objects.filter(report_id=big).count() == len(big_players) * len(FAST_SECTIONS) > 4 * window
    )

    worker_pool.ensure("fast")
    small_report = wait_for(lambda: ended(small), timeout=TIMEOUT_S, message="the small report")
    # First in, first out, it ended after all 40 of the big one's; here after about one window of them.
    big_before = ReportTask.objects.filter(report_id=big, finished_at__lte=small_report.completed_at).count()
    assert big_before <= 2 * window
    wait_for(lambda: ended(big), timeout=TIMEOUT_S, message="the big report")
    assert_each_section_ended_once(big)
    assert_each_section_ended_once(small)


def test_a_small_report_goes_out_whole_and_ends_before_the_big_ones_next_refills(
    worker_pool, transactional_db, auth_client, other_user, settings
):
    # The creating process decides what a report publishes at creation; the workers' refills keep the
    # test default (only a report's last two sections go out whole).
    settings.REPORT_WINDOW_WHOLE = 2 * len(FAST_SECTIONS)
    big_players, small_players = small_league().player_ids, small_league().player_ids
    worker_pool.ensure()
    big = create(auth_client, big_players)["id"]
    small = create(client_of(other_user), small_players[:2])["id"]
    window = settings.REPORT_WINDOW_SECTIONS
    # More sections than a window, but few enough: all of them in the broker at once, behind the big window.
    assert ReportTask.objects.filter(report_id=small).count() == 2 * len(FAST_SECTIONS) > window
    assert not ReportTask.objects.filter(report_id=small, dispatched_at__isnull=True).exists()

    worker_pool.ensure("fast")
    small_report = wait_for(lambda: ended(small), timeout=TIMEOUT_S, message="the small report")
    # Taking turns, its second half would wait behind the big report's refills (about 2 windows of it
    # before its end); whole, only the window already queued, and what the other process ran meanwhile.
    big_before = ReportTask.objects.filter(report_id=big, finished_at__lte=small_report.completed_at).count()
    assert big_before <= window + 2
    wait_for(lambda: ended(big), timeout=TIMEOUT_S, message="the big report")
    assert_each_section_ended_once(big)
    assert_each_section_ended_once(small)


def test_a_report_over_its_owners_limit_waits_then_starts_in_order(
    worker_pool, transactional_db, auth_client, user
):
    players = small_league().player_ids
    # Staff gave this analyst a limit of 4 outstanding sections (the admin's AnalystQuota).
    AnalystQuota.objects.create(user=user, max_outstanding_sections=4)
    worker_pool.ensure()
    first = create(auth_client, players[:4], ["profile"])  # nothing outstanding: it starts
    second = create(auth_client, players[4:6], ["profile"])  # 4 + 2 > 4: waits
    third = create(auth_client, players[6:7], ["profile"])  # behind the second, in order
    assert first["status"] == "pending" and first["queue"] == {"position": 0, "sections_ahead": 0}
    assert second["status"] == third["status"] == "waiting"
    assert second["queue"]["position"] == 1 and third["queue"]["position"] == 2
    # Everything running is ahead of a waiting report, and for the third the second too.
    assert second["queue"]["sections_ahead"] == 4 and third["queue"]["sections_ahead"] == 6
    assert third["eta_seconds"] > 0
    for waiting in (second, third):
        assert not ReportTask.objects.filter(report_id=waiting["id"], dispatched_at__isnull=False).exists()
    # The status API shows the same.
    status = auth_client.get(f"/api/reports/{third['id']}/").json()
    assert status["status"] == "waiting" and status["queue"]["position"] == 2

    worker_pool.ensure("fast")
    for report in (first, second, third):
        done = wait_for(lambda report=report: ended(report["id"]), timeout=TIMEOUT_S, message="a report")
        assert done.status == ReportStatus.COMPLETE
        assert_each_section_ended_once(report["id"])
    # The second started only once room had freed: at least 2 of the first's 4 had ended.
    second_started = min(
        ReportTask.objects.filter(report_id=second["id"]).values_list("started_at", flat=True)
    )
    assert ReportTask.objects.filter(report_id=first["id"], finished_at__lte=second_started).count() >= 2
    third_started = min(ReportTask.objects.filter(report_id=third["id"]).values_list("started_at", flat=True))
    assert third_started >= Report.objects.get(pk=second["id"]).created_at


def test_cancel_while_queued_runs_nothing_and_a_second_cancel_is_409(
    worker_pool, transactional_db, auth_client
):
    league, other = small_league(), small_league()
    worker_pool.ensure()
    report_id = create(auth_client, league.player_ids)["id"]
    answer = auth_client.post(f"/api/reports/{report_id}/cancel/")
    assert answer.status_code == 200, answer.content
    assert answer.json()["status"] == "cancelled" and answer.json()["completed_at"]
    assert set(ReportTask.objects.filter(report_id=report_id).values_list("state", flat=True)) == {
        TaskState.CANCELLED
    }
    # A report posted after it: once it ends, the cancelled report's messages have been delivered.
    after = create(auth_client, other.player_ids[:1], ["profile"])["id"]
    worker_pool.ensure("fast")
    wait_for(lambda: ended(after), timeout=TIMEOUT_S, message="the report after the cancelled one")

    records = ReportTask.objects.filter(report_id=report_id)
    assert set(records.values_list("state", "attempts")) == {(TaskState.CANCELLED, 0)}
    assert not Partial.objects.filter(player_id__in=league.player_ids).exists()
    data = auth_client.get(f"/api/reports/{report_id}/data/")
    assert data.status_code == 200
    document = data.json()
    assert len(document["cancelled"]) == records.count() and document["complete"] is False
    assert document["pending"] == []
    again = auth_client.post(f"/api/reports/{report_id}/cancel/")
    assert again.status_code == 409
    # Nor is it retried: create it again instead.
    assert auth_client.post(f"/api/reports/{report_id}/retry/").status_code == 409


def test_cancel_while_running_keeps_what_finished_and_starts_nothing_more(
    worker_pool, transactional_db, auth_client
):
    players = small_league().player_ids + small_league().player_ids
    worker_pool.ensure("fast")
    # A report that ends before: its partial is shared by the one cancelled, and stays.
    shared = create(auth_client, players[:1], ["profile"])["id"]
    wait_for(lambda: ended(shared), timeout=TIMEOUT_S, message="the shared report")
    report_id = create(auth_client, players)["id"]
    wait_for(
        lambda: ReportTask.objects.filter(report_id=report_id, state=TaskState.DONE).count() >= 4,
        timeout=TIMEOUT_S,
        message="some sections to end",
    )
    answer = auth_client.post(f"/api/reports/{report_id}/cancel/")
    cancelled_at = timezone.now()
    assert answer.status_code == 200, answer.content
    # The sections running at that moment finish; nothing else starts.
    wait_for(
        lambda: (
            not ReportTask.objects.filter(
                report_id=report_id, state__in=[TaskState.RUNNING, TaskState.RETRYING, TaskState.QUEUED]
            ).exists()
        ),
        timeout=TIMEOUT_S,
        message="the running sections to finish",
    )
    records = ReportTask.objects.filter(report_id=report_id)
    done = records.filter(state=TaskState.DONE).count()
    assert set(records.values_list("state", flat=True)) == {TaskState.DONE, TaskState.CANCELLED}
    assert done >= 4
    assert not records.filter(started_at__gt=cancelled_at).exists()
    assert not records.filter(state=TaskState.CANCELLED, attempts__gt=0).exists()
    report = Report.objects.get(pk=report_id)
    assert report.status == ReportStatus.CANCELLED
    assert report.fast_done == done  # what finished after the cancel counted once, too
    document = auth_client.get(f"/api/reports/{report_id}/data/").json()
    assert sum(len(sections) for sections in document["players"].values()) == done
    assert len(document["cancelled"]) == records.count() - done

    shared_data = auth_client.get(f"/api/reports/{shared}/data/").json()
    assert shared_data["complete"] is True and shared_data["players"][str(players[0])]["profile"]
    assert auth_client.post(f"/api/reports/{shared}/cancel/").status_code == 409  # it has ended


def test_the_reaper_publishes_a_lost_window_and_each_section_still_ends_once(
    worker_pool, transactional_db, auth_client, monkeypatch
):
    from reports import outbox
    from reports.services import report_tasks_reap

    players = small_league().player_ids
    worker_pool.ensure()
    # The publish never happens and its outbox row is gone too: the window was never opened.
    monkeypatch.setattr(outbox, "outbox_run", lambda **kwargs: False)
    report_id = create(auth_client, players)["id"]
    Outbox.objects.filter(report_id=report_id).delete()
    monkeypatch.undo()
    total = ReportTask.objects.filter(report_id=report_id).count()

    assert report_tasks_reap(now=timezone.now()) == 0  # within the grace
    past_grace = timedelta(seconds=settings.REPORT_UNDISPATCHED_GRACE_S + 60)
    assert report_tasks_reap(now=timezone.now() + past_grace) == total
    # Published again through the window: one window now, the rest as sections end.
    dispatched = ReportTask.objects.filter(report_id=report_id, dispatched_at__isnull=False).count()
    assert dispatched == settings.REPORT_WINDOW_SECTIONS

    worker_pool.ensure("fast")
    wait_for(lambda: ended(report_id), timeout=TIMEOUT_S, message="the reaped report")
    assert_each_section_ended_once(report_id)
    assert set(ReportTask.objects.filter(report_id=report_id).values_list("attempts", flat=True)) == {1}
