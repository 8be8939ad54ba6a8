"""The report pipeline end to end: API, broker, real workers, storage, merge.

Runs on the embedded stack and again on the production-like one (RabbitMQ,
Redis, MariaDB, moto S3), through the `mysql` marker.
"""

import pytest
from django.urls import reverse

from football.tests.factories import AppearanceFactory
from reports.models import Report, ReportStatus, ReportTask, TaskState

from .conftest import wait_for

pytestmark = [pytest.mark.mysql, pytest.mark.django_db(transaction=True)]


def players_with_appearances(count: int) -> list[int]:
    ids = []
    for _ in range(count):
        appearance = AppearanceFactory()
        ids.append(appearance.player_id)
    return ids


def create(client, player_ids, sections=("profile",), **extra):
    response = client.post(
        "/api/reports/",
        {"name": "Test report", "players": player_ids, "sections": list(sections)},
        format="json",
        **extra,
    )
    assert response.status_code == 202, response.content
    return response


def report_ended(report_id):
    report = Report.objects.get(pk=report_id)
    return report if report.completed_at else None


def test_report_goes_pending_running_ready_complete(workers, auth_client):
    player_ids = players_with_appearances(3)
    response = create(auth_client, player_ids)
    body = response.json()
    assert body["status"] in ("pending", "running")
    assert response["Location"] == reverse("report-detail", kwargs={"report_id": body["id"]})

    report = wait_for(lambda: report_ended(body["id"]), message="the report to complete")

    assert report.status == ReportStatus.COMPLETE
    assert report.created_at <= report.started_at <= report.ready_at <= report.completed_at
    tasks = list(ReportTask.objects.filter(report=report))
    assert len(tasks) == 3
    assert all(task.state == TaskState.DONE and task.attempts == 1 for task in tasks)
    status = auth_client.get(f"/api/reports/{body['id']}/").json()
    assert status["progress"]["fast"] == {"total": 3, "done": 3, "failed": 0, "reused": 0}
    assert status["progress"]["percent"] == 100.0

    data = auth_client.get(f"/api/reports/{body['id']}/data/")
    assert data.status_code == 200
    document = data.json()
    assert document["complete"] is True
    assert document["pending"] == [] and document["failed"] == []
    assert "Pappalardo" in document["credit"]
    for player_id in player_ids:
        profile = document["players"][str(player_id)]["profile"]
        assert profile["id"] == player_id
        assert profile["section"] == "profile"
