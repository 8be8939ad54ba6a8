"""The report pages through Django's test client: sign-in, ownership (404), CSRF, bad input, share links, files.

What needs a browser and real workers is in test_browser.py.
"""

import html
import re
import time
from datetime import timedelta

import orjson
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db.models import F
from django.test import Client
from django.utils import timezone

from football.tests.factories import PlayerFactory
from reports import merge, outbox, runner
from reports import services as report_services
from reports.models import Outbox, Partial, Report, ReportStatus, ReportTask, TaskState
from tests.pipeline import PRODUCTION
from web.models import ShareLink

from .factories import report_make

pytestmark = [pytest.mark.mysql, pytest.mark.django_db]
XSS_NAME = "<script>alert(1)</script>"


@pytest.fixture
def owner_client(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def other_client(other_user):
    client = Client()
    client.force_login(other_user)
    return client


def pages_of(report, key="reports/partials/x/v1/1/y/shot_map.png") -> list[tuple[str, str]]:
    pid = report.player_ids[0]
    base = f"/reports/{report.pk}/"
    return [
        ("get", base),
        ("get", f"{base}compare/?players={','.join(map(str, report.player_ids))}"),
        ("get", f"{base}files/{key}"),
        ("get", f"{base}players/{pid}/pizza.png"),
        ("post", f"{base}retry/"),
        ("post", f"{base}share/"),
        ("post", f"{base}cancel/"),
    ]


def test_pages_ask_to_sign_in(client, user):
    report = report_make(owner=user, players=1)
    for method, url in [("get", "/"), ("get", "/reports/new/"), *pages_of(report)]:
        response = getattr(client, method)(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/accounts/login/?next="), url
    assert client.get("/accounts/login/").status_code == 200


def test_another_users_report_is_404_on_every_page_and_staff_see_it(user, other_user, other_client):
    report = report_make(owner=user, players=2)
    key = report.tasks.get(player_id=report.player_ids[0], section="visuals").partial.files[0]
    for method, url in pages_of(report, key):
        response = getattr(other_client, method)(url, {"days": "3"} if method == "post" else None)
        assert response.status_code == 404, url
        assert response["Content-Type"].startswith("text/html"), url
    assert ShareLink.objects.count() == 0
    # Not in the list either.
    assert report.name not in other_client.get("/").content.decode()
    other_user.is_staff = True
    other_user.save()
    assert other_client.get(f"/reports/{report.pk}/").status_code == 200
    # Staff read, but only the owner shares.
    assert other_client.post(f"/reports/{report.pk}/share/", {"days": "3"}).status_code == 404


def test_pages_answer_html_404_and_the_api_json_404(owner_client):
    page = owner_client.get("/no/such/page/")
    assert page.status_code == 404 and page["Content-Type"].startswith("text/html")
    assert b"Not found" in page.content
    api = owner_client.get("/api/no/such/thing/")
    assert api.status_code == 404 and api.json() == {"detail": "No such resource: /api/no/such/thing/"}
    assert owner_client.get(f"/reports/{'0' * 8}-0000-0000-0000-{'0' * 12}/").status_code == 404


def test_every_form_needs_its_csrf_token(user):
    report = report_make(owner=user, players=1)
    client = Client(enforce_csrf_checks=True)
    assert (
        client.post("/accounts/login/", {"username": "analyst", "password": "pw-analyst-123"}).status_code
        == 403
    )
    client.force_login(user)
    for url, body in [
        ("/reports/new/", {"players": [str(report.player_ids[0])]}),
        (f"/reports/{report.pk}/retry/", {}),
        (f"/reports/{report.pk}/share/", {"days": "3"}),
        (f"/reports/{report.pk}/cancel/", {}),
        ("/accounts/logout/", {}),
    ]:
        assert client.post(url, body).status_code == 403, url
    assert Report.objects.count() == 1 and ShareLink.objects.count() == 0
    # With the token the page carries, the same form goes through.
    page = client.get("/reports/new/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    response = client.post("/reports/new/", {"players": ["abc"], "csrfmiddlewaretoken": token})
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"players": ["abc"]}, "item 1: A valid integer is required."),
        ({"players": ["999999991", "999999992"]}, "Unknown player ids: 999999991, 999999992."),
        ({}, "<b>players</b>: This list may not be empty."),
        ({"players": ["PLAYER"], "sections": []}, "<b>sections</b>: This list may not be empty."),
        ({"players": ["PLAYER", "PLAYER"]}, "Repeated player ids:"),
        (
            {"players": ["PLAYER"], "sections": ["profile", "bogus"]},
            "&quot;bogus&quot; is not a valid choice.",
        ),
        ({"players": ["PLAYER"], "name": "x" * 201}, "no more than 200 characters"),
    ],
)
def test_create_page_names_each_problem_and_creates_nothing(owner_client, body, problem):
    player = PlayerFactory()
    body = {
        k: [str(player.id) if v == "PLAYER" else v for v in vs] if isinstance(vs, list) else vs
        for k, vs in body.items()
    }
    # The form posts the ticked sections; all are ticked unless the case says otherwise.
    response = owner_client.post("/reports/new/", {"sections": ["profile", "heatmap"], **body})
    assert response.status_code == 400
    assert problem in response.content.decode()
    assert "The report was not created" in response.content.decode()
    assert Report.objects.count() == 0 and ReportTask.objects.count() == 0
    # What was chosen stays chosen.
    if "PLAYER" in str(body) or str(player.id) in str(body):
        assert player.name in response.content.decode()


