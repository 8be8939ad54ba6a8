"""Storage for partial and merged report files: the local file system or S3.

Keys are built by the code from ids and hashes only, never from user text,
and always under `reports/`.
"""

import os
import tempfile

from django.core.files.storage import FileSystemStorage
from storages.backends.s3 import S3Storage


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
    """Private objects; every URL is signed and expires (AWS_QUERYSTRING_EXPIRE)."""

    default_acl = "private"
    querystring_auth = True
    file_overwrite = True
