"""Schemathesis against the live server (issues 6 and 22): no server error, every answer as documented.

Every operation of the `/api/schema/` that a real gunicorn serves is called over
HTTP with cases generated from that schema (its examples, boundary values, then
random valid and invalid ones), authenticated with a real API token, over the
World Cup demo data, with every schemathesis check on. The run is bounded: a
fixed seed, a fixed number of examples per operation and a time limit per
operation, so it is the same run every time and fits CI.

The server runs the test settings with the throttles raised for it alone, so a
burst of generated requests is never answered 429 (the throttles have their own
tests, tests/test_throttling.py). On the embedded stack it has a var folder of
its own, so the reports a valid body creates go to a broker folder that no
worker of another test reads; on the production-like stack they go to RabbitMQ
and are deleted (their tasks revoked) when the module ends.

Run the module whole: pytest-django creates the test database only for tests
that ask for `db`, and here only the first test does (the others must not hold
a transaction open: on SQLite it would lock the server out of writing).

The stateful checks (use_after_free, ensure_resource_availability) are on too
but act only in a stateful run, which is not part of this module: against a
server whose state grows with every call, Hypothesis cannot replay a scenario
(FlakyStrategyDefinition), so such a run would fail for the tool's reasons.
"""

import json
import shutil
from pathlib import Path

import pytest
import requests
import schemathesis
from django.conf import settings
from django.contrib.auth import get_user_model
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from rest_framework.authtoken.models import Token
from schemathesis.config import SchemathesisConfig

from conftest import DEMO_DATA
from tests.servers import WebServer, process_env

pytestmark = [pytest.mark.mysql, pytest.mark.slow]

SEED = 22
# Enough for every documented answer of each operation to come up; the whole
# module takes about a minute and a half on a 2-core machine.
EXAMPLES_PER_OPERATION = 40
# A bound per operation, far above what one needs (seconds): a run that hangs
# fails here instead of holding CI until its own limit.
OPERATION_TIMEOUT_S = 180
# The slowest answer any check may see. Every operation answers in well under a
# second here; this catches a request that hangs on a lock or a dead broker.
MAX_RESPONSE_TIME_S = 10
THROTTLES_RAISED = {
    "THROTTLE_USER": "10000000/min",
    "THROTTLE_ANON": "10000000/min",
    "THROTTLE_REPORT_CREATE": "10000000/min",
}
USERNAME = "schemathesis"
PASSWORD = "pw-schemathesis-22"

# Every check is on (schemathesis enables all its built-in checks unless told
# otherwise); what is configured here is only what "accepted" means for a
# request the schema allows. By CONTRACT section 4 a well-formed id that is not
# in the data is refused with 400 naming it where it is a filter or a body
# field (`?team=1`, `"players": [1]`), and the token endpoint refuses a
# username and password that match no user with 400; the schema documents
# both. For those operations, and only those, a 400 is an acceptable answer
# to a well-formed request; everywhere else positive data must get 2xx (or
# 401/403/404/409/429/5xx, schemathesis' defaults: a path id that is not in
# the data is a 404, also documented). Below: per such operation, a
# well-formed request with an id that is not in the data, and the field its
# 400 must name (the first test checks each).
UNKNOWN_ID_REQUESTS = {
    "GET /api/players/": ("get", "/api/players/?team=1", None, "team"),
    "GET /api/teams/": ("get", "/api/teams/?competition=1", None, "competition"),
    "GET /api/teams/{id}/": ("get", "/api/teams/4418/?season=1", None, "season"),
    "POST /api/reports/": ("post", "/api/reports/", {"name": "x", "players": [1]}, "players"),
    "POST /create-report": ("post", "/create-report", {"name": "x", "players": [1]}, "players"),
    "POST /api/auth/token/": ("post", "/api/auth/token/", {"username": "nobody", "password": "x"}, None),
}
ACCEPTED = '["2xx", "3xx", "400", "401", "403", "404", "409", "429", "5xx"]'
CONFIG = f"""
seed = {SEED}

[generation]
max-examples = {EXAMPLES_PER_OPERATION}
database = "none"

[checks]
max_response_time = {MAX_RESPONSE_TIME_S}

[[operations]]
include-name = {json.dumps(sorted(UNKNOWN_ID_REQUESTS))}
checks.positive_data_acceptance.expected-statuses = {ACCEPTED}
"""


