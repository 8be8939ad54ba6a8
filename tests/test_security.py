"""Who may do what, what the API refuses, and how production is locked down (issue 6, items 1, 2 and 5).

Runs on the embedded stack and again on the production-like one (`mysql` marker):
MariaDB's strict mode and RabbitMQ answer some bad input differently from SQLite
and the filesystem broker, so each refusal is checked on both.
"""

import ipaddress
import json
import re
import secrets
import subprocess
import sys
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
import redis
import requests
from django.conf import settings
from django.db.models import F
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.authtoken.models import Token

from conftest import REPO
from football.models import Player
from football.tests.factories import PlayerFactory
from reports import runner
from reports.models import Report, ReportTask
from reports.tests.builders import small_league
from tests.pipeline import s3_bucket_create, s3_server  # noqa: F401  (s3_server: a moto server of its own)
from tests.servers import WebServer, process_env

pytestmark = [pytest.mark.mysql]

REPORTS = "/api/reports/"
# Everything else answers 401 to a caller without credentials (CONTRACT section 4).
PUBLIC_URL_NAMES = {"schema", "docs", "redoc", "auth-token", "healthz", "readyz", "web:login", "web:logout"}
# Pages of the project's own frontend (CONTRACT section 10) use session login: signed out, a browser
# is sent to the sign-in page and a script gets 401; a method a page does not take is 405.
SESSION_PAGE_URL_NAMES = {
    "report-exports",
    "report-export-pdf",
    "report-export-csv",
    "report-export-xlsx",
    "web:report-list",
    "web:report-new",
    "web:report-page",
    "web:report-compare",
    "web:report-retry",
    "web:report-cancel",
    "web:share-create",
    "web:share-revoke",
    "web:report-file",
    "web:report-pizza",
    "web:player-page",
}
# Share links (web): anyone may ask, and a token that is not a live link's is a 404 (405: a method they do not take).
SHARE_URL_NAMES = {"web:share-page", "web:share-data", "web:share-file", "web:share-pizza"}
METHODS = ("get", "post", "put", "patch", "delete", "options")
# A converter's sample value: any well-formed value will do, the view must refuse before looking it up.
SAMPLE_VALUES = {"int": "1", "uuid": str(uuid.uuid4()), "slug": "x", "str": "x", "path": "x"}


def _url_patterns(patterns=None, prefix: str = "", namespace: str = ""):
    """(route, name) for every URL of the project outside the Django admin, walking nested includes.

    A name in a namespaced include is given as `namespace:name`, as `reverse` takes it.
    """
    for pattern in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(pattern, URLResolver):
            if pattern.namespace == "admin":
                continue
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from _url_patterns(pattern.url_patterns, prefix + str(pattern.pattern), inner)
        elif isinstance(pattern, URLPattern):
            yield (
                prefix + str(pattern.pattern),
                f"{namespace}{pattern.name}" if pattern.name else pattern.name,
            )


def _concrete(route: str) -> str:
    return "/" + re.sub(r"<(?:(\w+):)?\w+>", lambda m: SAMPLE_VALUES[m.group(1) or "str"], route)


# --- 1. Access --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_every_endpoint_but_the_public_ones_needs_authentication(api_client):
    routes = dict(_url_patterns())
    assert set(routes.values()) >= PUBLIC_URL_NAMES, "a public URL name in this test no longer exists"
    protected = {route: name for route, name in routes.items() if name not in PUBLIC_URL_NAMES}
    # The walk must see the whole API, or a new include could slip past it.
    assert {"api/reports/<uuid:report_id>/retry/", "create-report", "api/players/"} <= set(protected)
    for route, name in protected.items():
        path = _concrete(route)
        for method in METHODS:
            response = getattr(api_client, method)(path)
            if name in SESSION_PAGE_URL_NAMES:
                assert response.status_code in (302, 401, 405), (
                    f"{method.upper()} {path}: {response.status_code}"
                )
                if response.status_code == 302:
                    assert response["Location"].startswith(settings.LOGIN_URL), response["Location"]
                continue
            if name in SHARE_URL_NAMES:
                assert response.status_code in (404, 405), f"{method.upper()} {path}: {response.status_code}"
                continue
            assert response.status_code == 401, f"{method.upper()} {path}: {response.status_code}"
            assert response["WWW-Authenticate"] == "Token"
    assert Report.objects.count() == 0


