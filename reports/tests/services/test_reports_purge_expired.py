"""reports.services.reports_purge_expired: reports past the retention go with their files; what is still used stays.

Runs the runner in this process (no workers). The files go through outbox
rows run once the deletion commits: here the test runs them as that commit
would (django_capture_on_commit_callbacks). The purge of export files and of
share links is in exports/tests and web/tests.
"""

import uuid
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from reports import outbox, runner, services
from reports.keys import PARTIALS_PREFIX
from reports.models import Outbox, OutboxKind, Partial, Report, ReportTask

from ..builders import small_league

pytestmark = [pytest.mark.mysql, pytest.mark.django_db]


@pytest.fixture
def purge(django_capture_on_commit_callbacks):
    """The purge, with the outbox rows it writes run as its commits would run them."""

    def run(**kwargs) -> int:
        with django_capture_on_commit_callbacks(execute=True):
            return services.reports_purge_expired(**kwargs)

    return run


def _ended(owner, player_ids: list[int]) -> Report:
    """A complete report of profiles: nothing outstanding, so its deletion revokes nothing on the broker."""
    report, _ = services.report_create(owner=owner, player_ids=player_ids, sections=["profile"])
    for task in ReportTask.objects.filter(report=report):
        runner.report_task_run(report_task_id=task.pk)
    report.refresh_from_db()
    return report


def _created(report: Report, when) -> None:
    Report.objects.filter(pk=report.pk).update(created_at=when)


def _expired(settings):
    return timezone.now() - timedelta(days=settings.REPORT_RETENTION_DAYS, hours=1)


def test_a_report_past_retention_goes_with_its_files_and_its_unshared_partials(owner, settings, purge):
    report = _ended(owner, small_league().player_ids[:1])
    merged = Outbox.objects.get(report_id=report.pk, kind=OutboxKind.WRITE_MERGED)
    assert outbox.outbox_run(row_id=merged.pk)  # as a worker runs it: the merged file is written
    report.refresh_from_db()
    files = [ReportTask.objects.get(report=report).partial_key, report.merged_key]
    assert all(default_storage.exists(key) for key in files)
    _created(report, _expired(settings))
    Outbox.objects.all().delete()

    assert purge() == 1

    assert not Report.objects.filter(pk=report.pk).exists()
    assert not ReportTask.objects.filter(report_id=report.pk).exists()
    assert not Partial.objects.filter(key=files[0]).exists()
    assert not any(default_storage.exists(key) for key in files)
    # Every deletion row ran and is gone: nothing left for the reconciler.
    assert not Outbox.objects.exists()


def test_a_partial_another_report_uses_stays(owner, settings, purge):
    player = small_league().player_ids[0]
    old = _ended(owner, [player])
    recent = _ended(owner, [player])  # the same inputs: it reuses the old one's partial
    key = ReportTask.objects.get(report=old).partial_key
    assert ReportTask.objects.get(report=recent).reused
    _created(old, _expired(settings))

    assert purge() == 1

    assert not Report.objects.filter(pk=old.pk).exists()
    assert Partial.objects.filter(key=key).exists() and default_storage.exists(key)
    assert ReportTask.objects.get(report=recent).partial.key == key


def test_only_reports_past_the_retention_go_batch_after_batch(owner, settings, purge):
    settings.REPORT_RETENTION_DAYS = 7
    settings.REPORT_PURGE_BATCH = 2
    players = small_league().player_ids
    now = timezone.now()
    retention = timedelta(days=7)
    expired = [_ended(owner, [player]) for player in players[:3]]
    for report in expired:
        _created(report, now - retention - timedelta(hours=1))
    recent = _ended(owner, players[3:4])
    _created(recent, now - retention + timedelta(hours=1))

    assert purge(now=now) == 3

    assert not Report.objects.filter(pk__in=[report.pk for report in expired]).exists()
    assert Report.objects.filter(pk=recent.pk).exists()
    assert Partial.objects.filter(tasks__report=recent).exists()


@pytest.fixture
def stored_partial():
    """A partial's file and row with no report, as a section whose report was deleted while it ran leaves them."""
    keys: list[str] = []

    def store(*, age: timedelta) -> Partial:
        key = f"{PARTIALS_PREFIX}profile/v1/1/{uuid.uuid4().hex}.json"
        default_storage.save(key, ContentFile(b"{}", name="partial.json"))
        keys.append(key)
        partial = Partial.objects.create(key=key, section="profile", player_id=1)
        Partial.objects.filter(pk=partial.pk).update(created_at=timezone.now() - age)
        return partial

    yield store
    for key in keys:
        default_storage.delete(key)


def test_a_partial_no_report_uses_goes_once_it_is_an_hour_old(stored_partial, purge):
    old = stored_partial(age=timedelta(hours=2))
    # Within the hour's margin: left for a later purge.
    young = stored_partial(age=timedelta(minutes=5))

    assert purge() == 0

    assert not Partial.objects.filter(pk=old.pk).exists() and not default_storage.exists(old.key)
    assert Partial.objects.filter(pk=young.pk).exists() and default_storage.exists(young.key)