def test_only_operations_that_refuse_unknown_ids_may_answer_400_to_valid_data(db, world_cup, auth_client):
    """The 400s the run accepts for well-formed data: each is the API refusing an unknown id
    (or unknown credentials) with a 400 that names it, and the schema documents it."""
    from drf_spectacular.generators import SchemaGenerator

    from reports.models import Report

    document = SchemaGenerator().get_schema(request=None, public=True)
    for name, (method, url, body, field) in UNKNOWN_ID_REQUESTS.items():
        verb, path = name.split(" ")
        assert "400" in {str(code) for code in document["paths"][path][verb.lower()]["responses"]}, name
        client = auth_client if field else auth_client.__class__()
        response = getattr(client, method)(url, body, format="json") if body else client.get(url)
        assert response.status_code == 400, (name, response.status_code, response.content)
        detail = response.json()
        assert (field in detail) if field else ("non_field_errors" in detail), (name, detail)
    assert Report.objects.count() == 0


@pytest.fixture(scope="module")
def live_api(world_cup_import, django_db_blocker):
    """A gunicorn over the test database with the World Cup data, and a user with a token.

    Module-wide, so that one server answers every operation: the rows it
    must see are committed here, and removed again at the end.
    """
    from football.importer.services import wyscout_import
    from football.models import Dataset
    from reports import services
    from reports.models import Report

    with django_db_blocker.unblock():
        # As the `world_cup` fixture: a transactional test before this one flushed the tables.
        if not Dataset.objects.filter(version=world_cup_import.version).exists():
            wyscout_import(path=DEMO_DATA)
        user = get_user_model().objects.create_user(username=USERNAME, password=PASSWORD)
        token = Token.objects.create(user=user).key
    env = process_env(**THROTTLES_RAISED)
    var_dir = None
    if settings.CELERY_BROKER_URL.startswith("filesystem"):
        var_dir = Path(settings.VAR_DIR) / "schemathesis-web"
        env["DJANGO_VAR_DIR"] = str(var_dir)
    try:
        with WebServer(env=env, workers=1, threads=4, name="schemathesis") as server:
            yield server.url, token
    finally:
        with django_db_blocker.unblock():
            for report in Report.objects.filter(owner=user):
                services.report_delete(report=report)
            user.delete()
        if var_dir is not None:
            shutil.rmtree(var_dir, ignore_errors=True)


def _schema_document() -> dict:
    """The document `/api/schema/` serves, generated in this process at collection time.

    schemathesis' lazy loading from a fixture (which would fetch it from the
    live server) does not work under pytest 9, so it is generated here, from
    the same code, and test_the_live_server_serves_this_schema checks that the
    server serves exactly this document.
    """
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.renderers import OpenApiJsonRenderer

    return json.loads(OpenApiJsonRenderer().render(SchemaGenerator().get_schema(request=None, public=True)))


schema = schemathesis.openapi.from_dict(_schema_document(), config=SchemathesisConfig.from_str(CONFIG))


def test_the_live_server_serves_this_schema(live_api):
    url, _ = live_api
    response = requests.get(f"{url}/api/schema/?format=json", timeout=30)
    assert response.status_code == 200
    assert response.json() == _schema_document()


@schema.parametrize()
@hypothesis_settings(
    deadline=None,
    # One server and one user for every example of an operation, on purpose.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@pytest.mark.timeout(OPERATION_TIMEOUT_S)
def test_api_answers_as_documented(case, live_api, world_cup):
    url, token = live_api
    case.call_and_validate(base_url=url, headers={"Authorization": f"Token {token}"})
