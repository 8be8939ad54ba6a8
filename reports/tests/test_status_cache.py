"""The status revision in Redis (reports.status_cache) and the conditional GETs it answers.

On real Redis in both passes: the embedded stack's cache is local memory, for
which the status cache does nothing, so these tests point the default cache
at the Redis server themselves.
"""

import uuid

import pytest
from django.core.cache import caches
from django.test import override_settings

from conftest import free_port
from football.tests.factories import PlayerFactory
from reports import dispatch, services, status_cache
from reports.models import Report, ReportTask, TaskState
from reports.status import report_count_terminal, report_mark_started

pytestmark = [pytest.mark.mysql, pytest.mark.django_db]

URL = "/api/reports/"
REDIS_CACHE = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": "redis://127.0.0.1:6379/11",
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1, "IGNORE_EXCEPTIONS": True},
    }
}


@pytest.fixture(autouse=True)
def nothing_published(monkeypatch):
    """Records of these tests roll back: their messages would only end "nothing to do" in later tests."""
    monkeypatch.setattr(dispatch, "report_dispatch_after_commit", lambda **kwargs: None)


@pytest.fixture(autouse=True)
def redis_cache(require_service):
    require_service("redis")
    with override_settings(CACHES=REDIS_CACHE):
        caches["default"].clear()
        yield
        caches["default"].clear()


@pytest.fixture
def report_id(auth_client, django_capture_on_commit_callbacks):
    players = [PlayerFactory().id for _ in range(2)]
    with django_capture_on_commit_callbacks(execute=False):
        return auth_client.post(URL, {"players": players}, format="json").json()["id"]


def _status(client, report_id, etag=None):
    return client.get(f"{URL}{report_id}/", **({"HTTP_IF_NONE_MATCH": etag} if etag else {}))


def test_a_higher_revision_is_never_replaced_by_a_lower_one():
    report_id = uuid.uuid4()
    status_cache.note(report_id=report_id, revision=5, owner_id=7)
    status_cache.note(report_id=report_id, revision=4, owner_id=7)
    assert status_cache.lookup(report_id) == (5, 7)
    status_cache.note(report_id=report_id, revision=6, owner_id=7)
    assert status_cache.lookup(report_id) == (6, 7)


def test_entries_expire():
    report_id = uuid.uuid4()
    status_cache.note(report_id=report_id, revision=1, owner_id=7)
    client, key = status_cache._client_and_key(report_id)
    assert 0 < client.ttl(key) <= status_cache.ENTRY_TTL_S


def test_every_change_the_status_shows_moves_the_revision(report_id, django_capture_on_commit_callbacks):
    def revision():
        return Report.objects.get(pk=report_id).revision

    seen = [revision()]
    with django_capture_on_commit_callbacks(execute=True):
        report_mark_started(report_id=report_id)
    seen.append(revision())
    report = Report.objects.get(pk=report_id)
    for _ in range(report.fast_total):
        with django_capture_on_commit_callbacks(execute=True):
            report_count_terminal(report_id=report_id, queue="fast", failed=False)
        seen.append(revision())
    assert Report.objects.get(pk=report_id).ready_at is not None
    for _ in range(report.slow_total - 1):
        with django_capture_on_commit_callbacks(execute=True):
            report_count_terminal(report_id=report_id, queue="slow", failed=False)
        seen.append(revision())
    last = ReportTask.objects.filter(report_id=report_id, queue="slow").latest("pk")
    ReportTask.objects.filter(pk=last.pk).update(state=TaskState.FAILED)
    with django_capture_on_commit_callbacks(execute=True):
        report_count_terminal(report_id=report_id, queue="slow", failed=True)
    seen.append(revision())
    assert Report.objects.get(pk=report_id).status == "failed"
    with django_capture_on_commit_callbacks(execute=True):
        services.report_retry(report=Report.objects.get(pk=report_id))
    seen.append(revision())

    assert seen == sorted(set(seen)), "every change moves the revision up"
    assert status_cache.lookup(report_id).revision == seen[-1], "the last committed revision is noted"


