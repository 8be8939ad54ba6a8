"""One section run in this process: what it writes, and the statements its bookkeeping costs.

Every fast section pays for its bookkeeping (the claim, the partial row, the
task's end, the report's counters) on top of its own queries; with six
workers of one report finishing at once, the report's row is the one they
queue for. These tests pin both the outcome and the number of statements, so
a change that adds a round trip to every section is seen here.
"""

import dataclasses

import pytest
from django.core.files.storage import default_storage
from django.db import connection
from django.test.utils import CaptureQueriesContext

from football.models import Dataset
from football.selectors import data_version
from reports import runner, services, status_cache
from reports.models import Partial, Report, ReportStatus, ReportTask, TaskState
from reports.sections import SECTIONS, SectionContext

from .builders import small_league

pytestmark = [pytest.mark.mysql, pytest.mark.django_db]


def statements(func) -> list[str]:
    """The SQL `func` sends on the default connection, transaction control included."""
    with CaptureQueriesContext(connection) as captured:
        func()
    return [query["sql"].split()[0].upper() for query in captured.captured_queries]


def compute_statements(section: str, player_id: int) -> list[str]:
    """What the section's own compute sends on the default connection (none if the football tables are apart)."""
    context = SectionContext(player_id=player_id, data_version="", upstream=None)
    context.save_file = lambda filename, content, content_type: filename
    return statements(lambda: SECTIONS[section].compute(context))


@pytest.fixture
def owner(django_user_model):
    return django_user_model.objects.create(username="runner")


def test_bookkeeping_of_a_section_is_a_fixed_handful_of_statements(owner):
    players = small_league().player_ids[:3]
    report, _ = services.report_create(owner=owner, player_ids=players, sections=["profile"])
    tasks = list(ReportTask.objects.filter(report=report).order_by("player_id"))
    # The section's own queries, and the data-version check after them (on
    # this connection only where the football tables share it).
    compute = len(compute_statements("profile", players[0])) + len(statements(data_version))

    first, middle, last = (
        statements(lambda task=task: runner.report_task_run(report_task_id=task.pk)) for task in tasks
    )

    # Claim (UPDATE, SELECT with any stored partial); the partial row (INSERT,
    # in a savepoint of its own: another report may have stored the key); the
    # task's end (UPDATE); the report's counters (UPDATE, SELECT); and the
    # transaction around the last four.
    assert len(middle) - compute == 6 + 2 + 2, middle
    assert middle[:2] == ["UPDATE", "SELECT"]
    assert middle[-7:-1] == ["SAVEPOINT", "INSERT", "RELEASE", "UPDATE", "UPDATE", "SELECT"], (
        "the report's row is not written last"
    )
    # The first also marks the report running (UPDATE) and, where the status
    # cache is on (Redis), reads the revision to note there.
    notes = 1 if status_cache.enabled() else 0
    assert len(first) - compute == len(middle) - compute + 1 + notes, first
    # The last moves the report to complete (one conditional UPDATE that sets
    # ready_at too), writes the outbox row of the merged file (INSERT) in the
    # same transaction, looks for its owner's waiting reports (SELECT,
    # reports.fairshare), and notes the new revision.
    assert len(last) - compute == len(middle) - compute + 3 + notes, last

    report.refresh_from_db()
    assert report.status == ReportStatus.COMPLETE and report.ready_at and report.completed_at
    assert (report.fast_total, report.fast_done, report.fast_failed, report.fast_reused) == (3, 3, 0, 0)
    assert report.revision == 1 + 3 + 2  # started, three sections ended, ready, complete
    for task in ReportTask.objects.filter(report=report):
        assert task.state == TaskState.DONE and not task.reused
        assert task.partial.key == task.partial_key and task.partial.writes == 1 and task.partial.size > 0


