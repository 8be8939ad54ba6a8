"""reports.services.report_retry: the failed sections queued again, the counters and the report's state with them.

Runs the runner in this process (no workers): what a retry does to the
records, and that the retried sections then end the report. The API and
the real workers' retry are in test_pipeline.py.
"""

import dataclasses

import pytest

from reports import runner, services
from reports.exceptions import ApplicationError
from reports.models import Outbox, OutboxKind, Report, ReportStatus, ReportTask, TaskState
from reports.sections import SECTIONS

from ..builders import small_league

# Rolled back, so nothing is committed and nothing is published.
pytestmark = [pytest.mark.mysql, pytest.mark.django_db]


def _failing(monkeypatch, *names: str) -> None:
    def boom(context):
        raise ValueError("no data for this player")

    for name in names:
        monkeypatch.setitem(SECTIONS, name, dataclasses.replace(SECTIONS[name], compute=boom))


def _run_all(report: Report) -> None:
    for task in ReportTask.objects.filter(report=report).order_by("pk"):
        runner.report_task_run(report_task_id=task.pk)


@pytest.fixture
def failed_report(owner, monkeypatch):
    """One player, `profile` (fast) and `similar_players` (slow) failed for good, `match_log` done."""
    league = small_league()
    report, _ = services.report_create(
        owner=owner, player_ids=league.player_ids[:1], sections=["profile", "match_log", "similar_players"]
    )
    with monkeypatch.context() as failing:
        _failing(failing, "profile", "similar_players")
        _run_all(report)
    report.refresh_from_db()
    assert report.status == ReportStatus.FAILED and (report.fast_failed, report.slow_failed) == (1, 1)
    return report


def test_the_failed_sections_are_queued_again_with_their_attempts_and_errors_cleared(failed_report):
    before = Report.objects.get(pk=failed_report.pk)
    Outbox.objects.filter(report_id=failed_report.pk).delete()

    report = services.report_retry(report=failed_report)

    retried = ReportTask.objects.filter(report=report, section__in=["profile", "similar_players"])
    assert {(t.state, t.attempts, t.error, t.dispatched_at) for t in retried} == {
        (TaskState.QUEUED, 0, "", None)
    }
    assert ReportTask.objects.get(report=report, section="match_log").state == TaskState.DONE
    assert report.status == ReportStatus.RUNNING and report.completed_at is None
    # A fast section failed: the report is not ready again until it ends.
    assert report.ready_at is None
    assert (report.fast_failed, report.slow_failed) == (0, 0)
    assert report.generation == before.generation + 1 and report.revision > before.revision
    # Published after commit through the outbox, so a broker fault loses nothing.
    assert Outbox.objects.filter(report_id=report.pk, kind=OutboxKind.PUBLISH).count() == 1


def test_a_retry_of_slow_sections_only_keeps_the_report_ready(owner, monkeypatch):
    league = small_league()
    report, _ = services.report_create(
        owner=owner, player_ids=league.player_ids[:1], sections=["profile", "similar_players"]
    )
    with monkeypatch.context() as failing:
        _failing(failing, "similar_players")
        _run_all(report)
    report.refresh_from_db()
    ready_at = report.ready_at
    assert ready_at is not None

    report = services.report_retry(report=report)

    assert report.ready_at == ready_at and report.status == ReportStatus.RUNNING


def test_the_retried_sections_end_the_report_complete(failed_report):
    report = services.report_retry(report=failed_report)

    _run_all(report)

    report.refresh_from_db()
    assert report.status == ReportStatus.COMPLETE
    assert (report.fast_failed, report.slow_failed) == (0, 0)
    # Counted afresh: the retry's attempt is the first of its generation.
    assert set(ReportTask.objects.filter(report=report).values_list("attempts", flat=True)) == {1}


def test_a_report_without_failed_sections_is_refused_and_left_as_it_was(owner):
    league = small_league()
    report, _ = services.report_create(owner=owner, player_ids=league.player_ids[:1], sections=["profile"])
    _run_all(report)
    report.refresh_from_db()
    before = (report.status, report.revision, report.generation)

    with pytest.raises(ApplicationError, match="no failed sections"):
        services.report_retry(report=report)

    report.refresh_from_db()
    assert (report.status, report.revision, report.generation) == before