@pytest.mark.django_db
def test_the_public_endpoints_answer_without_credentials_and_admin_asks_for_a_login(api_client):
    assert api_client.get("/healthz").status_code == 200
    assert api_client.get("/api/schema/").status_code == 200
    assert api_client.get("/api/docs/").status_code == 200
    assert api_client.get("/api/redoc/").status_code == 200
    assert api_client.post("/api/auth/token/", {}, format="json").status_code == 400
    admin = api_client.get("/admin/reports/report/")
    assert admin.status_code == 302 and admin["Location"].startswith("/admin/login/")


@pytest.fixture
def owned_report(auth_client):
    players = [PlayerFactory().id for _ in range(2)]
    response = auth_client.post(REPORTS, {"name": "Mine", "players": players}, format="json")
    assert response.status_code == 202
    return response.json()["id"]


def _fail_every_section(report_id) -> None:
    """As if every section had failed for good: the state a retry starts from."""
    ReportTask.objects.filter(report_id=report_id).update(state="failed", error="boom")
    Report.objects.filter(pk=report_id).update(
        fast_failed=F("fast_total"), slow_failed=F("slow_total"), status="failed"
    )


@pytest.mark.django_db
def test_another_user_cannot_see_touch_retry_or_delete_a_report(owned_report, other_user, api_client):
    _fail_every_section(owned_report)
    before = list(ReportTask.objects.filter(report_id=owned_report).values_list("state", "error"))
    api_client.force_authenticate(other_user)
    for method, path in [
        ("get", f"{REPORTS}{owned_report}/"),
        ("get", f"{REPORTS}{owned_report}/?detail=tasks"),
        ("get", f"{REPORTS}{owned_report}/data/"),
        ("head", f"{REPORTS}{owned_report}/data/"),
        ("post", f"{REPORTS}{owned_report}/retry/"),
        ("post", f"{REPORTS}{owned_report}/cancel/"),
        ("delete", f"{REPORTS}{owned_report}/"),
    ]:
        response = getattr(api_client, method)(path)
        assert response.status_code == 404, f"{method} {path}"
    assert api_client.get(REPORTS).json()["count"] == 0
    # Nothing changed: not deleted, not retried.
    assert Report.objects.filter(pk=owned_report).exists()
    assert list(ReportTask.objects.filter(report_id=owned_report).values_list("state", "error")) == before


@pytest.mark.django_db
def test_staff_see_every_report(owned_report, other_user, api_client):
    other_user.is_staff = True
    other_user.save()
    api_client.force_authenticate(other_user)
    assert [row["id"] for row in api_client.get(REPORTS).json()["results"]] == [owned_report]
    assert api_client.get(f"{REPORTS}{owned_report}/").json()["name"] == "Mine"
    assert api_client.delete(f"{REPORTS}{owned_report}/").status_code == 204
    assert not Report.objects.filter(pk=owned_report).exists()


def _throttle_servers(**rates: str):
    """Two web processes sharing one Redis for their cache, with small throttle rates."""
    env = process_env(REDIS_URL=THROTTLE_REDIS_URL, **rates)
    return WebServer(env=env, name="throttle-a"), WebServer(env=env, name="throttle-b")


# A Redis database of its own (the test settings use 14 and 15, the benchmark 12 and 13),
# emptied before and after: throttle counts are
# keyed by user id, and ids repeat across test runs.
THROTTLE_REDIS_URL = "redis://127.0.0.1:6379/11"


