"""Password guessing is bounded: failed sign-ins per username and address lock that pair out (django-axes).

On every surface that checks a password: the sign-in page, the admin's, and
POST /api/auth/token/. Runs on both stacks (`mysql`): the attempts are rows.
"""

import pytest
from axes.models import AccessAttempt
from django.core.management import call_command
from rest_framework.authtoken.models import Token

pytestmark = [pytest.mark.mysql, pytest.mark.django_db]

LOGIN = "/accounts/login/"
TOKEN = "/api/auth/token/"


@pytest.fixture
def limit(settings):
    settings.AXES_FAILURE_LIMIT = 3
    return 3


def _sign_in(client, password, *, address="10.0.0.1"):
    return client.post(LOGIN, {"username": "analyst", "password": password}, REMOTE_ADDR=address)


def test_the_sign_in_page_locks_a_username_out_after_the_limit_even_for_the_right_password(
    client, user, limit
):
    for _ in range(limit - 1):
        assert _sign_in(client, "wrong").status_code == 200  # the form again, with its error
    locked = _sign_in(client, "wrong")

    assert locked.status_code == 429
    assert "Too many failed sign-ins" in locked.content.decode()
    assert int(locked["Retry-After"]) == 15 * 60
    right = _sign_in(client, "pw-analyst-123")
    assert right.status_code == 429 and "_auth_user_id" not in client.session
    # Another address is its own pair: the analyst can still sign in from their own machine.
    assert _sign_in(client, "pw-analyst-123", address="10.0.0.2").status_code == 302
    assert AccessAttempt.objects.get(username="analyst", ip_address="10.0.0.1").failures_since_start >= limit


def test_a_success_below_the_limit_clears_the_count(client, user, limit):
    for _ in range(limit - 1):
        _sign_in(client, "wrong")
    assert _sign_in(client, "pw-analyst-123").status_code == 302
    client.logout()

    # The count starts again: as many failures as before are still not a lockout.
    for _ in range(limit - 1):
        assert _sign_in(client, "wrong").status_code == 200
    assert _sign_in(client, "pw-analyst-123").status_code == 302


def test_the_token_endpoint_locks_out_too_and_answers_in_the_apis_shape(api_client, user, limit):
    for _ in range(limit - 1):
        answer = api_client.post(TOKEN, {"username": "analyst", "password": "wrong"}, format="json")
        assert answer.status_code == 400
    locked = api_client.post(TOKEN, {"username": "analyst", "password": "wrong"}, format="json")

    assert locked.status_code == 429
    assert "Too many failed sign-ins" in locked.json()["detail"] and locked["Retry-After"]
    right = api_client.post(TOKEN, {"username": "analyst", "password": "pw-analyst-123"}, format="json")
    assert right.status_code == 429
    assert not Token.objects.filter(user=user).exists()


def test_an_operator_lifts_a_lockout_with_axes_reset_username(client, user, limit):
    for _ in range(limit):
        _sign_in(client, "wrong")
    assert _sign_in(client, "pw-analyst-123").status_code == 429

    call_command("axes_reset_username", "analyst")

    assert _sign_in(client, "pw-analyst-123").status_code == 302