def test_a_poll_that_matches_the_noted_revision_is_answered_without_the_database(
    auth_client, report_id, django_assert_num_queries
):
    etag = _status(auth_client, report_id)["ETag"]
    assert status_cache.lookup(report_id).revision == int(etag.strip('"r'))
    with django_assert_num_queries(0):
        assert _status(auth_client, report_id, etag).status_code == 304


def test_a_first_get_at_a_revision_already_read_is_answered_without_the_database(
    auth_client, report_id, django_assert_num_queries
):
    """Every poller's first request is unconditional; the second one at the same revision needs no database."""
    first = _status(auth_client, report_id)
    with django_assert_num_queries(0):
        again = _status(auth_client, report_id)
    assert again.status_code == 200 and again["ETag"] == first["ETag"]
    body = again.json()
    # The data URL is built for each request; the rest is the status read from the database.
    assert body["data_url"] == f"http://testserver{URL}{report_id}/data/"
    assert body == first.json()


def test_a_first_get_after_a_change_reads_the_new_status(
    auth_client, report_id, django_capture_on_commit_callbacks
):
    before = _status(auth_client, report_id)
    with django_capture_on_commit_callbacks(execute=True):
        report_count_terminal(report_id=report_id, queue="fast", failed=False)
    after = _status(auth_client, report_id)
    assert after["ETag"] != before["ETag"]
    assert after.json()["progress"]["fast"]["done"] == 1


def test_someone_else_gets_404_not_the_kept_status(auth_client, report_id, other_user):
    from rest_framework.test import APIClient

    assert _status(auth_client, report_id).status_code == 200
    stranger = APIClient()
    stranger.force_authenticate(user=other_user)
    assert _status(stranger, report_id).status_code == 404


def test_a_body_kept_for_an_older_revision_is_not_served(auth_client, report_id):
    etag = _status(auth_client, report_id)["ETag"]
    revision = int(etag.strip('"r'))
    status_cache.keep_body(report_id=report_id, revision=revision - 1, body={"stale": True})
    answer = _status(auth_client, report_id)
    assert answer.status_code == 200 and "stale" not in answer.json()


def test_a_poll_with_an_etag_does_not_fetch_the_kept_body(auth_client, report_id, monkeypatch):
    etag = _status(auth_client, report_id)["ETag"]

    def body_fetched(report_id):
        raise AssertionError("a 304 moved the kept body from Redis")

    monkeypatch.setattr(status_cache, "lookup_with_body", body_fetched)
    assert _status(auth_client, report_id, etag).status_code == 304


def test_a_poll_with_an_older_etag_gets_the_new_status(
    auth_client, report_id, django_capture_on_commit_callbacks
):
    etag = _status(auth_client, report_id)["ETag"]
    with django_capture_on_commit_callbacks(execute=True):
        report_count_terminal(report_id=report_id, queue="fast", failed=False)
    answer = _status(auth_client, report_id, etag)
    assert answer.status_code == 200 and answer.json()["progress"]["fast"]["done"] == 1


def test_someone_else_with_the_etag_gets_404_not_304(auth_client, report_id, other_user):
    from rest_framework.test import APIClient

    etag = _status(auth_client, report_id)["ETag"]
    stranger = APIClient()
    stranger.force_authenticate(user=other_user)
    assert _status(stranger, report_id, etag).status_code == 404


def test_a_deleted_report_is_404_even_to_a_poller_with_its_etag(auth_client, report_id):
    etag = _status(auth_client, report_id)["ETag"]
    assert auth_client.delete(f"{URL}{report_id}/").status_code == 204
    assert _status(auth_client, report_id, etag).status_code == 404
    # A read that raced the delete and notes the old revision afterwards does not bring it back.
    status_cache.note(report_id=report_id, revision=int(etag.strip('"r')), owner_id=1)
    assert _status(auth_client, report_id, etag).status_code == 404


def test_with_redis_unreachable_the_database_answers(auth_client, report_id):
    etag = _status(auth_client, report_id)["ETag"]
    unreachable = {"default": {**REDIS_CACHE["default"], "LOCATION": f"redis://127.0.0.1:{free_port()}/0"}}
    with override_settings(CACHES=unreachable):
        assert status_cache.lookup(report_id) is None
        assert _status(auth_client, report_id, etag).status_code == 304
        assert _status(auth_client, report_id).status_code == 200