@pytest.fixture
def throttle_redis(require_service):
    require_service("redis")
    client = redis.Redis.from_url(THROTTLE_REDIS_URL)
    client.flushdb()
    yield client
    client.flushdb()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_throttles_are_shared_by_web_processes_through_redis(throttle_redis, django_user_model):
    creator = django_user_model.objects.create_user(username="creator", password="pw-creator-123")
    reader = django_user_model.objects.create_user(username="reader", password="pw-reader-123")
    auth = {
        u.username: {"Authorization": f"Token {Token.objects.create(user=u).key}"} for u in (creator, reader)
    }
    rates = {"THROTTLE_REPORT_CREATE": "3/min", "THROTTLE_USER": "6/min", "THROTTLE_ANON": "4/min"}
    first, second = _throttle_servers(**rates)
    with first, second:
        servers = [first, second] * 4

        # Report creation: 3 a minute per user, counted over both processes.
        # An invalid body still counts (throttles run before the view) and creates nothing.
        answers = [
            requests.post(f"{s.url}{REPORTS}", json={"players": []}, headers=auth["creator"], timeout=10)
            for s in servers[:4]
        ]
        assert [a.status_code for a in answers] == [400, 400, 400, 429], [a.text for a in answers]
        # At most a period plus a period/limit (the sliding-window estimate, config/throttling.py).
        assert 0 < int(answers[3].headers["Retry-After"]) <= 60 + 60 / 3
        assert "throttled" in answers[3].json()["detail"].lower()
        refused = requests.post(f"{first.url}{REPORTS}", json={"players": [1]}, headers=auth["creator"])
        assert refused.status_code == 429
        # Reading is another scope: still allowed for the same user.
        assert requests.get(f"{second.url}{REPORTS}", headers=auth["creator"]).status_code == 200

        # Every request of a user: 6 a minute, over both processes.
        codes = [
            requests.get(f"{s.url}/api/competitions/", headers=auth["reader"]).status_code
            for s in servers[:7]
        ]
        assert codes == [200] * 6 + [429]

        # Without credentials (the token endpoint): 4 a minute per address.
        guesses = [
            requests.post(f"{s.url}/api/auth/token/", json={"username": "reader", "password": "guess"})
            for s in servers[:5]
        ]
        assert [g.status_code for g in guesses] == [400] * 4 + [429]
        assert "Retry-After" in guesses[4].headers
    assert Report.objects.count() == 0
    assert throttle_redis.dbsize() > 0, "the throttles did not count in Redis"


@pytest.mark.django_db
def test_a_body_over_the_upload_limit_is_413_and_creates_nothing(auth_client):
    player = PlayerFactory().id
    body = json.dumps({"players": [player], "name": "x" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE})
    response = auth_client.post(REPORTS, data=body, content_type="application/json")
    assert response.status_code == 413
    assert str(settings.DATA_UPLOAD_MAX_MEMORY_SIZE) in response.json()["detail"]
    assert Report.objects.count() == 0


@pytest.mark.django_db
def test_a_report_takes_500_players_and_not_one_more(
    auth_client, world_cup, django_capture_on_commit_callbacks
):
    ids = list(Player.objects.order_by("pk").values_list("pk", flat=True)[:501])
    assert len(ids) == 501
    with django_capture_on_commit_callbacks() as callbacks:
        over = auth_client.post(REPORTS, {"players": ids, "sections": ["profile"]}, format="json")
    assert over.status_code == 400 and "500" in over.json()["players"][0]
    assert callbacks == [] and Report.objects.count() == 0
    at_limit = auth_client.post(REPORTS, {"players": ids[:500], "sections": ["profile"]}, format="json")
    assert at_limit.status_code == 202
    assert ReportTask.objects.filter(report_id=at_limit.json()["id"]).count() == 500


@pytest.mark.django_db
def test_report_list_page_size_is_capped(auth_client, user):
    Report.objects.bulk_create(
        Report(owner=user, name=f"r{n}", player_ids=[1], sections=["profile"], data_version="v")
        for n in range(settings.MAX_PAGE_SIZE + 1)
    )
    page = auth_client.get(REPORTS, {"page_size": 10_000}).json()
    assert page["count"] == settings.MAX_PAGE_SIZE + 1
    assert len(page["results"]) == settings.MAX_PAGE_SIZE and page["next"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "field",
    ["id", "owner", "status", "player_ids", "partial_key", "merged_key", "data_version", "generation"],
)
def test_fields_a_client_must_not_set_are_refused_on_create(auth_client, field):
    player = PlayerFactory().id
    response = auth_client.post("/create-report", {"players": [player], field: "x"}, format="json")
    assert response.status_code == 400
    assert response.json() == {field: ["Unknown field."]}
    assert Report.objects.count() == 0


