"""Storage for partial and merged report files: the local file system or S3.

Keys are built by the code from ids and hashes only, never from user text,
and always under `reports/`.
"""

import logging
import os
import tempfile
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from botocore.exceptions import ClientError
from django.conf import settings
from django.core.files.storage import FileSystemStorage, Storage, default_storage
from storages.backends.s3 import S3Storage
from storages.utils import clean_name, is_seekable

logger = logging.getLogger(__name__)
# S3's DeleteObjects takes at most this many keys a request.
S3_DELETE_BATCH = 1000

_readers: tuple[int, ThreadPoolExecutor] | None = None
_readers_lock = threading.Lock()


def storage_readers() -> ThreadPoolExecutor:
    """This process's pool of REPORT_READ_CONCURRENCY reader threads, kept for its life.

    django-storages gives each thread its own boto3 connection, so a pool
    made per read built a session and client in every thread of every live
    merge; kept threads keep theirs. Made again in a forked child (threads do
    not survive a fork).
    """
    global _readers
    with _readers_lock:
        if _readers is None or _readers[0] != os.getpid():
            _readers = (
                os.getpid(),
                ThreadPoolExecutor(
                    max_workers=settings.REPORT_READ_CONCURRENCY, thread_name_prefix="storage-read"
                ),
            )
        return _readers[1]


class AtomicFileSystemStorage(FileSystemStorage):
    """Writes to a temporary file in the same folder and renames it, so no reader sees half a file.

    Saving to an existing name replaces it: a key names its content, so the
    same key is only ever written with the same bytes.
    """

    def __init__(self, **kwargs):
        kwargs.setdefault("allow_overwrite", True)
        super().__init__(**kwargs)

    def _save(self, name, content):
        full_path = self.path(name)
        directory = os.path.dirname(full_path)
        os.makedirs(directory, exist_ok=True)
        fd, tmp_path = tempfile.mkstemp(dir=directory, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as tmp:
                if hasattr(content, "chunks"):
                    for chunk in content.chunks():
                        tmp.write(chunk if isinstance(chunk, bytes) else chunk.encode())
                else:
                    tmp.write(content.read())
                tmp.flush()
                os.fsync(tmp.fileno())
            if self.file_permissions_mode is not None:
                os.chmod(tmp_path, self.file_permissions_mode)
            else:
                os.chmod(tmp_path, 0o644)
            os.replace(tmp_path, full_path)
        except BaseException:
            if os.path.exists(tmp_path):
                os.unlink(tmp_path)
            raise
        return str(name).replace("\\", "/")


class ReportS3Storage(S3Storage):
    """Private objects; every URL is signed and expires (AWS_QUERYSTRING_EXPIRE).

    A file below the multipart threshold is written with one PutObject.
    S3Storage hands every file to s3transfer, which builds a resource object
    and a transfer manager and runs the upload on a thread of its own: for a
    partial of a few kilobytes that was a tenth of a fast section's CPU in
    the workers' profile (docs/performance.md). Larger files, and files
    S3Storage would gzip, still go its way.
    """

    default_acl = "private"
    querystring_auth = True
    file_overwrite = True

    def _save(self, name, content):
        if content.size > self.transfer_config.multipart_threshold:
            return super()._save(name, content)
        cleaned_name = clean_name(name)
        key = self._normalize_name(cleaned_name)
        params = self._get_write_parameters(key, content)
        if self.gzip and params["ContentType"] in self.gzip_content_types and "ContentEncoding" not in params:
            return super()._save(name, content)
        if is_seekable(content):
            content.seek(0, os.SEEK_SET)
        body = content.read()
        if isinstance(body, str):
            body = body.encode()
        self.bucket.meta.client.put_object(Bucket=self.bucket_name, Key=key, Body=body, **params)
        return cleaned_name


def storage_delete_many(
    keys: Iterable[str], *, storage: Storage = default_storage, strict: bool = False
) -> None:
    """Delete files by key: on S3 a request per 1,000 keys, elsewhere one by one. A missing file is no error.

    Called after the rows that named the files are gone, so by default a
    failure is logged, not raised: the caller's change stands, and a
    leftover object costs storage, not correctness (storage_audit finds it).
    `strict` raises instead: an outbox row's run, which is retried.
    """
    keys = list(keys)
    if not keys:
        return
    try:
        if isinstance(storage, S3Storage):
            client = storage.bucket.meta.client
            for start in range(0, len(keys), S3_DELETE_BATCH):
                chunk = keys[start : start + S3_DELETE_BATCH]
                objects = [{"Key": storage._normalize_name(clean_name(key))} for key in chunk]
                answer = client.delete_objects(
                    Bucket=storage.bucket_name, Delete={"Objects": objects, "Quiet": True}
                )
                errors = answer.get("Errors", [])
                for error in errors:
                    logger.warning(
                        "could not delete %s from storage: %s", error.get("Key"), error.get("Message")
                    )
                if errors and strict:
                    raise OSError(f"could not delete {len(errors)} of {len(chunk)} files from storage")
        else:
            for key in keys:
                storage.delete(key)
    except Exception:
        if strict:
            raise
        logger.warning("could not delete %d files from storage", len(keys), exc_info=True)


def storage_existing(keys: Iterable[str], *, storage: Storage = default_storage) -> set[str]:
    """Which of these keys are stored: on S3 one HEAD each, REPORT_READ_CONCURRENCY at a time.

    What a report's creation pays to reuse only partials that still exist
    (docs/reliability.md has the figure for a 25-player report).
    """
    keys = list(dict.fromkeys(keys))
    if not keys:
        return set()
    if not isinstance(storage, S3Storage):
        return {key for key in keys if storage.exists(key)}
    client = storage.bucket.meta.client

    def head(key: str) -> str | None:
        try:
            client.head_object(Bucket=storage.bucket_name, Key=storage._normalize_name(clean_name(key)))
        except ClientError as exc:
            if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
                return None
            raise
        return key

    return {key for key in storage_readers().map(head, keys) if key is not None}


def storage_list(prefix: str, *, storage: Storage = default_storage) -> Iterator[tuple[str, datetime]]:
    """Every stored key under `prefix` with its last modification time (UTC)."""
    if isinstance(storage, S3Storage):
        client = storage.bucket.meta.client
        root = storage._normalize_name(clean_name(prefix))
        location = storage._normalize_name("")
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=storage.bucket_name, Prefix=root):
            for item in page.get("Contents", []):
                key = item["Key"]
                if location and key.startswith(location.rstrip("/") + "/"):
                    key = key[len(location.rstrip("/")) + 1 :]
                yield key, item["LastModified"]
        return
    base = storage.path("")  # type: ignore[attr-defined]
    top = os.path.join(base, prefix)
    for folder, _, files in os.walk(top):
        for name in files:
            path = os.path.join(folder, name)
            key = os.path.relpath(path, base).replace(os.sep, "/")
            yield key, datetime.fromtimestamp(os.path.getmtime(path), tz=UTC)
