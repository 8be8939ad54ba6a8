"""Exports end to end: real workers on both queues, the World Cup demo data, files read back as a reader would.

Runs on the embedded stack and again on the production-like one (RabbitMQ,
Redis, MariaDB, moto S3) through the `mysql` marker. The PDF is printed by
Debian's Chromium in the slow worker and read back with poppler's pdftotext
and pdfinfo; the CSV and XLSX are compared with the report's own
season_stats as the API serves it.
"""

import csv
import io
import os
import re
import shutil
import subprocess
from pathlib import Path

import openpyxl
import pytest
import requests
from django.core.files.storage import default_storage
from django.test import Client
from storages.backends.s3 import S3Storage

from conftest import need, wait_for
from exports import render
from exports.models import Export, ExportState
from football.analytics.aggregates import refresh_aggregates
from football.analytics.vaep import fit_vaep
from football.analytics.xg import fit_xg
from football.analytics.xt import fit_xt
from football.models import PlayerSeasonAggregate
from football.tests.factories import PlayerFactory
from reports.models import Report, ReportStatus
from reports.services import report_create

pytestmark = [pytest.mark.mysql]

GRIEZMANN, MBAPPE = 3682, 353833
# User text that must stay inert: markup in the PDF and pages, a formula in the spreadsheets.
HOSTILE_NAME = "=1+2 <script>alert(1)</script> France"
CHROMIUM = Path("/usr/bin/chromium")


def needs_poppler_and_chromium() -> None:
    need(CHROMIUM.exists(), f"Debian's chromium is not installed at {CHROMIUM}")
    need(
        bool(shutil.which("pdftotext") and shutil.which("pdfinfo")),
        "poppler-utils (pdftotext, pdfinfo) is missing",
    )


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def ask(client, report_id, export_format) -> dict:
    response = client.post(
        f"/reports/{report_id}/exports/", {"format": export_format}, HTTP_ACCEPT="application/json"
    )
    assert response.status_code in (200, 202), response.content
    return response.json()


def listed(client, report_id) -> list[dict]:
    response = client.get(f"/reports/{report_id}/exports/")
    assert response.status_code == 200, response.content
    return response.json()["exports"]


def ended_exports(client, report_id, count) -> list[dict] | None:
    exports = listed(client, report_id)
    if len(exports) >= count and all(e["state"] in ("done", "failed") for e in exports):
        return exports
    return None


def download(client, report_id, export_format) -> tuple[bytes, str, str]:
    """The file's bytes, content type and Content-Disposition, followed to S3 when the view redirects there."""
    response = client.get(f"/reports/{report_id}/export.{export_format}")
    on_s3 = isinstance(getattr(default_storage, "_wrapped", default_storage), S3Storage)
    assert response.status_code == (302 if on_s3 else 200), response.content[:300]
    if on_s3:
        # On S3 the view hands out a short-lived signed URL with the download headers in it.
        signed = requests.get(response["Location"], timeout=10)
        assert signed.status_code == 200, signed.text[:200]
        return signed.content, signed.headers["Content-Type"], signed.headers["Content-Disposition"]
    return b"".join(response.streaming_content), response["Content-Type"], response["Content-Disposition"]


def pdf_text(content: bytes, tmp_path: Path) -> tuple[int, str]:
    path = tmp_path / "export.pdf"
    path.write_bytes(content)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    pages = int(re.search(r"^Pages:\s+(\d+)", info, re.MULTILINE).group(1))
    text = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    )
    return pages, text.stdout


def season_rows_of(document: dict) -> list[tuple[int, dict]]:
    return [
        (int(player_id), row)
        for player_id in map(str, document["report"]["players"])
        for row in document["players"][player_id]["season_stats"]["competitions"]
    ]


def assert_table_matches(header: list[str], rows: list[list], document: dict, *, same) -> None:
    """Each row holds the report's season_stats figures and per-90s, in the report's order."""
    expected = season_rows_of(document)
    assert len(rows) == len(expected) > 0
    for values, (player_id, stats) in zip(rows, expected, strict=True):
        cells = dict(zip(header, values, strict=True))
        assert same(cells["player_id"], player_id)
        assert cells["player"] == document["players"][str(player_id)]["profile"]["name"]
        figures = ["competition", "season", "team", "appearances", "starts", "minutes", "goals", "assists"]
        figures += ["shots", "shots_on_target", "xg", "npxg", "passes", "passes_accurate", "key_passes"]
        for name in figures:
            assert same(cells[name], stats[name]), name
        assert stats["per90"] and stats["minutes"] > 0
        for name, value in stats["per90"].items():
            assert same(cells[f"per90_{name}"], value), name