@pytest.mark.django_db
def test_other_write_endpoints_ignore_or_refuse_client_fields(owned_report, auth_client, user, other_user):
    _fail_every_section(owned_report)
    before = Report.objects.get(pk=owned_report)
    retried = auth_client.post(
        f"{REPORTS}{owned_report}/retry/",
        {"owner": other_user.pk, "status": "complete", "name": "renamed", "merged_key": "/etc/passwd"},
        format="json",
    )
    assert retried.status_code == 202
    after = Report.objects.get(pk=owned_report)
    assert (after.owner_id, after.name, after.merged_key) == (user.pk, before.name, before.merged_key)
    assert after.status == "running"  # what retry does, not what the body said
    # No endpoint edits a report in place.
    for method in ("put", "patch"):
        response = getattr(auth_client, method)(f"{REPORTS}{owned_report}/", {"name": "x"}, format="json")
        assert response.status_code == 405
    assert Report.objects.get(pk=owned_report).name == "Mine"


# --- 2. Bad input ------------------------------------------------------------------------------


BAD_BODIES = [
    pytest.param('{"players": [1,', "detail", "JSON parse error", id="truncated-json"),
    pytest.param("[1, 2]", "non_field_errors", "expected a dictionary", id="a-list"),
    pytest.param('"players"', "non_field_errors", "expected a dictionary", id="a-string"),
    pytest.param("null", "non_field_errors", "no data", id="null"),
    pytest.param('{"players": {"a": 1}}', "players", "list", id="players-an-object"),
    pytest.param('{"players": [[1]]}', "players", "integer", id="nested-list"),
    pytest.param('{"players": [true]}', "players", "integer", id="boolean-id"),
    pytest.param('{"players": ["../../etc"]}', "players", "integer", id="path-like-id"),
    pytest.param('{"players": [9223372036854775808]}', "players", "less than or equal", id="huge-id"),
    pytest.param('{"players": [0]}', "players", "greater than or equal", id="zero-id"),
    pytest.param('{"players": [1], "sections": "profile"}', "sections", "list", id="sections-a-string"),
    pytest.param(
        '{"players": [1], "sections": ["profile", "profile"]}', "sections", "once", id="repeated-section"
    ),
    pytest.param(
        '{"players": [1], "sections": ["../profile"]}', "sections", "valid choice", id="path-section"
    ),
    pytest.param('{"players": [1], "name": ["a"]}', "name", "string", id="name-a-list"),
    pytest.param('{"players": [1], "name": "a\\u0000b"}', "name", "null characters", id="nul-in-name"),
    pytest.param('{"players": [1], "name": "a\\ud800b"}', "name", "surrogate", id="lone-surrogate"),
    pytest.param('{"players": [1], "players": "x"}', "players", "list", id="duplicate-key-last-wins"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("body", "field", "fragment"), BAD_BODIES)
def test_bad_bodies_are_400_and_enqueue_nothing(
    auth_client, body, field, fragment, django_capture_on_commit_callbacks
):
    PlayerFactory(id=1)
    with django_capture_on_commit_callbacks() as callbacks:
        response = auth_client.post(REPORTS, data=body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert fragment.lower() in json.dumps(response.json()[field]).lower()
    assert callbacks == [] and Report.objects.count() == 0 and ReportTask.objects.count() == 0


@pytest.mark.django_db
def test_a_body_that_is_not_json_or_a_form_is_415(auth_client):
    response = auth_client.post(REPORTS, data="players=1", content_type="text/plain")
    assert response.status_code == 415
    assert Report.objects.count() == 0


@pytest.mark.django_db
def test_an_overlong_idempotency_key_is_400_not_a_database_error(auth_client):
    player = PlayerFactory().id
    # MariaDB in strict mode refuses a value wider than the column: checked before the insert.
    response = auth_client.post(REPORTS, {"players": [player]}, format="json", HTTP_IDEMPOTENCY_KEY="k" * 201)
    assert response.status_code == 400
    assert "200" in response.json()["Idempotency-Key"][0]
    assert Report.objects.count() == 0
    ok = auth_client.post(REPORTS, {"players": [player]}, format="json", HTTP_IDEMPOTENCY_KEY="k" * 200)
    assert ok.status_code == 202


@pytest.mark.django_db
def test_names_with_rtl_marks_and_emoji_are_kept_as_sent(auth_client):
    player = PlayerFactory().id
    name = "\u202eKane\u200f \u0645\u062d\u0645\u062f \U0001f3c6 Müller"
    response = auth_client.post(REPORTS, {"players": [player], "name": name}, format="json")
    assert response.status_code == 202
    assert auth_client.get(f"{REPORTS}{response.json()['id']}/").json()["name"] == name


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/players/..%2F..%2Fetc/", 404),
        ("/api/players/../../etc/passwd", 404),
        ("/api/players/-1/", 404),
        ("/api/players/1e3/", 404),
        ("/api/players/99999999999999999999999/", 404),
        ("/api/teams/99999999999999999999999/", 404),
        ("/api/reports/not-a-uuid/", 404),
        ("/api/reports/not-a-uuid/data/", 404),
        (f"/api/reports/{uuid.uuid4()}/", 404),
        (f"/api/reports/{uuid.uuid4()}/data/", 404),
        ("/api/players/?team=99999999999999999999", 400),
        ("/api/players/?competition=..%2Fetc", 400),
        ("/api/players/?role=%00", 400),
        ("/api/players/?search=%00", 400),
        ("/api/players/?search=" + "a" * 10_000, 400),
        ("/api/players/?search=%ED%A0%80", 200),  # not UTF-8: decoded with replacement, matches nobody
        ("/api/players/?search=%E2%80%AEenaK", 200),  # an RTL override is just text
        ("/api/players/?page=abc", 404),
        ("/api/players/?page=99999999999999999999999", 404),
        ("/api/players/?page_size=-5", 400),
        ("/api/reports/?page_size=abc", 400),
        ("/api/teams/?search=" + "é" * 5_000, 400),
    ],
)
def test_bad_paths_and_query_strings_are_400_or_404(auth_client, path, status):
    response = auth_client.get(path)
    assert response.status_code == status, response.content[:300]
    # In the API's error shape, even for a path that matches no URL (config.errors).
    assert response["Content-Type"] == "application/json"
    if status == 404:
        assert response.json()["detail"]