def test_create_page_with_unicode_digits_is_not_a_500(owner_client):
    assert owner_client.get("/reports/new/?players=²,٣").status_code == 200
    response = owner_client.post("/reports/new/", {"name": "x", "players": ["²"], "sections": ["profile"]})
    assert response.status_code == 400 and "item 1: A valid integer is required" in response.content.decode()


def test_create_page_calls_the_service_as_the_api_does(
    owner_client, user, django_capture_on_commit_callbacks
):
    players = [PlayerFactory(), PlayerFactory()]
    response = owner_client.post(
        "/reports/new/",
        {"name": "Two players", "players": [str(p.id) for p in players], "sections": ["visuals"]},
    )
    report = Report.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/reports/{report.pk}/"
    assert (report.owner, report.name, report.player_ids) == (user, "Two players", [p.id for p in players])
    # As the API: the section a chosen one depends on is added.
    assert report.sections == ["shot_map", "visuals"]
    assert ReportTask.objects.filter(report=report).count() == 4
    # The create page pre-fills players from a player page's link.
    page = owner_client.get(f"/reports/new/?players={players[0].id}").content.decode()
    assert players[0].name in page and players[1].name not in page


@pytest.mark.parametrize(
    ("players", "problem"),
    [
        (None, "give 2 to 4 player ids"),
        ("", "give 2 to 4 player ids"),
        ("abc,1", "not player ids: abc"),
        ("²,³", "not player ids: ², ³"),
        ("٣,ONE", "not player ids: ٣"),
        ("ONE", "compare 2 to 4 players, not 1"),
        ("ONE,ONE", "repeated: ONE"),
        ("ONE,123456789", "not in this report: 123456789"),
        ("ALL", "compare 2 to 4 players, not 5"),
    ],
)
def test_compare_with_bad_players_is_a_400_naming_the_problem(owner_client, user, players, problem):
    report = report_make(owner=user, players=5, finished=False)
    one = str(report.player_ids[0])
    if players is not None:
        players = players.replace("ONE", one).replace("ALL", ",".join(map(str, report.player_ids)))
    response = owner_client.get(
        f"/reports/{report.pk}/compare/", {} if players is None else {"players": players}
    )
    assert response.status_code == 400
    assert problem.replace("ONE", one) in response.content.decode()


def test_file_view_streams_only_the_reports_own_files(owner_client, user):
    report = report_make(owner=user, players=1)
    other = report_make(owner=user, players=1)
    key = report.tasks.get(section="visuals").partial.files[0]
    response = owner_client.get(f"/reports/{report.pk}/files/{key}")
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert b"".join(response.streaming_content) == default_storage.open(key, "rb").read()
    other_key = other.tasks.get(section="visuals").partial.files[0]
    partial_json = report.tasks.get(section="visuals").partial_key
    for bad in [
        other_key,  # another report's picture, through this report
        partial_json,  # a partial is not one of its files
        key.replace("shot_map.png", "heatmap.png"),  # not listed
        "reports/partials/../../../etc/passwd",
        "settings.py",
    ]:
        assert owner_client.get(f"/reports/{report.pk}/files/{bad}").status_code == 404, bad


