"""Deleting stored files in bulk: local files on the embedded stack, S3 (moto) on the production-like one."""

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from reports import services, storage
from reports.models import Partial, Report, ReportTask

pytestmark = pytest.mark.mysql


def _save(key: str) -> str:
    return default_storage.save(key, ContentFile(b'{"x": 1}', name="partial.json"))


def test_storage_delete_many_takes_every_key_in_batches(monkeypatch):
    monkeypatch.setattr(storage, "S3_DELETE_BATCH", 2)
    keys = [_save(f"reports/test-bulk/{index}.json") for index in range(5)]
    kept = _save("reports/test-bulk/kept.json")

    storage.storage_delete_many([*keys, "reports/test-bulk/never-written.json"])

    assert not any(default_storage.exists(key) for key in keys)
    assert default_storage.exists(kept)
    storage.storage_delete_many([kept])


def test_storage_delete_many_logs_a_failure_and_does_not_raise(monkeypatch, caplog):
    class Broken:
        def delete(self, name):
            raise OSError("the disk went away")

    storage.storage_delete_many(["reports/a.json"], storage=Broken())

    assert "could not delete 1 files" in caplog.text


@pytest.mark.django_db
def test_partials_delete_orphans_keeps_what_a_report_uses(monkeypatch, django_user_model):
    monkeypatch.setattr(services, "ORPHANS_PER_BATCH", 2)
    owner = django_user_model.objects.create(username="owner")
    report = Report.objects.create(owner=owner, name="r", player_ids=[1], sections=["profile"])
    partials = []
    for index in range(5):
        key = _save(f"reports/test-orphans/{index}.json")
        picture = _save(f"reports/test-orphans/{index}.png")
        partials.append(Partial.objects.create(key=key, section="profile", player_id=index, files=[picture]))
    used = partials[2]
    ReportTask.objects.create(
        report=report,
        player_id=used.player_id,
        section="profile",
        queue="fast",
        partial_key=used.key,
        partial=used,
    )

    removed = services.partials_delete_orphans(partial_ids=[partial.pk for partial in partials])

    assert removed == 4
    assert list(Partial.objects.values_list("pk", flat=True)) == [used.pk]
    for partial in partials:
        assert default_storage.exists(partial.key) is (partial is used)
        assert default_storage.exists(partial.files[0]) is (partial is used)
    report.delete()
    assert services.partials_delete_orphans(partial_ids=[used.pk]) == 1
    assert not default_storage.exists(used.key)