@pytest.mark.django_db
def test_search_with_odd_unicode_finds_by_folded_name(auth_client, world_cup):
    # The demo data holds Mbappé; a search with a zero-width space inside is not an error.
    assert auth_client.get("/api/players/", {"search": "mbapp\u00e9"}).json()["count"] >= 1
    assert auth_client.get("/api/players/", {"search": "mb\u200bappe"}).status_code == 200


# --- 5. Hardening -------------------------------------------------------------------------------


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )


def _production_env(**extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in process_env().items()
        if not key.startswith(("DJANGO_", "DATABASE_URL", "TEST_", "AWS_", "REDIS_URL", "CELERY_"))
    }
    return {**env, "DJANGO_SETTINGS_MODULE": "config.settings.production", **extra}


def test_production_settings_pass_the_deploy_check():
    env = _production_env(
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="reports.example.org",
        # Production ignores a debug switch left on in the environment.
        DJANGO_DEBUG="true",
    )
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    shown = _manage(
        "shell",
        "-c",
        "from django.conf import settings as s; print(s.DEBUG, s.SECURE_HSTS_SECONDS, s.SESSION_COOKIE_SECURE,"
        " s.CSRF_COOKIE_SECURE, s.SECURE_SSL_REDIRECT)",
        env=env,
    )
    # The shell prints a line of its own first; the values are on the last line.
    debug, hsts, session_secure, csrf_secure, redirect = shown.stdout.strip().splitlines()[-1].split()
    assert debug == "False" and int(hsts) >= 365 * 24 * 3600
    assert session_secure == csrf_secure == redirect == "True"


def test_production_refuses_to_start_without_a_secret_key():
    result = _manage("check", env=_production_env())
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


# Patterns of things that must never be committed. A deployment's address is
# caught as any public IP address, so that this file need not name it.
SECRET_PATTERNS = {
    "AWS access key id": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "private key": re.compile(r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED )?PRIVATE KEY-----"),
    "AWS-hosted server name": re.compile(r"[\w.-]+\.(?:rds|cache|mq|compute|elb)\.[\w.-]*amazonaws\.com"),
    "AWS secret access key": re.compile(r"(?i)aws_secret_access_key\s*[=:]\s*['\"]?[A-Za-z0-9/+]{40}\b"),
    "GitHub or Slack token": re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36}|xox[abpr]-[A-Za-z0-9-]{10,})"),
}
IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w.])")