def test_the_apis_picture_urls_are_the_file_view_off_s3(auth_client, user):
    report = report_make(owner=user, players=1)
    document = auth_client.get(f"/api/reports/{report.pk}/data/").json()
    (sections,) = document["players"].values()
    key = sections["visuals"]["images"]["shot_map"]
    url = sections["visuals"]["image_urls"]["shot_map"]
    if PRODUCTION:
        assert "X-Amz-Expires=" in url and "X-Amz-Signature=" in url  # signed, short-lived, as before
    else:
        assert url == f"/reports/{report.pk}/files/{key}"
        client = Client()
        client.force_login(user)
        assert client.get(url).status_code == 200


def test_share_link_is_read_only_for_anyone_until_revoked_or_expired(owner_client, user):
    report = report_make(owner=user, players=2, name=XSS_NAME)
    response = owner_client.post(f"/reports/{report.pk}/share/", {"days": "3"}, follow=True)
    page = response.content.decode()
    url = re.search(r"(http://testserver/share/[A-Za-z0-9_-]+/)", page).group(1)
    token = url.rstrip("/").rsplit("/", 1)[1]
    assert len(token) >= 43  # 32 random bytes
    link = ShareLink.objects.get()
    assert link.token_hash != token and token not in str(ShareLink.objects.values_list())
    assert link.generation == report.generation
    assert timedelta(days=2, hours=23) < link.expires_at - timezone.now() <= timedelta(days=3)

    anonymous = Client()
    shared = anonymous.get(f"/share/{token}/")
    assert shared.status_code == 200 and shared["Cache-Control"] == "private, no-store"
    body = shared.content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body and XSS_NAME not in body
    assert "retry-form" not in body and 'id="share"' not in body and "share-create" not in body
    data = orjson.loads(anonymous.get(f"/share/{token}/data/").content)
    assert data["report"]["id"] == str(report.pk)
    for sections in data["players"].values():
        picture = sections["visuals"]["image_urls"]["shot_map"]
        assert picture.startswith(f"/share/{token}/files/reports/partials/")
        assert anonymous.get(picture).status_code == 200
    # The token opens this report and nothing else.
    other = report_make(owner=user, players=1)
    other_key = other.tasks.get(section="visuals").partial.files[0]
    assert anonymous.get(f"/share/{token}/files/{other_key}").status_code == 404
    assert anonymous.get(f"/reports/{report.pk}/").status_code == 302
    assert anonymous.get(f"/share/{token[:-1]}x/").status_code == 404

    owner_client.post(f"/reports/{report.pk}/share/{link.pk}/revoke/")
    for path in ["", "data/", picture.removeprefix(f"/share/{token}/")]:
        assert anonymous.get(f"/share/{token}/{path}").status_code == 404, path

    second = owner_client.post(f"/reports/{report.pk}/share/", {"days": "1"}, follow=True).content.decode()
    token2 = re.search(r"http://testserver/share/([A-Za-z0-9_-]+)/", second).group(1)
    assert anonymous.get(f"/share/{token2}/").status_code == 200
    ShareLink.objects.filter(revoked_at__isnull=True).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert anonymous.get(f"/share/{token2}/").status_code == 404


@pytest.mark.parametrize(
    ("days", "problem"),
    [
        ("0", "from 1 to 30 days, not 0"),
        ("31", "not 31"),
        ("x", "not 'x'"),
        ("", "not ''"),
        ("²", "not '²'"),
        ("٣", "not '٣'"),
    ],
)
def test_share_link_with_bad_days_is_a_400(owner_client, user, days, problem):
    report = report_make(owner=user, players=1)
    response = owner_client.post(f"/reports/{report.pk}/share/", {"days": days})
    assert response.status_code == 400 and html.escape(problem) in response.content.decode()
    assert ShareLink.objects.count() == 0


def test_an_unfinished_report_cannot_be_shared(owner_client, user):
    report = report_make(owner=user, players=1, finished=False)
    response = owner_client.post(f"/reports/{report.pk}/share/", {"days": "3"})
    assert response.status_code == 400 and "Only a finished report can be shared" in response.content.decode()
    assert ShareLink.objects.count() == 0


RAW_ERROR = "OSError: cannot reach db-internal.example:5432 from /srv/app/secret"


