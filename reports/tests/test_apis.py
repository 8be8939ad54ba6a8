"""The reports API without workers: validation, ownership, idempotency, conditional GET, broker outage.

These tests run inside a transaction, so nothing is published (publishing
happens on commit); the pipeline itself is exercised in test_pipeline.py.
"""

import time

import pytest
from celery import current_app

from football.tests.factories import PlayerFactory
from reports.models import Report, ReportTask
from reports.sections import REGISTRY
from reports.status import report_count_terminal

pytestmark = [pytest.mark.mysql, pytest.mark.django_db]

URL = "/api/reports/"


@pytest.fixture
def players():
    return [PlayerFactory().id for _ in range(3)]


def test_every_report_endpoint_needs_authentication(api_client, players):
    assert api_client.get(URL).status_code == 401
    assert api_client.post(URL, {"players": players}, format="json").status_code == 401
    assert api_client.post("/create-report", {"players": players}, format="json").status_code == 401
    some_id = "00000000-0000-0000-0000-000000000000"
    for path in (f"{URL}{some_id}/", f"{URL}{some_id}/data/"):
        assert api_client.get(path).status_code == 401
    assert api_client.delete(f"{URL}{some_id}/").status_code == 401
    assert api_client.post(f"{URL}{some_id}/retry/").status_code == 401
    assert Report.objects.count() == 0


@pytest.mark.parametrize(
    ("body", "field", "fragment"),
    [
        ({"players": []}, "players", "empty"),
        ({"players": "7"}, "players", "list"),
        ({"players": ["abc"]}, "players", "integer"),
        ({"players": [-4]}, "players", "greater than or equal to 1"),
        ({"players": [1.5]}, "players", "integer"),
        ({"players": list(range(1, 502))}, "players", "500"),
        ({}, "players", "required"),
        ({"players": [1], "sections": ["profile", "horoscope"]}, "sections", "horoscope"),
        ({"players": [1], "sections": []}, "sections", "empty"),
        ({"players": [1], "owner": 3}, "owner", "Unknown field"),
        ({"players": [1], "name": "x" * 201}, "name", "200"),
    ],
)
def test_bad_bodies_are_400_naming_the_problem_and_create_nothing(auth_client, body, field, fragment):
    response = auth_client.post(URL, body, format="json")
    assert response.status_code == 400, response.content
    assert fragment.lower() in str(response.json()[field]).lower()
    assert Report.objects.count() == 0 and ReportTask.objects.count() == 0


def test_unknown_and_repeated_players_are_named(auth_client, players):
    repeated = auth_client.post(URL, {"players": [players[0], players[1], players[0]]}, format="json")
    assert repeated.status_code == 400
    assert str(players[0]) in repeated.json()["players"][0]
    unknown = auth_client.post(URL, {"players": [players[0], 123456789]}, format="json")
    assert unknown.status_code == 400
    assert unknown.json() == {"players": ["Unknown player ids: 123456789."]}
    assert Report.objects.count() == 0


def test_malformed_json_is_400(auth_client):
    response = auth_client.post(URL, data="{players: [1,", content_type="application/json")
    assert response.status_code == 400
    assert "JSON" in response.json()["detail"]


def test_create_answers_202_with_status_and_location(auth_client, players):
    response = auth_client.post(URL, {"name": "Scouting", "players": players}, format="json")
    assert response.status_code == 202
    body = response.json()
    assert response["Location"] == f"{URL}{body['id']}/"
    assert body["status"] == "pending"
    assert body["players"] == players
    assert body["sections"] == [section.name for section in REGISTRY]
    fast = sum(1 for section in REGISTRY if section.queue == "fast")
    assert body["progress"]["fast"] == {"total": 3 * fast, "done": 0, "failed": 0, "reused": 0}
    assert body["data_url"].endswith(f"{URL}{body['id']}/data/")
    assert ReportTask.objects.filter(report_id=body["id"]).count() == 3 * len(REGISTRY)


def test_dependencies_are_added_and_create_report_path_is_the_same(auth_client, players):
    response = auth_client.post(
        "/create-report", {"players": players[:1], "sections": ["visuals"]}, format="json"
    )
    assert response.status_code == 202
    assert response.json()["sections"] == ["shot_map", "visuals"]