def _tracked_text_files():
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    for name in listed.decode().split("\0"):
        path = REPO / name
        if not name or not path.is_file():
            continue
        content = path.read_bytes()
        if b"\0" in content[:8192]:  # binary (the demo data archive)
            continue
        yield name, content.decode("utf-8", errors="replace")


def test_no_secret_or_deployment_address_is_committed():
    found = []
    for name, text in _tracked_text_files():
        for what, pattern in SECRET_PATTERNS.items():
            found += [f"{name}: {what}: {m.group(0)[:12]}..." for m in pattern.finditer(text)]
        for match in IPV4.finditer(text):
            try:
                address = ipaddress.ip_address(match.group(0))
            except ValueError:
                continue
            if address.is_global:
                found.append(f"{name}: public IP address {address}")
    assert found == []


def _signed_url_lifetime(url: str) -> float:
    """Seconds a presigned S3 URL stays valid; fails the test if it is not signed."""
    query = {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}
    # Signature version 4 (settings.AWS_S3_CLIENT_CONFIG): a lifetime counted from the signing time.
    assert query.get("X-Amz-Algorithm") == "AWS4-HMAC-SHA256", f"not a version 4 signed URL: {url}"
    assert query["X-Amz-Signature"] and query["X-Amz-Credential"] and query["X-Amz-Date"]
    return int(query["X-Amz-Expires"])


@pytest.fixture
def private_bucket(s3_server, settings):  # noqa: F811
    """A bucket on the moto server, made this process's report storage as in production."""
    bucket = f"reports-security-{uuid.uuid4().hex[:8]}"
    client = s3_bucket_create(s3_server["endpoint"], bucket)
    settings.AWS_STORAGE_BUCKET_NAME = bucket
    settings.AWS_S3_ENDPOINT_URL = s3_server["endpoint"]
    settings.AWS_ACCESS_KEY_ID = "testing"
    settings.AWS_SECRET_ACCESS_KEY = "testing"
    settings.AWS_S3_REGION_NAME = "us-east-1"
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "reports.storage.ReportS3Storage"}}
    return client, bucket


@pytest.mark.slow
@pytest.mark.django_db
def test_s3_objects_are_private_and_their_urls_signed_and_short_lived(auth_client, private_bucket):
    client, bucket = private_bucket
    player = small_league().player_ids[0]
    report_id = auth_client.post(
        REPORTS, {"players": [player], "sections": ["visuals"]}, format="json"
    ).json()["id"]
    # The pipeline's own section runner, in this process: the test is about what
    # it writes to S3, not about the broker (no message is published inside this
    # test's transaction).
    for section in ("shot_map", "visuals"):
        task = ReportTask.objects.get(report_id=report_id, section=section)
        runner.report_task_run(report_task_id=task.pk)
        task.refresh_from_db()
        assert task.state == "done", task.error

    stored = [item["Key"] for item in client.list_objects_v2(Bucket=bucket)["Contents"]]
    assert stored and all(key.startswith("reports/") for key in stored)
    for key in stored:
        grants = client.get_object_acl(Bucket=bucket, Key=key)["Grants"]
        assert not [g for g in grants if "URI" in g["Grantee"]], f"{key} is granted to a group: {grants}"
        anonymous = requests.get(f"{settings.AWS_S3_ENDPOINT_URL}/{bucket}/{key}", timeout=10)
        assert anonymous.status_code == 403, key

    data = auth_client.get(f"{REPORTS}{report_id}/data/")
    assert data.status_code == 200
    urls = json.loads(data.content)["players"][str(player)]["visuals"]["image_urls"]
    assert urls
    for url in urls.values():
        assert 0 < _signed_url_lifetime(url) <= settings.AWS_QUERYSTRING_EXPIRE
        signed = requests.get(url, timeout=10)
        assert signed.status_code == 200 and signed.content.startswith(b"\x89PNG")
        unsigned = requests.get(url.split("?")[0], timeout=10)
        assert unsigned.status_code == 403