def _fail_section(report, section: str, error: str) -> ReportTask:
    """End one done section failed through the runner, as a worker does; the report ends failed."""
    task = report.tasks.get(player_id=report.player_ids[0], section=section)
    queue = task.queue
    ReportTask.objects.filter(pk=task.pk).update(state=TaskState.RUNNING, partial=None)
    Report.objects.filter(pk=report.pk).update(
        **{f"{queue}_done": F(f"{queue}_done") - 1},
        completed_at=None,
        status=ReportStatus.RUNNING,
    )
    runner._fail(ReportTask.objects.get(pk=task.pk), error)
    report.refresh_from_db()
    assert report.status == ReportStatus.FAILED and report.completed_at is not None
    merge.merged_write(report_id=report.pk, generation=report.generation)
    return task


def outbox_run_all() -> None:
    """Run the outbox rows written so far (their after-commit runs do not fire inside a test's transaction)."""
    for row_id in Outbox.objects.values_list("pk", flat=True):
        outbox.outbox_run(row_id=row_id)


def _share(owner_client, report) -> str:
    page = owner_client.post(f"/reports/{report.pk}/share/", {"days": "3"}, follow=True).content.decode()
    return re.search(r"http://testserver/share/([A-Za-z0-9_-]+)/", page).group(1)


def test_a_shared_generation_stays_after_a_retry(owner_client, user):
    report = report_make(owner=user, players=1)
    player_id = report.player_ids[0]
    _percentiles_partial(report, player_id)
    partial_id = report.tasks.get(section="expected_threat").partial_id
    task = _fail_section(report, "expected_threat", RAW_ERROR)
    first_merged = Report.objects.get(pk=report.pk).merged_key
    assert default_storage.exists(first_merged)
    token = _share(owner_client, report)
    anonymous = Client()
    before = orjson.loads(anonymous.get(f"/share/{token}/data/").content)
    picture = before["players"][str(player_id)]["visuals"]["image_urls"]["shot_map"]
    assert anonymous.get(f"/share/{token}/players/{player_id}/pizza.png").status_code == 200

    # A real retry: the failed section runs again and ends done, the
    # generation completes and its outbox run writes the new merged file,
    # deleting the older generation's.
    retried = report_services.report_retry(report=report)
    assert retried.generation == 2
    ReportTask.objects.filter(pk=task.pk).update(state=TaskState.RUNNING)
    runner._finish(
        ReportTask.objects.get(pk=task.pk), partial_id=partial_id, reused=True, started=time.monotonic()
    )
    report.refresh_from_db()
    assert report.status == ReportStatus.COMPLETE
    assert merge.merged_write(report_id=report.pk, generation=2)
    assert not default_storage.exists(first_merged)

    shared = anonymous.get(f"/share/{token}/data/")
    assert shared.status_code == 200
    data = orjson.loads(shared.content)
    assert data == before and data["report"]["generation"] == 1 and len(data["failed"]) == 1
    assert anonymous.get(picture).status_code == 200
    assert anonymous.get(f"/share/{token}/players/{player_id}/pizza.png").status_code == 200
    page = anonymous.get(f"/share/{token}/").content.decode()
    assert '"status":"failed"' in page.replace(" ", "")  # the link's generation, not the report's
    # The owner sees the new generation.
    owned = orjson.loads(owner_client.get(f"/api/reports/{report.pk}/data/").content)
    assert owned["report"]["generation"] == 2 and owned["failed"] == []


def test_a_shared_page_shows_no_raw_error_and_the_owner_does(owner_client, user):
    report = report_make(owner=user, players=1)
    _fail_section(report, "expected_threat", RAW_ERROR)
    token = _share(owner_client, report)
    shared = Client().get(f"/share/{token}/data/").content.decode()
    assert "db-internal" not in shared and "/srv/app" not in shared and "OSError" not in shared
    assert orjson.loads(shared)["failed"][0]["error"] == "this section could not be computed"
    owned = orjson.loads(owner_client.get(f"/api/reports/{report.pk}/data/").content)
    assert owned["failed"][0]["error"] == RAW_ERROR