def same_in_csv(cell: str, value) -> bool:
    return cell == ("" if value is None else str(value))


def same_in_xlsx(cell, value) -> bool:
    # openpyxl reads a whole float (0.0) back as an int: equal numbers are the same figure.
    return cell == value


@pytest.fixture
def slow_worker_env(worker_pool, transactional_db):
    """Both queues served, the slow worker with extra environment; restart(**env) starts it again with other.

    The slow worker is started once with the test's environment (not first with
    the usual one): under load a worker takes seconds to start.
    """
    usual = dict(worker_pool.env)

    def restart(**extra: str) -> None:
        worker_pool.stop("slow")
        worker_pool.env = {**usual, **extra}
        worker_pool.start("slow")

    worker_pool.start("fast")
    yield restart
    worker_pool.stop("slow")
    worker_pool.env = usual


# --- The whole flow on real data -------------------------------------------------------


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_pdf_csv_xlsx_of_a_world_cup_report_failure_retry_new_generation_and_delete(
    world_cup, slow_worker_env, user, other_user, tmp_path
):
    needs_poppler_and_chromium()
    # xG, xT and possession value fitted, the aggregates not: percentiles and similar players fail
    # in the first generation, for real, and the retry after the refresh fixes them.
    # The slow worker's Chromium is missing: the first PDF fails with the reason.
    slow_worker_env(EXPORT_CHROMIUM_PATH="/nonexistent/chromium")
    PlayerSeasonAggregate.objects.all().delete()
    fit_xg()
    fit_xt()
    fit_vaep()

    report, _ = report_create(owner=user, player_ids=[GRIEZMANN, MBAPPE], name=HOSTILE_NAME)
    report = wait_for(
        lambda: Report.objects.filter(pk=report.pk, completed_at__isnull=False).first(),
        timeout=120,
        message="the report to end",
    )
    assert report.status == ReportStatus.FAILED  # percentiles and similar_players: no aggregates yet
    client = signed_in(user)

    # A failed export records Chromium's reason, and the report is untouched.
    first = ask(client, report.pk, "pdf")
    assert first["state"] == "queued" and first["attempt"] == 1
    failed = wait_for(lambda: ended_exports(client, report.pk, 1), timeout=60, message="the PDF to fail")[0]
    assert failed["state"] == "failed" and failed["download_url"] is None
    assert "/nonexistent/chromium" in failed["error"]
    page = client.get(f"/reports/{report.pk}/export.pdf")
    assert page.status_code == 409 and b"/nonexistent/chromium" in page.content
    assert Export.objects.get(pk=failed["id"]).storage_key == ""
    unchanged = Report.objects.get(pk=report.pk)
    assert (unchanged.status, unchanged.generation, unchanged.revision) == (
        report.status,
        report.generation,
        report.revision,
    )

    # Asked again with a working Chromium: a new attempt; the failure stays listed with its error.
    slow_worker_env()
    again = ask(client, report.pk, "pdf")
    assert again["attempt"] == 2 and again["id"] != failed["id"]
    ask(client, report.pk, "csv")
    # The panel's form without its script: back to the report page, never to another site.
    posted = client.post(
        f"/reports/{report.pk}/exports/", {"format": "xlsx", "next": "https://elsewhere.example/"}
    )
    assert posted.status_code == 303 and posted["Location"] == f"/reports/{report.pk}/"
    exports = wait_for(lambda: ended_exports(client, report.pk, 4), timeout=90, message="the exports to end")
    by_state = {(e["format"], e["state"]) for e in exports}
    assert by_state == {("pdf", "failed"), ("pdf", "done"), ("csv", "done"), ("xlsx", "done")}
    # One export per (report, generation, format): asking again returns the done one.
    assert ask(client, report.pk, "csv")["id"] == next(e["id"] for e in exports if e["format"] == "csv")
    assert Export.objects.filter(report=report).count() == 4

    document = signed_in(user).get(f"/api/reports/{report.pk}/data/").json()

    content, content_type, disposition = download(client, report.pk, "pdf")
    assert content_type == "application/pdf" and content.startswith(b"%PDF")
    assert re.fullmatch(r'attachment; filename="[a-z0-9_-]+-[0-9a-f]{8}-g1\.pdf"', disposition), disposition
    pages, text = pdf_text(content, tmp_path)
    assert pages >= 2
    for name in ("Antoine Griezmann", "Kylian Mbappé Lottin"):
        assert name in text
    assert HOSTILE_NAME in " ".join(text.split())  # shown as text, not run
    assert "Pappalardo" in text and "CC BY 4.0" in text
    assert "percentiles failed: per-player aggregates not computed yet" in " ".join(text.split())
    assert "Season figures" in text and "Per 90 minutes" in text and "Match log" in text
    assert "Expected threat" in text  # the xT grid was fitted: that slow section is done
    griezmann_goals = document["players"][str(GRIEZMANN)]["season_stats"]["competitions"][0]["goals"]
    assert griezmann_goals == 4

    content, content_type, disposition = download(client, report.pk, "csv")
    assert content_type.startswith("text/csv")
    assert disposition.endswith('-g1.csv"')
    header, *rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert header[:4] == ["player_id", "player", "competition_id", "competition"]
    assert_table_matches(header, rows, document, same=same_in_csv)

    content, content_type, disposition = download(client, report.pk, "xlsx")
    assert content_type == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    book = openpyxl.load_workbook(io.BytesIO(content))
    header, *rows = [list(row) for row in book["Season tables"].iter_rows(values_only=True)]
    assert_table_matches(header, rows, document, same=same_in_xlsx)
    about = {label.value: cell for label, cell in book["About"].iter_rows(min_col=1, max_col=2)}
    assert about["report"].value == HOSTILE_NAME and about["report"].data_type == "s"  # text, not a formula
    assert "Pappalardo" in about["credit"].value

    # Another user sees none of it.
    stranger = signed_in(other_user)
    assert stranger.get(f"/reports/{report.pk}/exports/").status_code == 404
    assert stranger.get(f"/reports/{report.pk}/export.pdf").status_code == 404
    assert stranger.post(f"/reports/{report.pk}/exports/", {"format": "pdf"}).status_code == 404

    # The retry after the aggregates exist: a new generation, whose exports are new files.
    refresh_aggregates()
    assert signed_in(user).post(f"/api/reports/{report.pk}/retry/").status_code == 202
    wait_for(
        lambda: Report.objects.filter(pk=report.pk, generation=2, status=ReportStatus.COMPLETE).exists(),
        timeout=120,
        message="the retried report to complete",
    )
    assert listed(client, report.pk) == []  # the first generation's exports are not this one's
    pending = client.get(f"/reports/{report.pk}/export.pdf")  # a link asks for the file by itself
    assert pending.status_code == 202 and b'http-equiv="refresh"' in pending.content
    assert b"&lt;script&gt;" in pending.content and b"<script>alert" not in pending.content
    second = wait_for(lambda: ended_exports(client, report.pk, 1), timeout=60, message="the new PDF")[0]
    assert (
        second["state"] == "done"
        and second["generation"] == 2
        and second["id"] not in {e["id"] for e in exports}
    )
    content, _, disposition = download(client, report.pk, "pdf")
    assert disposition.endswith('-g2.pdf"')
    _, text = pdf_text(content, tmp_path)
    assert "Similar players" in text and "percentiles failed" not in text
    retried = signed_in(user).get(f"/api/reports/{report.pk}/data/").json()
    closest = retried["players"][str(MBAPPE)]["similar_players"]["players"][0]
    assert f"{closest['similarity']:.3f}" in text and str(closest["minutes"]) in text
    ranked = retried["players"][str(MBAPPE)]["percentiles"]["competitions"][0]
    assert f"Percentiles: {ranked['competition']} {ranked['season']}" in text
    assert f"{ranked['figures']['goals']['percentile']:.1f}" in text

    # Deleting the report deletes every export file of every generation.
    keys = list(
        Export.objects.filter(report=report).exclude(storage_key="").values_list("storage_key", flat=True)
    )
    assert len(keys) == 4 and all(key.startswith(f"reports/exports/{report.pk.hex}/") for key in keys)
    assert all(default_storage.exists(key) for key in keys)
    assert signed_in(user).delete(f"/api/reports/{report.pk}/").status_code == 204
    assert not Export.objects.filter(report_id=report.pk).exists()
    assert not any(default_storage.exists(key) for key in keys)


