"""The pipeline's real workers and storage (reports/tests/conftest.py), for the exports' tests too."""

from reports.tests.conftest import (  # noqa: F401  (fixtures)
    report_storage,
    s3_server,
    storage_env,
    worker_pool,
    workers,
)
