"""The report admin: list, search by id, the task inline, and the retry action through reports.services."""

import pytest

from reports.models import Report, ReportStatus, ReportTask, TaskState

pytestmark = [pytest.mark.django_db, pytest.mark.mysql]


@pytest.fixture
def failed_report(user):
    report = Report.objects.create(
        owner=user,
        name="Scouting list",
        status=ReportStatus.FAILED,
        player_ids=[1, 2],
        sections=["profile", "percentiles"],
        data_version="v1",
        fast_total=2,
        fast_done=2,
        slow_total=2,
        slow_done=1,
        slow_failed=1,
    )
    for player_id in (1, 2):
        ReportTask.objects.create(
            report=report,
            player_id=player_id,
            section="profile",
            queue="fast",
            state=TaskState.DONE,
            partial_key=f"reports/partials/profile-{player_id}.json",
        )
    ReportTask.objects.create(
        report=report,
        player_id=1,
        section="percentiles",
        queue="slow",
        state=TaskState.DONE,
        partial_key="k1",
    )
    ReportTask.objects.create(
        report=report,
        player_id=2,
        section="percentiles",
        queue="slow",
        state=TaskState.FAILED,
        attempts=4,
        error="ZeroDivisionError: no peers",
        partial_key="k2",
    )
    return report


def test_changelist_shows_progress(admin_client, failed_report):
    response = admin_client.get("/admin/reports/report/")
    page = response.content.decode()
    assert response.status_code == 200
    assert "Scouting list" in page
    assert "2/2" in page  # fast done/total
    assert "1/2" in page  # slow done/total


def test_search_by_report_id(admin_client, failed_report, user):
    Report.objects.create(owner=user, name="Another", player_ids=[3], sections=["profile"], data_version="v1")
    response = admin_client.get("/admin/reports/report/", {"q": str(failed_report.pk)})
    page = response.content.decode()
    assert "Scouting list" in page
    assert "Another" not in page


def test_change_page_lists_tasks_failed_first(admin_client, failed_report):
    response = admin_client.get(f"/admin/reports/report/{failed_report.pk}/change/")
    page = response.content.decode()
    assert response.status_code == 200
    assert "ZeroDivisionError: no peers" in page
    assert page.index("ZeroDivisionError") < page.index("profile</")


def test_retry_action_requeues_the_failed_sections(admin_client, failed_report):
    response = admin_client.post(
        "/admin/reports/report/",
        {"action": "retry_failed_sections", "_selected_action": [str(failed_report.pk)]},
        follow=True,
    )
    assert response.status_code == 200
    assert "Re-enqueued the failed sections of 1 report(s)." in response.content.decode()
    failed_report.refresh_from_db()
    assert failed_report.status == ReportStatus.RUNNING
    assert failed_report.slow_failed == 0
    task = ReportTask.objects.get(report=failed_report, section="percentiles", player_id=2)
    assert task.state == TaskState.QUEUED
    assert task.error == ""


def test_retry_action_says_when_nothing_failed(admin_client, user):
    report = Report.objects.create(
        owner=user,
        name="All fine",
        status=ReportStatus.COMPLETE,
        player_ids=[1],
        sections=["profile"],
        data_version="v1",
    )
    response = admin_client.post(
        "/admin/reports/report/",
        {"action": "retry_failed_sections", "_selected_action": [str(report.pk)]},
        follow=True,
    )
    assert "no failed sections" in response.content.decode()
    report.refresh_from_db()
    assert report.status == ReportStatus.COMPLETE
