"""The pipeline tests' fixtures live in tests/pipeline.py (a plugin of the root conftest, one per session).

The names below are re-exported for the test modules that import them from here.
"""

import pytest

from tests.pipeline import (  # noqa: F401  (re-exported)
    PRODUCTION,
    REPO,
    Path,
    Workers,
    free_port,
    port_open,
    report_storage_point,
    s3_bucket_create,
    wait_for,
)


@pytest.fixture(autouse=True)
def report_storage(settings, storage_env):
    """Point this process's default storage where the workers write."""
    return report_storage_point(settings, storage_env)
