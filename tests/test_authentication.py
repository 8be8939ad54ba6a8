"""API tokens remembered per process for AUTH_TOKEN_CACHE_SECONDS (config/authentication.py)."""

import pytest
from django.db import connection
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed

from config import authentication

pytestmark = [pytest.mark.mysql, pytest.mark.django_db]


@pytest.fixture
def clock(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(authentication.time, "monotonic", lambda: now[0])
    return now


@pytest.fixture
def token(user):
    authentication.forget(user_id=user.pk)
    return Token.objects.create(user=user)


def _authenticate(key):
    return authentication.CachedTokenAuthentication().authenticate_credentials(key)


def test_a_valid_token_is_read_once_then_remembered(token, django_assert_num_queries):
    with django_assert_num_queries(1):
        user, found = _authenticate(token.key)
    assert user == token.user and found == token
    with django_assert_num_queries(0):
        again, _ = _authenticate(token.key)
    assert again == token.user and again is not user, "each request gets its own copy of the user"


def test_a_bad_token_is_refused_every_time(token):
    for _ in range(2):
        with pytest.raises(AuthenticationFailed):
            _authenticate("not-a-token")


def test_a_deleted_token_stops_at_once_in_this_process(token):
    _authenticate(token.key)
    token.delete()
    with pytest.raises(AuthenticationFailed):
        _authenticate(token.key)


def test_a_deactivated_user_stops_at_once_in_this_process(token):
    _authenticate(token.key)
    token.user.is_active = False
    token.user.save()
    with pytest.raises(AuthenticationFailed):
        _authenticate(token.key)


def test_a_token_deleted_elsewhere_works_here_for_at_most_the_cache_time(token, clock, settings):
    settings.AUTH_TOKEN_CACHE_SECONDS = 10
    _authenticate(token.key)
    with connection.cursor() as cursor:  # as another process would: no signal reaches this one
        cursor.execute(
            f"DELETE FROM {Token._meta.db_table} WHERE {connection.ops.quote_name('key')} = %s", [token.key]
        )
    clock[0] += 9.9
    _authenticate(token.key)
    clock[0] += 0.2
    with pytest.raises(AuthenticationFailed):
        _authenticate(token.key)


def test_zero_seconds_reads_the_database_every_time(token, settings, django_assert_num_queries):
    settings.AUTH_TOKEN_CACHE_SECONDS = 0
    for _ in range(2):
        with django_assert_num_queries(1):
            _authenticate(token.key)


def test_the_api_authenticates_with_a_remembered_token(api_client, token):
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert api_client.get("/api/reports/").status_code == 200
    assert api_client.get("/api/reports/").status_code == 200
    token.delete()
    assert api_client.get("/api/reports/").status_code == 401
