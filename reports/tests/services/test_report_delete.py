"""reports.services.report_delete: the rows go at once, the files through an outbox row, a shared partial stays.

In this process, without workers; the API's DELETE and the outbox run by
the reconciler are in test_pipeline.py and test_reliability.py.
"""

import pytest

from reports import runner, services
from reports.models import Outbox, OutboxKind, Partial, Report, ReportTask

from ..builders import small_league

pytestmark = [pytest.mark.mysql, pytest.mark.django_db]


def _ran(owner, player_ids: list[int]) -> Report:
    report, _ = services.report_create(owner=owner, player_ids=player_ids, sections=["profile"])
    for task in ReportTask.objects.filter(report=report):
        runner.report_task_run(report_task_id=task.pk)
    return report


def _files_to_delete() -> list[str]:
    rows = Outbox.objects.filter(kind=OutboxKind.DELETE_FILES)
    return [key for row in rows for key in row.payload["keys"]]


def test_a_partial_another_report_uses_stays_and_goes_with_the_last_one(owner):
    player = small_league().player_ids[0]
    first = _ran(owner, [player])
    second = _ran(owner, [player])  # the same inputs: it reuses the first one's partial
    key = ReportTask.objects.get(report=first).partial_key
    assert ReportTask.objects.get(report=second).partial_key == key
    Outbox.objects.all().delete()

    services.report_delete(report=first)

    assert not Report.objects.filter(pk=first.pk).exists()
    assert not ReportTask.objects.filter(report_id=first.pk).exists()
    assert Partial.objects.filter(key=key).exists()
    assert key not in _files_to_delete()

    services.report_delete(report=second)

    assert not Partial.objects.filter(key=key).exists()
    assert key in _files_to_delete()  # the file goes after the commit, through the outbox


def test_a_report_deleted_while_its_sections_wait_leaves_no_record_to_run(owner):
    report, _ = services.report_create(
        owner=owner, player_ids=small_league().player_ids[:1], sections=["profile"]
    )
    task = ReportTask.objects.get(report=report)

    services.report_delete(report=report)

    # The message still in the queue ends quietly: its record is gone.
    assert runner.report_task_run(report_task_id=task.pk) is None