def test_a_partial_stored_by_another_report_meanwhile_is_reused_without_computing(owner):
    player = small_league().player_ids[0]
    first, _ = services.report_create(owner=owner, player_ids=[player], sections=["profile"])
    second, _ = services.report_create(owner=owner, player_ids=[player], sections=["profile"])
    # Both were created before either ran: neither could reuse at creation.
    assert Report.objects.get(pk=second.pk).fast_reused == 0
    runner.report_task_run(report_task_id=ReportTask.objects.get(report=first).pk)

    task = ReportTask.objects.get(report=second)
    sent = statements(lambda: runner.report_task_run(report_task_id=task.pk))

    # Claim (2), mark running (1), then in one transaction (2: its start and
    # end) the task's end (1), the counters (2), complete (1), the outbox
    # row for the merged file (1) and the look for the owner's waiting
    # reports (1, reports.fairshare), and the revisions to note: nothing
    # computed, nothing stored. Before the transaction (issue 16) it was 8:
    # the task's end committed apart from the counters.
    assert len(sent) == 11 + (2 if status_cache.enabled() else 0), sent
    ended = sent[sent.index("SAVEPOINT") + 1 : sent.index("RELEASE")]
    # (and, with the status cache, the revision to note, read in it too)
    assert (
        ended
        == ["UPDATE", "UPDATE", "SELECT", "UPDATE", "INSERT", "SELECT"] + ["SELECT"] * status_cache.enabled()
    ), sent
    task.refresh_from_db()
    assert task.state == TaskState.DONE and task.reused and task.partial.key == task.partial_key
    assert Partial.objects.get(key=task.partial_key).writes == 1
    second.refresh_from_db()
    assert second.status == ReportStatus.COMPLETE and second.fast_reused == 1


def test_a_partial_stored_by_another_report_while_computing_is_written_once_more(owner, monkeypatch):
    player = small_league().player_ids[0]
    report, _ = services.report_create(owner=owner, player_ids=[player], sections=["profile"])
    task = ReportTask.objects.get(report=report)
    section = SECTIONS["profile"]
    other = Partial.objects.none()

    def compute_while_another_report_stores(context):
        # Another report's task of the same inputs finishes while this one computes.
        nonlocal other
        other = Partial.objects.create(key=task.partial_key, section="profile", player_id=player, writes=1)
        return section.compute(context)

    monkeypatch.setitem(
        SECTIONS, "profile", dataclasses.replace(section, compute=compute_while_another_report_stores)
    )
    runner.report_task_run(report_task_id=task.pk)

    task.refresh_from_db()
    assert task.state == TaskState.DONE and not task.reused
    assert task.partial_id == other.pk
    assert Partial.objects.get(key=task.partial_key).writes == 2  # the same bytes, written twice
    report.refresh_from_db()
    assert report.status == ReportStatus.COMPLETE and report.fast_done == 1


def test_a_section_that_finds_other_data_loaded_after_computing_fails_and_stores_nothing(owner, monkeypatch):
    player = small_league().player_ids[0]
    report, _ = services.report_create(owner=owner, player_ids=[player], sections=["profile"])
    task = ReportTask.objects.get(report=report)
    section = SECTIONS["profile"]
    saved = []

    def compute_while_an_import_commits(context):
        content = section.compute(context)
        saved.append(context.save_file("figure.svg", b"<svg/>", "image/svg+xml"))
        Dataset.objects.update_or_create(pk=1, defaults={"version": "re-imported"})
        return content

    monkeypatch.setitem(
        SECTIONS, "profile", dataclasses.replace(section, compute=compute_while_an_import_commits)
    )
    runner.report_task_run(report_task_id=task.pk)

    task.refresh_from_db()
    assert task.state == TaskState.FAILED and task.error == runner.DATA_CHANGED
    assert "re-imported" in task.error and "create the report again" in task.error
    # Nothing is kept under the key of the data the report was created on.
    assert not Partial.objects.filter(key=task.partial_key).exists()
    assert not default_storage.exists(task.partial_key)
    assert saved and not default_storage.exists(saved[0])
    report.refresh_from_db()
    assert (report.fast_done, report.fast_failed) == (0, 1)