def test_idempotency_key_returns_the_same_report(auth_client, players):
    body = {"name": "Once", "players": players}
    first = auth_client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = auth_client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == again.status_code == 202
    assert first.json()["id"] == again.json()["id"]
    assert Report.objects.count() == 1
    other = auth_client.post(
        URL, {"name": "Other", "players": players}, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert other.status_code == 409
    assert Report.objects.count() == 1


def test_reports_are_their_owners(auth_client, other_user, api_client, players):
    report_id = auth_client.post(URL, {"players": players}, format="json").json()["id"]
    api_client.force_authenticate(other_user)
    for path in (f"{URL}{report_id}/", f"{URL}{report_id}/data/"):
        assert api_client.get(path).status_code == 404
    assert api_client.post(f"{URL}{report_id}/retry/").status_code == 404
    assert api_client.delete(f"{URL}{report_id}/").status_code == 404
    assert api_client.get(URL).json()["count"] == 0
    assert auth_client.get(URL).json()["results"][0]["id"] == report_id
    other_user.is_staff = True
    other_user.save()
    assert api_client.get(f"{URL}{report_id}/").status_code == 200


def test_status_supports_conditional_get(auth_client, players, django_capture_on_commit_callbacks):
    report_id = auth_client.post(URL, {"players": players}, format="json").json()["id"]
    first = auth_client.get(f"{URL}{report_id}/")
    etag = first["ETag"]
    assert auth_client.get(f"{URL}{report_id}/", HTTP_IF_NONE_MATCH=etag).status_code == 304
    # A section ends, as a worker records it: committed, and so noted (Redis on the production stack).
    with django_capture_on_commit_callbacks(execute=True):
        report_count_terminal(report_id=report_id, queue="fast", failed=False)
    changed = auth_client.get(f"{URL}{report_id}/", HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200 and changed["ETag"] != etag
    assert changed.json()["progress"]["fast"]["done"] == 1
    assert auth_client.get(f"{URL}{report_id}/", HTTP_IF_NONE_MATCH=changed["ETag"]).status_code == 304
    detail = auth_client.get(f"{URL}{report_id}/?detail=tasks").json()
    assert len(detail["tasks"]) == 3 * len(REGISTRY)
    assert set(detail["tasks"][0]) == {
        "player",
        "section",
        "queue",
        "state",
        "reused",
        "attempts",
        "started_at",
        "finished_at",
        "error",
    }


def test_data_before_ready_is_202_with_retry_after(auth_client, players):
    report_id = auth_client.post(URL, {"players": players}, format="json").json()["id"]
    response = auth_client.get(f"{URL}{report_id}/data/")
    assert response.status_code == 202
    assert 1 <= int(response["Retry-After"]) <= 30


def test_data_reads_have_their_own_throttle_scope(auth_client, players, monkeypatch):
    """Each read may merge every partial: /data/ is throttled apart from (and below) the status polls."""
    import uuid

    from reports.apis import ReportDataThrottle

    scope = f"report_data_test_{uuid.uuid4().hex}"  # counts of earlier runs in a shared Redis do not apply
    monkeypatch.setattr(ReportDataThrottle, "scope", scope)
    monkeypatch.setattr(
        ReportDataThrottle, "THROTTLE_RATES", {**ReportDataThrottle.THROTTLE_RATES, scope: "2/min"}
    )
    report_id = auth_client.post(URL, {"players": players}, format="json").json()["id"]
    answers = [auth_client.get(f"{URL}{report_id}/data/").status_code for _ in range(3)]
    assert answers == [202, 202, 429]
    assert auth_client.get(f"{URL}{report_id}/").status_code == 200


def test_unreachable_broker_is_503_quickly_and_creates_nothing(auth_client, players, monkeypatch, settings):
    # A closed port: the connection is refused at once; the check gives up within its timeout.
    # broker_write_url first: it falls back to broker_url, so patched second it
    # would remember the patched value and keep it after the test.
    for setting in ("broker_write_url", "broker_url"):
        monkeypatch.setattr(current_app.conf, setting, "amqp://guest:guest@127.0.0.1:1//")
    settings.BROKER_CHECK_TIMEOUT_S = 1.0
    started = time.monotonic()
    response = auth_client.post(URL, {"players": players}, format="json")
    assert response.status_code == 503
    assert "broker" in response.json()["detail"]
    assert time.monotonic() - started < 5
    assert Report.objects.count() == 0


def test_the_status_body_is_what_its_serializer_documents(auth_client, players, rf):
    from django.utils import timezone
    from rest_framework import serializers

    from reports import fairshare, selectors
    from reports.apis import status_body
    from reports.serializers import ReportStatusSerializer

    report_id = auth_client.post(URL, {"players": players}, format="json").json()["id"]
    request = rf.get(f"{URL}{report_id}/")
    report = Report.objects.get(pk=report_id)
    states = [{}, {"status": "ready", "ready_at": timezone.now(), "fast_done": 2, "fast_failed": 1}]
    for changes in states:
        for field, value in changes.items():
            setattr(report, field, value)
        for detail in (False, True):
            body = status_body(request, report, detail=detail)
            serializer = ReportStatusSerializer(report, context={"request": request, "detail": detail})
            assert serializer.data == body  # the serializer's representation is status_body's
            # DRF's own, field by field, from the serializer's fields: what the schema says.
            documented = serializers.ModelSerializer.to_representation(
                ReportStatusSerializer(),
                {
                    **{field: getattr(report, field) for field in ("id", "name", "status")},
                    **{field: getattr(report, field) for field in ("created_at", "ready_at", "completed_at")},
                    "player_ids": report.player_ids,
                    "sections": report.sections,
                    "progress": selectors.report_progress(report),
                    "queue": fairshare.report_queue(report),
                    "eta_seconds": selectors.report_eta_seconds(report),
                    "data_url": body["data_url"],
                    **({"tasks": selectors.report_tasks(report)} if detail else {}),
                },
            )
            assert body == documented
            assert list(body) == list(documented)