# --- Requests that are refused ------------------------------------------------------


@pytest.fixture
def pending_report(db, user):
    """A report whose sections have not run: its messages are never published (the test's transaction never commits)."""
    players = [PlayerFactory().pk]
    report, _ = report_create(owner=user, player_ids=players, name="Pending")
    return report


def test_bad_format_is_400_naming_it_and_creates_nothing(pending_report, user):
    response = signed_in(user).post(
        f"/reports/{pending_report.pk}/exports/", {"format": "docx"}, HTTP_ACCEPT="application/json"
    )
    assert response.status_code == 400
    assert "'docx'" in response.json()["format"][0]
    assert not Export.objects.exists()
    page = signed_in(user).post(f"/reports/{pending_report.pk}/exports/", {"format": ""})
    assert page.status_code == 400 and b"Unknown export format" in page.content


def test_report_still_building_is_409_with_a_readable_message(pending_report, user):
    response = signed_in(user).post(
        f"/reports/{pending_report.pk}/exports/", {"format": "pdf"}, HTTP_ACCEPT="application/json"
    )
    assert response.status_code == 409
    assert "still being built" in response.json()["detail"]
    page = signed_in(user).get(f"/reports/{pending_report.pk}/export.csv")
    assert page.status_code == 202 and b"still being built" in page.content  # the link waits for it
    assert not Export.objects.exists()