def test_a_share_serves_only_its_own_files_and_its_copy_goes_with_it(owner_client, user):
    report = report_make(owner=user, players=1)
    token = _share(owner_client, report)
    link = ShareLink.objects.get()
    assert link.data_key == f"reports/shares/{report.pk.hex}/{link.pk}.json"
    assert default_storage.exists(link.data_key)
    # A picture added to the report's partial after the link was made is not the link's.
    task = report.tasks.get(section="visuals")
    later = task.partial_key.removesuffix(".json") + "/later.png"
    default_storage.save(later, ContentFile(b"\x89PNG-later", name="later.png"))
    Partial.objects.filter(pk=task.partial_id).update(files=[*task.partial.files, later])
    assert owner_client.get(f"/reports/{report.pk}/files/{later}").status_code == 200
    anonymous = Client()
    assert anonymous.get(f"/share/{token}/files/{later}").status_code == 404
    for path in [f"files/{task.partial.files[0]}", f"players/{report.player_ids[0]}/pizza.png"]:
        response = anonymous.get(f"/share/{token}/{path}")
        if response.status_code == 200:
            assert response["Cache-Control"] == "private, no-store" and response["X-Robots-Tag"] == "noindex"
    picture = anonymous.get(f"/share/{token}/files/{task.partial.files[0]}")
    assert picture.status_code == 200 and picture["Cache-Control"] == "private, no-store"

    owner_client.post(f"/reports/{report.pk}/share/{link.pk}/revoke/")
    outbox_run_all()
    assert not default_storage.exists(link.data_key)


def test_an_expired_or_deleted_reports_share_copies_are_deleted(owner_client, user):
    report = report_make(owner=user, players=1)
    _share(owner_client, report)
    _share(owner_client, report)
    expired, kept = ShareLink.objects.order_by("pk")
    ShareLink.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    report_services.reports_purge_expired()
    outbox_run_all()
    assert not default_storage.exists(expired.data_key) and default_storage.exists(kept.data_key)
    report_services.report_delete(report=Report.objects.get(pk=report.pk))
    outbox_run_all()
    assert not default_storage.exists(kept.data_key)


def test_names_are_escaped_everywhere(owner_client, user):
    report = report_make(owner=user, players=1, name=XSS_NAME)
    for url in ["/", f"/reports/{report.pk}/"]:
        body = owner_client.get(url).content.decode()
        assert XSS_NAME not in body and "&lt;script&gt;alert(1)&lt;/script&gt;" in body, url
    # In the page's JSON configuration too (json_script escapes <, > and &).
    assert "\\u003Cscript\\u003E" in owner_client.get(f"/reports/{report.pk}/").content.decode()


def test_retry_page_action_requeues_the_failed_sections(
    owner_client, user, django_capture_on_commit_callbacks
):
    report = report_make(owner=user, players=1)
    nothing = owner_client.post(f"/reports/{report.pk}/retry/", follow=True)
    assert "no failed sections to retry" in nothing.content.decode()
    ReportTask.objects.filter(report=report, section="percentiles").update(state="failed", error="boom")
    Report.objects.filter(pk=report.pk).update(status="failed", slow_done=3, slow_failed=1)
    response = owner_client.post(f"/reports/{report.pk}/retry/", follow=True)
    assert "queued again" in response.content.decode()
    report.refresh_from_db()
    assert report.status == "running" and report.generation == 2
    assert ReportTask.objects.get(report=report, section="percentiles").state == "queued"


def test_cancel_page_action_ends_the_report_and_a_second_cancel_says_why_not(owner_client, user):
    report = report_make(owner=user, players=1, finished=False)
    page = owner_client.get(f"/reports/{report.pk}/").content.decode()
    assert re.search(r'<form[^>]*id="cancel-form"(?![^>]*hidden)', page), "a running report offers cancel"
    response = owner_client.post(f"/reports/{report.pk}/cancel/", follow=True)
    assert "The report is cancelled" in response.content.decode()
    report.refresh_from_db()
    assert report.status == ReportStatus.CANCELLED and report.completed_at is not None
    assert set(ReportTask.objects.filter(report=report).values_list("state", flat=True)) == {
        TaskState.CANCELLED
    }
    # An ended report: the form is hidden, and a second cancel changes nothing and says why.
    assert re.search(r'<form[^>]*id="cancel-form"[^>]*hidden', response.content.decode())
    again = owner_client.post(f"/reports/{report.pk}/cancel/", follow=True)
    assert "already ended" in again.content.decode()
    assert Report.objects.get(pk=report.pk).revision == report.revision


