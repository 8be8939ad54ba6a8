"""Deleting stored files in bulk: local files on the embedded stack, S3 (moto) on the production-like one."""

import os
import uuid

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
def test_partials_delete_orphans_keeps_what_a_report_uses(
    monkeypatch, django_user_model, django_capture_on_commit_callbacks
):
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

    # The files go through outbox rows, run when each batch's transaction commits.
    with django_capture_on_commit_callbacks(execute=True):
        removed = services.partials_delete_orphans(partial_ids=[partial.pk for partial in partials])

    assert removed == 4
    assert list(Partial.objects.values_list("pk", flat=True)) == [used.pk]
    for partial in partials:
        assert default_storage.exists(partial.key) is (partial is used)
        assert default_storage.exists(partial.files[0]) is (partial is used)
    report.delete()
    with django_capture_on_commit_callbacks(execute=True):
        assert services.partials_delete_orphans(partial_ids=[used.pk]) == 1
    assert not default_storage.exists(used.key)


def test_s3_storage_writes_small_files_in_one_put_and_large_ones_in_parts(s3_server):
    """What S3 holds after a save, either way: the bytes, the content type, a private ACL; saves replace."""
    from boto3.s3.transfer import TransferConfig

    from .conftest import s3_bucket_create

    bucket = f"reports-storage-{uuid.uuid4().hex[:8]}"
    client = s3_bucket_create(s3_server["endpoint"], bucket)
    s3 = storage.ReportS3Storage(
        bucket_name=bucket,
        endpoint_url=s3_server["endpoint"],
        access_key="testing",
        secret_key="testing",
        region_name="us-east-1",
        # S3's smallest part is 5 MiB: a 6 MiB file goes through s3transfer's multipart upload.
        transfer_config=TransferConfig(
            multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024
        ),
    )
    large = os.urandom(6 * 1024 * 1024)
    cases = [
        ("reports/partials/x/v1/1/small.json", b'{"goals": 3}', "application/json"),
        ("reports/partials/x/v1/1/small/picture.png", b"\x89PNG small", "image/png"),
        ("reports/merged/large.json", large, "application/json"),
    ]
    for key, body, content_type in cases:
        assert s3.save(key, ContentFile(body, name=key.rsplit("/", 1)[1])) == key
        stored = client.get_object(Bucket=bucket, Key=key)
        assert stored["Body"].read() == body
        assert stored["ContentType"] == content_type
        grants = client.get_object_acl(Bucket=bucket, Key=key)["Grants"]
        assert [grant["Permission"] for grant in grants] == ["FULL_CONTROL"], grants
        assert "URI" not in grants[0]["Grantee"]
    assert client.head_object(Bucket=bucket, Key=cases[2][0])["ETag"].endswith('-2"'), (
        "not a multipart upload"
    )

    s3.save(cases[0][0], ContentFile(b'{"goals": 4}', name="small.json"))
    assert client.get_object(Bucket=bucket, Key=cases[0][0])["Body"].read() == b'{"goals": 4}'


def test_the_reader_threads_are_kept_and_made_again_in_a_forked_child():
    """Kept: a thread's S3 connection outlives one merge. A child's pool is its own (threads do not survive a fork)."""
    import os

    from reports.storage import storage_readers

    readers = storage_readers()
    assert storage_readers() is readers
    assert list(readers.map(abs, [-1, -2])) == [1, 2]
    pid = os.fork()
    if pid == 0:  # the child: exit code 0 only if its own pool answers
        ok = False
        try:
            ok = storage_readers() is not readers and list(storage_readers().map(abs, [-3])) == [3]
        finally:
            os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