def test_another_users_report_is_404_and_signed_out_is_refused(pending_report, other_user):
    stranger = signed_in(other_user)
    assert stranger.get(f"/reports/{pending_report.pk}/exports/").status_code == 404
    assert stranger.post(f"/reports/{pending_report.pk}/exports/", {"format": "pdf"}).status_code == 404
    assert stranger.get(f"/reports/{pending_report.pk}/export.xlsx").status_code == 404
    anonymous = Client()
    assert anonymous.get(f"/reports/{pending_report.pk}/exports/").status_code == 401
    signed_out = anonymous.get(f"/reports/{pending_report.pk}/export.pdf")
    assert signed_out.status_code == 302 and "next=" in signed_out["Location"]


def test_post_without_csrf_token_is_refused(pending_report, user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    Report.objects.filter(pk=pending_report.pk).update(ready_at=pending_report.created_at)
    assert client.post(f"/reports/{pending_report.pk}/exports/", {"format": "csv"}).status_code == 403
    assert not Export.objects.exists()


def test_panel_has_three_csrf_forms_and_escapes_the_errors(pending_report, user, rf):
    from django.template.loader import render_to_string

    Export.objects.create(
        report=pending_report, generation=1, format="pdf", state=ExportState.FAILED, error="<b>boom</b>"
    )
    request = rf.get(f"/reports/{pending_report.pk}/")
    request.user = user
    html = render_to_string("exports/panel.html", {"report": pending_report}, request=request)
    assert html.count('name="csrfmiddlewaretoken"') == 3
    assert {value for value in re.findall(r'name="format" value="(\w+)"', html)} == {"pdf", "csv", "xlsx"}
    assert "&lt;b&gt;boom&lt;/b&gt;" in html and "<b>boom" not in html
    assert f'data-exports-url="/reports/{pending_report.pk}/exports/"' in html
    assert "http://" not in html and "https://" not in html  # no external resources


def test_purge_deletes_export_files_with_the_report(pending_report, django_capture_on_commit_callbacks):
    from datetime import timedelta

    from django.core.files.base import ContentFile
    from django.utils import timezone

    from exports.services import export_key
    from reports.services import reports_purge_expired

    export = Export.objects.create(report=pending_report, generation=1, format="csv", state=ExportState.DONE)
    key = export_key(export=export)
    assert key.startswith(f"reports/exports/{pending_report.pk.hex}/g1/")
    default_storage.save(key, ContentFile(b"player_id\r\n", name="export.csv"))
    Export.objects.filter(pk=export.pk).update(storage_key=key)
    Report.objects.filter(pk=pending_report.pk).update(created_at=timezone.now() - timedelta(days=400))

    # The files go by the outbox row written with the deletion, run once it commits.
    with django_capture_on_commit_callbacks(execute=True):
        assert reports_purge_expired() == 1
    assert not Export.objects.exists()
    assert not default_storage.exists(key)


def test_the_task_is_safe_to_run_twice_and_an_old_generation_fails_without_a_file(pending_report):
    from exports.services import RETRIED, export_make

    done = Export.objects.create(
        report=pending_report, generation=1, format="pdf", state=ExportState.DONE, claims=1, storage_key="k"
    )
    export_make(export_id=done.pk)  # a second delivery of a finished export: nothing to do
    done.refresh_from_db()
    assert (done.state, done.claims, done.storage_key) == (ExportState.DONE, 1, "k")

    # Asked for generation 1; the report was retried before a worker took it.
    queued = Export.objects.create(report=pending_report, generation=1, format="csv")
    Report.objects.filter(pk=pending_report.pk).update(generation=2, ready_at=pending_report.created_at)
    export_make(export_id=queued.pk)
    queued.refresh_from_db()
    assert (queued.state, queued.error, queued.storage_key) == (ExportState.FAILED, RETRIED, "")
    export_make(export_id=queued.pk)
    queued.refresh_from_db()
    assert queued.claims == 1  # a failed export is not claimed again


# --- The files' own rules, on documents built here ------------------------------------------


def document_with(*, name: str, team: str) -> dict:
    row = {
        "competition_id": 28,
        "competition": "World Cup",
        "season_id": 10078,
        "season": "2018",
        "team_id": 4418,
        "team": team,
        "first_match": "2018-06-16",
        "last_match": "2018-07-15",
        "appearances": 7,
        "minutes": -1,
        "goals": 4,
        "xg": 2.5,
        "per90": {"goals": 0.5, "xg": None},
    }
    return {
        "report": {"id": "r", "name": name, "players": [1], "generation": 1, "data_version": "v"},
        "credit": "credit",
        "players": {"1": {"profile": {"name": "@SUM(A1)"}, "season_stats": {"competitions": [row]}}},
        "pending": [],
        "failed": [],
        "complete": True,
    }


def test_csv_cells_of_text_starting_with_a_formula_character_are_prefixed():
    document = document_with(name="r", team='=HYPERLINK("http://x")')
    header, *rows = list(csv.reader(io.StringIO(render.season_csv(document).decode("utf-8-sig"))))
    cells = dict(zip(header, rows[0], strict=True))
    assert cells["team"] == '\'=HYPERLINK("http://x")'
    assert cells["player"] == "'@SUM(A1)"
    assert cells["minutes"] == "-1"  # a number is a number, not user text
    assert (cells["per90_goals"], cells["per90_xg"]) == ("0.5", "")
    for text in ("+1", "-cmd", "\tx"):
        assert render.spreadsheet_text(text) == "'" + text
    assert render.spreadsheet_text("Kylian Mbappé") == "Kylian Mbappé"


def test_xlsx_keeps_formula_like_text_as_text():
    book = openpyxl.load_workbook(io.BytesIO(render.season_xlsx(document_with(name="=1+1", team="=2+2"))))
    header, row = list(book["Season tables"].iter_rows())
    cells = dict(zip([cell.value for cell in header], row, strict=True))
    assert cells["team"].value == "=2+2" and cells["team"].data_type == "s"
    assert cells["goals"].value == 4


def test_print_template_shows_user_text_as_text():
    html = render.report_print_html(document_with(name="<script>alert(1)</script>", team="<img src=x>"))
    assert "<script>alert" not in html and "<img src=x>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&lt;img src=x&gt;" in html
    assert "@page { size: A4" in html


def test_chromium_failures_carry_their_reason(settings, tmp_path):
    settings.EXPORT_CHROMIUM_PATH = str(tmp_path / "no-chromium")
    page = tmp_path / "page.html"
    page.write_text("<p>x</p>")
    with pytest.raises(render.RenderError, match=r"could not be started: .*no-chromium"):
        render.chromium_print(page=page, out=tmp_path / "out.pdf", profile=tmp_path / "profile")
    need(CHROMIUM.exists(), f"Debian's chromium is not installed at {CHROMIUM}")
    settings.EXPORT_CHROMIUM_PATH = str(CHROMIUM)
    # Chromium exits 0 when it cannot write the file; its last line on stderr is the reason.
    with pytest.raises(render.RenderError, match="Failed to write file"):
        render.chromium_print(page=page, out=tmp_path / "missing" / "out.pdf", profile=tmp_path / "profile")
    assert os.path.getsize(page) > 0


def test_staff_read_exports_in_the_admin(pending_report, admin_client):
    Export.objects.create(
        report=pending_report, generation=1, format="xlsx", state=ExportState.FAILED, error="boom"
    )
    page = admin_client.get("/admin/exports/export/")
    assert page.status_code == 200 and b"xlsx" in page.content
    export = Export.objects.get()
    assert admin_client.get(f"/admin/exports/export/{export.pk}/change/").status_code == 200
    assert admin_client.get("/admin/exports/export/add/").status_code == 403


def test_print_template_names_a_similar_players_team_and_loads_nothing_from_outside():
    document = document_with(name="r", team="France")
    document["players"]["1"]["similar_players"] = {
        "competition": {"competition": "World Cup", "season": "2018"},
        "pool_size": 10,
        "role": "FW",
        "players": [
            {
                "id": 2,
                "name": "Other",
                "team": {"id": 4418, "name": "France"},
                "minutes": 500,
                "similarity": 0.9,
            }
        ],
    }
    html = render.report_print_html(document)
    similar = html[html.index("Similar players") :]
    assert '<td class="text">France</td>' in similar and "&#x27;id&#x27;" not in similar
    assert (
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; img-src data:; '
        "style-src 'unsafe-inline'\">" in html
    )
    assert "--host-resolver-rules=MAP * ~NOTFOUND" in render.CHROMIUM_FLAGS
    assert "--disable-extensions" in render.CHROMIUM_FLAGS


def test_chromium_timeout_kills_its_whole_process_group(settings, tmp_path):
    """A renderer that outlives its browser (a child of the process started) is killed with it."""
    child_pid = tmp_path / "child.pid"
    fake = tmp_path / "chromium"
    fake.write_text(f"#!/bin/sh\nsleep 60 &\necho $! > {child_pid}\nwait\n")
    fake.chmod(0o755)
    settings.EXPORT_CHROMIUM_PATH = str(fake)
    settings.EXPORT_CHROMIUM_TIMEOUT_S = 1
    page = tmp_path / "page.html"
    page.write_text("<p>x</p>")
    with pytest.raises(render.RenderError, match="did not finish printing within 1 s"):
        render.chromium_print(page=page, out=tmp_path / "out.pdf", profile=tmp_path / "profile")
    pid = int(child_pid.read_text())

    def gone() -> bool:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        return state in ("Z", "X")  # killed, waiting for init to reap it

    try:
        wait_for(gone, timeout=5, message="the renderer's child to be killed with its browser")
    finally:
        if not gone():
            os.kill(pid, 9)


def test_a_done_export_whose_file_is_gone_is_a_409_failure_and_asking_again_makes_a_new_one(
    pending_report, user
):
    from exports.services import LOST_FILE, export_ensure, export_key

    Report.objects.filter(pk=pending_report.pk).update(ready_at=pending_report.created_at)
    export = Export.objects.create(
        report=pending_report, generation=1, format="csv", state=ExportState.DONE, claims=1, complete=False
    )
    # A key that names no stored object: the bucket lost it.
    Export.objects.filter(pk=export.pk).update(storage_key=export_key(export=export))

    response = signed_in(user).get(f"/reports/{pending_report.pk}/export.csv")
    assert response.status_code == 409
    assert LOST_FILE in response.content.decode()
    export.refresh_from_db()
    assert (export.state, export.error) == (ExportState.FAILED, LOST_FILE)
    # A reload shows the failure again rather than a loop or a 500.
    assert signed_in(user).get(f"/reports/{pending_report.pk}/export.csv").status_code == 409
    again, created = export_ensure(report=pending_report, export_format="csv")
    assert created and again.attempt == export.attempt + 1