def test_report_page_first_view_is_cheap_for_25_players(owner_client, user, django_assert_max_num_queries):
    """The shell and the status only: a handful of queries whatever the size, and well under 300 ms."""
    report = report_make(owner=user, players=25, finished=False)
    owner_client.get(f"/reports/{report.pk}/")  # warm: templates compiled, ETA durations cached
    # The session, the user, the report, its players' names, its share links, its exports, and
    # the open reports for its queue position and ETA (reports.fairshare, one query for both).
    with django_assert_max_num_queries(7):
        started = time.perf_counter()
        response = owner_client.get(f"/reports/{report.pk}/")
        elapsed_ms = 1000 * (time.perf_counter() - started)
    assert response.status_code == 200
    # The page carries its players for the grid, but no figures: those come from the data API.
    assert response.content.decode().count('"short_name"') == 25
    assert elapsed_ms < 300, elapsed_ms


def _percentiles_partial(report, player_id):
    """Give the report's percentiles partial of a player the section's real shape."""
    from reports.sections.percentiles import PER90_FIGURES

    task = report.tasks.get(player_id=player_id, section="percentiles")
    figures = {
        name: {"total": 3.0, "per90": 0.5 + index / 10, "percentile": 10.0 + 5 * index}
        for index, name in enumerate(PER90_FIGURES)
    }
    competition = {
        "competition_id": 28,
        "competition": "World Cup",
        "kind": "tournament",
        "season_id": 10078,
        "season": "2018",
        "team": {"id": 4418, "name": "France"},
        "role": "FW",
        "appearances": 6,
        "minutes": 500,
        "min_minutes": 270,
        "meets_min_minutes": True,
        "pool_size": 34,
        "figures": figures,
    }
    default_storage.delete(task.partial_key)
    default_storage.save(
        task.partial_key,
        ContentFile(orjson.dumps({"section": "percentiles", "version": 1, "competitions": [competition]})),
    )
    return task.partial_key


def test_pizza_is_drawn_once_kept_beside_its_partial_and_listed_with_it(owner_client, user):
    from web.services import pizza_key

    report = report_make(owner=user, players=1)
    player_id = report.player_ids[0]
    key = _percentiles_partial(report, player_id)
    response = owner_client.get(f"/reports/{report.pk}/players/{player_id}/pizza.png")
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert response.content.startswith(b"\x89PNG")
    stored = pizza_key(key)
    assert stored.startswith("reports/partials/percentiles/") and stored.endswith("/pizza-v1.png")
    assert default_storage.open(stored, "rb").read() == response.content
    assert stored in Partial.objects.get(key=key).files  # deleted with the partial
    # Served from storage the next time, and through the file view too, since it is the report's.
    assert owner_client.get(f"/reports/{report.pk}/players/{player_id}/pizza.png").content == response.content
    assert owner_client.get(f"/reports/{report.pk}/files/{stored}").status_code == 200
    # A player outside the report, or one without percentiles yet: 404.
    assert owner_client.get(f"/reports/{report.pk}/players/1/pizza.png").status_code == 404
    unfinished = report_make(owner=user, players=1, finished=False)
    assert (
        owner_client.get(f"/reports/{unfinished.pk}/players/{unfinished.player_ids[0]}/pizza.png").status_code
        == 404
    )


def test_a_pizza_whose_percentiles_file_is_gone_is_a_404_not_a_500(owner_client, user):
    report = report_make(owner=user, players=1)
    player_id = report.player_ids[0]
    key = _percentiles_partial(report, player_id)
    default_storage.delete(key)  # the bucket lost it
    response = owner_client.get(f"/reports/{report.pk}/players/{player_id}/pizza.png")
    assert response.status_code == 404


def test_compare_shows_the_same_figures_in_columns_and_the_pools(owner_client, user):
    report = report_make(owner=user, players=2)
    for player_id in report.player_ids:
        _percentiles_partial(report, player_id)
    response = owner_client.get(
        f"/reports/{report.pk}/compare/", {"players": ",".join(map(str, report.player_ids))}
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert body.count("34 FW players with at least 270 minutes in World Cup 2018") == 2
    assert "Non-penalty goals" in body and "15 (0.60 p90)" in body  # percentile and per 90, side by side
    assert body.count('class="picture"') == 2


def test_the_one_time_share_url_is_kept_in_the_session_not_a_cookie(owner_client, user):
    report = report_make(owner=user, players=1)
    response = owner_client.post(f"/reports/{report.pk}/share/", {"days": "3"})
    assert response.status_code == 302
    assert "/share/" not in str(response.cookies) and "messages" not in response.cookies
    assert "http://testserver/share/" in owner_client.get(response["Location"]).content.decode()
